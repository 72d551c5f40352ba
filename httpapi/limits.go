package httpapi

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// errTooManyConnections refuses a stream beyond Options.MaxConnectionsPerUser.
var errTooManyConnections = errors.New("httpapi: too many connections for this user")

// rateLimitedError refuses a write beyond Options.WriteRate, or a sign-in
// beyond Options.SessionRate.
type rateLimitedError struct {
	retryAfter time.Duration
	// what is limited: "write" or "session".
	what string
}

func (e *rateLimitedError) Error() string {
	return "httpapi: " + e.kind() + " rate exceeded; retry after " + e.retryAfter.String()
}

func (e *rateLimitedError) kind() string {
	if e.what == "" {
		return "write"
	}
	return e.what
}

// retryAfterSeconds formats a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// writeLimiter is a token bucket per key: a user's writes, a client
// address's or a token's sign-ins.
type writeLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	calls   int
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// newWriteLimiter returns a limiter of perSecond writes with burst, or nil
// (no limit) when perSecond is negative.
func newWriteLimiter(perSecond float64, burst int) *writeLimiter {
	if perSecond < 0 {
		return nil
	}
	return &writeLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: make(map[string]*bucket)}
}

// allow takes a token of userID's bucket, or reports how long until one is
// available.
func (l *writeLimiter) allow(userID string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.calls%1024 == 0 {
		// Forget users whose bucket has long been full again.
		for id, b := range l.buckets {
			if now.Sub(b.used) > time.Minute {
				delete(l.buckets, id)
			}
		}
	}
	b := l.buckets[userID]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[userID] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
