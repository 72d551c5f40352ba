package main

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"
)

// Tracker checks one subscriber's view of one board's log: every seq after
// the start point must arrive exactly once and in order. It counts
// duplicates (a seq seen before, or at or before the start point) and
// out-of-order arrivals (a seq that arrives after a higher one); a seq that
// never arrives up to the board's final seq is lost. A Tracker is safe for
// concurrent use.
type Tracker struct {
	mu       sync.Mutex
	start    int64
	last     int64 // highest seq seen (or start)
	missing  map[int64]struct{}
	received int64
	dup      int64
	ooo      int64
}

// NewTracker returns a tracker that expects every seq after start.
func NewTracker(start int64) *Tracker {
	return &Tracker{start: start, last: start}
}

// Observe records the arrival of seq and reports whether it is new (not a
// duplicate).
func (t *Tracker) Observe(seq int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case seq == t.last+1:
		t.last = seq
	case seq > t.last+1:
		if t.missing == nil {
			t.missing = make(map[int64]struct{})
		}
		for s := t.last + 1; s < seq; s++ {
			t.missing[s] = struct{}{}
		}
		t.last = seq
	default:
		if _, ok := t.missing[seq]; ok && seq > t.start {
			delete(t.missing, seq)
			t.ooo++
			t.received++
			return true
		}
		t.dup++
		return false
	}
	t.received++
	return true
}

// Last returns the highest seq seen, or the start point: the point a
// client resumes after, as EventSource does with Last-Event-ID.
func (t *Tracker) Last() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// Accounting is a tracker's verdict against a board's final seq.
type Accounting struct {
	Received   int64 `json:"received"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	OutOfOrder int64 `json:"outOfOrder"`
	// Behind is 1 when the subscriber has not yet seen the final seq.
	Behind int64 `json:"behind"`
}

// Add adds b's counts to a.
func (a *Accounting) Add(b Accounting) {
	a.Received += b.Received
	a.Lost += b.Lost
	a.Duplicated += b.Duplicated
	a.OutOfOrder += b.OutOfOrder
	a.Behind += b.Behind
}

// Account returns the counts against the board's final seq: lost counts
// the seqs after the start point and up to final that never arrived.
func (t *Tracker) Account(final int64) Accounting {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := Accounting{Received: t.received, Duplicated: t.dup, OutOfOrder: t.ooo}
	for s := range t.missing {
		if s <= final {
			a.Lost++
		}
	}
	if t.last < final {
		a.Lost += final - t.last
		a.Behind = 1
	}
	return a
}

// eventStamp extracts the seq and the "at" time of a logged event's JSON
// envelope without decoding it whole: the envelope's first keys are type,
// seq, boardId, actorId and at, so the first "seq": and the first "at":"
// after it are the envelope's own. It falls back to encoding/json when the
// quick scan fails. ok is false for objects without a positive seq.
func eventStamp(data []byte) (seq int64, at time.Time, ok bool) {
	i := bytes.Index(data, []byte(`"seq":`))
	if i >= 0 {
		rest := data[i+len(`"seq":`):]
		n, used := parseInt(rest)
		if used > 0 {
			j := bytes.Index(rest[used:], []byte(`"at":"`))
			if j >= 0 {
				ts := rest[used+j+len(`"at":"`):]
				if k := bytes.IndexByte(ts, '"'); k > 0 {
					if t, good := parseRFC3339(ts[:k]); good {
						return n, t, n > 0
					}
				}
			}
			if n <= 0 {
				return 0, time.Time{}, false
			}
		}
	}
	var env struct {
		Seq int64     `json:"seq"`
		At  time.Time `json:"at"`
	}
	if json.Unmarshal(data, &env) != nil || env.Seq <= 0 {
		return 0, time.Time{}, false
	}
	return env.Seq, env.At, true
}

// parseInt parses the non-negative decimal integer at the start of b,
// after optional spaces, and returns it with the number of bytes used (0
// when b does not start with a digit).
func parseInt(b []byte) (int64, int) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 18 {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == start {
		return 0, 0
	}
	return n, i
}

// parseRFC3339 parses the UTC form that Go's time.Time marshals to,
// "2006-01-02T15:04:05.999999999Z", without allocating; other forms go
// through time.Parse.
func parseRFC3339(b []byte) (time.Time, bool) {
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if len(b) >= 20 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[len(b)-1] == 'Z' {
		y, ok1 := num(b[0:4])
		mo, ok2 := num(b[5:7])
		d, ok3 := num(b[8:10])
		h, ok4 := num(b[11:13])
		mi, ok5 := num(b[14:16])
		s, ok6 := num(b[17:19])
		nsec := 0
		ok7 := true
		if frac := b[19 : len(b)-1]; len(frac) > 0 {
			if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
				ok7 = false
			} else {
				n, good := num(frac[1:])
				ok7 = good
				for i := len(frac) - 1; i < 9; i++ {
					n *= 10
				}
				nsec = n
			}
		}
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 {
			return time.Date(y, time.Month(mo), d, h, mi, s, nsec, time.UTC), true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// messageType returns the value of a JSON object's "type" key, read
// without allocating when the object starts with it, or nil.
func messageType(data []byte) []byte {
	const prefix = `{"type":"`
	if !bytes.HasPrefix(data, []byte(prefix)) {
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &m) != nil {
			return nil
		}
		return []byte(m.Type)
	}
	rest := data[len(prefix):]
	if i := bytes.IndexByte(rest, '"'); i >= 0 {
		return rest[:i]
	}
	return nil
}
