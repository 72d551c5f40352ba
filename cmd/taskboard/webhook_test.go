package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard/internal/dbtest"
)

// hookLog is a webhook receiver that acknowledges every delivery and
// records the seqs in the order received.
type hookLog struct {
	mu   sync.Mutex
	seqs []int64
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var env struct{ Seq int64 }
	json.Unmarshal(body, &env)
	h.mu.Lock()
	h.seqs = append(h.seqs, env.Seq)
	h.mu.Unlock()
}

func (h *hookLog) got() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.seqs...)
}

// TestWebhookSurvivesKill SIGKILLs the server delivering a webhook while
// writers write; a restarted server (SQLite) or the other instance
// (PostgreSQL) goes on: the receiver gets every event after the webhook's
// creation, in order, a repeat of what was not written down excepted.
func TestWebhookSurvivesKill(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dsn := e.DSN(t)
			if e.Name == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "board.db")
			}
			dir := t.TempDir()
			addr := freeAddr(t)
			hookArgs := []string{"--db", dsn, "--log-level", "warn", "--write-rate", "-1", "--webhook-allow-private", "--webhook-timeout", "1s"}
			args := append([]string{"serve", "--addr", addr, "--demo"}, hookArgs...)
			s := startServer(t, dir, addr, nil, args...)
			token := s.demoTokens()["user-alice"]
			rc := &hookLog{}
			recv := httptest.NewServer(rc)
			defer recv.Close()

			req, _ := http.NewRequest("POST", s.url+"/boards/board-1/webhooks", strings.NewReader(`{"url":"`+recv.URL+`"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != http.StatusCreated {
				t.Fatalf("POST webhooks: %v %v", res, err)
			}
			res.Body.Close()
			from := s.seq(t, token)
			var other *server
			if e.Name == "postgres" {
				addrB := freeAddr(t)
				other = startServer(t, dir, addrB, nil, append([]string{"serve", "--addr", addrB}, hookArgs...)...)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a := &acked{moved: map[string]int64{}}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() { defer wg.Done(); writeLoad(ctx, s.url, token, w, a) }()
			}
			waitFor(t, "deliveries under write load", 60*time.Second, func() bool { return len(rc.got()) >= 50 })
			s.cmd.Process.Kill()
			<-s.exited
			cancel()
			wg.Wait()
			if other == nil {
				other = startServer(t, dir, addr, nil, args...)
			}
			other.move(t, token, 1)
			to := other.seq(t, token)
			waitFor(t, "every event delivered", 60*time.Second, func() bool {
				got := rc.got()
				return len(got) > 0 && got[len(got)-1] == to
			})
			got := rc.got()
			next := from + 1
			for i, seq := range got {
				// Each delivery is the next event, or goes back to
				// repeat what the killed server had not written down.
				if i > 0 && seq != got[i-1]+1 && seq > got[i-1] {
					t.Fatalf("delivery %d: seq %d after %d", i, seq, got[i-1])
				}
				if seq == next {
					next++
				} else if seq > next || seq <= from {
					t.Fatalf("delivery %d: seq %d, want at most %d (got %v)", i, seq, next, got)
				}
			}
			if next != to+1 {
				t.Fatalf("delivered up to %d, want %d", next-1, to)
			}
			t.Logf("%d deliveries for seqs %d..%d", len(got), from+1, to)
		})
	}
}
