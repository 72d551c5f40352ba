package auth

import (
	"sync"
	"time"
)

// cache remembers recent successful authentications for a short time, so
// that a busy client does not cost a query per request. Revocations made
// through its Store clear it at once; those made elsewhere take effect
// within Options.CacheTTL.
type cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	p     Principal
	until time.Time
}

// maxCache bounds the cache; it is emptied when full.
const maxCache = 10000

func (c *cache) get(key string) (*Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.until) {
		return nil, false
	}
	p := e.p
	return &p, true
}

func (c *cache) put(key string, p *Principal, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCache {
		c.entries = make(map[string]cacheEntry)
	}
	until := time.Now().Add(ttl)
	if p.ExpiresAt != nil && p.ExpiresAt.Before(until) {
		// An expiring credential is not remembered past its end.
		until = *p.ExpiresAt
	}
	c.entries[key] = cacheEntry{p: *p, until: until}
}

func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
}
