package taskboard_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
)

// BenchmarkWebhooks100 delivers one board's events to 100 webhooks of a
// loopback receiver while a writer creates tasks at 50 a second: b.N
// events, so -benchtime=500x is 10 s of writes. It reports deliveries per
// second over the whole run and the time from each event's commit (its
// "at", set in the write's transaction) to its receipt, p50 and p99 over
// every delivery. Every webhook must receive every event. A board may
// have 20 webhooks; the benchmark lifts that limit.
func BenchmarkWebhooks100(b *testing.B) {
	defer taskboard.SetMaxWebhooksPerBoard(100)()
	benchEach(b, func(b *testing.B, dsn string) {
		const hooks, rate = 100, 50
		// The server's defaults (a 10 s timeout, retries from 1 s), to
		// loopback.
		opts := taskboard.Options{Webhooks: true, WebhookAllowPrivate: true, MaintenanceInterval: -1}
		f := newFixture(b, dsn, &opts)
		board, lists := f.newBoard(b, "Hooks", "Todo")

		var mu sync.Mutex
		var latencies []time.Duration
		var received atomic.Int64
		done := make(chan struct{})
		var closeDone sync.Once
		total := int64(hooks * b.N)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			at := time.Now()
			var ev struct {
				At time.Time `json:"at"`
			}
			if err != nil || json.Unmarshal(body, &ev) != nil {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			mu.Lock()
			latencies = append(latencies, at.Sub(ev.At))
			mu.Unlock()
			if received.Add(1) == total {
				closeDone.Do(func() { close(done) })
			}
		}))
		defer srv.Close()
		for i := range hooks {
			in := taskboard.WebhookCreate{URL: fmt.Sprintf("%s/h/%d", srv.URL, i), Events: []string{taskboard.EventTaskCreated}}
			if _, err := f.b.CreateWebhook(f.ctx, taskboard.Actor{UserID: alice}, board, in); err != nil {
				b.Fatalf("CreateWebhook: %v", err)
			}
		}

		b.ResetTimer()
		began := time.Now()
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for i := 0; i < b.N; i++ {
			<-tick.C
			if _, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: lists[0], Title: fmt.Sprint("task ", i)}); err != nil {
				b.Fatalf("CreateTask: %v", err)
			}
		}
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			b.Fatalf("%d of %d deliveries after 2 minutes", received.Load(), total)
		}
		elapsed := time.Since(began)
		b.StopTimer()

		mu.Lock()
		slices.Sort(latencies)
		p := func(q float64) float64 {
			return float64(latencies[int(q*float64(len(latencies)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(p(0.5), "p50-ms")
		b.ReportMetric(p(0.99), "p99-ms")
		b.ReportMetric(p(1), "max-ms")
		mu.Unlock()
	})
}
