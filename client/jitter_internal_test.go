package client

import (
	"testing"
	"time"
)

// Waits are drawn from [0, min(30s, base·2^attempt)) and spread over it.
func TestJitter(t *testing.T) {
	c, err := New("http://127.0.0.1:1", WithBackoff(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for attempt, ceil := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		var low, high bool
		for range 1000 {
			d := c.jitter(attempt)
			if d < 0 || d >= ceil {
				t.Fatalf("attempt %d: wait %v outside [0, %v)", attempt, d, ceil)
			}
			low = low || d < ceil/4
			high = high || d > ceil*3/4
		}
		if !low || !high {
			t.Fatalf("attempt %d: 1000 waits never below %v or above %v", attempt, ceil/4, ceil*3/4)
		}
	}
	for range 100 {
		if d := c.jitter(40); d >= 30*time.Second {
			t.Fatalf("attempt 40: wait %v, want under 30s", d)
		}
	}
}
