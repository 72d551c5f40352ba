package taskboard_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// Receiver answers for the receivers of these tests.
const (
	answerOK   = iota
	answer500  // 500 Internal Server Error
	answerHang // no answer until the sender gives up
)

// receiver is a webhook receiver on loopback. It checks every delivery's
// signature with its own implementation of the Standard Webhooks scheme,
// and records the acknowledged deliveries in the order received.
type receiver struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	secret  string
	answers []int // the answers to give next, one per request; then answer
	answer  int
	got     []received
	bad     []string // what failed the checks
	tried   int      // requests received
	changed chan struct{}
}

// received is one acknowledged delivery.
type received struct {
	ID   string
	Seq  int64
	Type string
	Body []byte
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, changed: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// serveOn starts rc's server on addr (a port freed earlier).
func newReceiverOn(t testing.TB, addr string) *receiver {
	rc := &receiver{t: t, changed: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	rc.srv.Listener.Close()
	rc.srv.Listener = ln
	rc.srv.Start()
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url() string { return rc.srv.URL + "/hook" }

func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = s
}

// then makes rc give answers to the next requests, in order.
func (rc *receiver) then(answers ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answers = append(rc.answers, answers...)
}

func (rc *receiver) setAnswer(a int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = a
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.tried++
	answer := rc.answer
	if len(rc.answers) > 0 {
		answer, rc.answers = rc.answers[0], rc.answers[1:]
	}
	if err == nil && answer == answerOK {
		if problem := rc.check(r, body); problem != "" {
			rc.bad = append(rc.bad, problem)
		}
		var env struct {
			Type string `json:"type"`
			Seq  int64  `json:"seq"`
		}
		json.Unmarshal(body, &env)
		rc.got = append(rc.got, received{ID: r.Header.Get("webhook-id"), Seq: env.Seq, Type: env.Type, Body: body})
	}
	rc.mu.Unlock()
	select {
	case rc.changed <- struct{}{}:
	default:
	}
	switch answer {
	case answer500:
		http.Error(w, strings.Repeat("x", 4096), http.StatusInternalServerError)
	case answerHang:
		<-r.Context().Done()
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// check verifies a delivery as the Standard Webhooks specification says,
// written here from the specification rather than with package webhook.
func (rc *receiver) check(r *http.Request, body []byte) string {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		return fmt.Sprintf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	id, ts, sigs := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return "webhook-timestamp " + ts
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(rc.secret, "whsec_"))
	if err != nil || len(key) != 32 {
		return "secret " + rc.secret
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !slices.Contains(strings.Fields(sigs), want) {
		return fmt.Sprintf("webhook-signature %q of %s, want %q", sigs, id, want)
	}
	return ""
}

// wait waits until cond holds for what rc received.
func (rc *receiver) wait(what string, cond func(got []received, tried int) bool) []received {
	rc.t.Helper()
	deadline := time.After(waitFor)
	for {
		rc.mu.Lock()
		got, tried, bad := slices.Clone(rc.got), rc.tried, slices.Clone(rc.bad)
		rc.mu.Unlock()
		if len(bad) > 0 {
			rc.t.Fatalf("receiver: bad deliveries: %s", strings.Join(bad, "; "))
		}
		if cond(got, tried) {
			return got
		}
		select {
		case <-rc.changed:
		case <-deadline:
			rc.t.Fatalf("receiver: waited %v for %s; got %d deliveries after %d requests", waitFor, what, len(got), tried)
		}
	}
}

// waitSeq waits until rc has acknowledged events up to seq, and returns
// them.
func (rc *receiver) waitSeq(seq int64) []received {
	rc.t.Helper()
	return rc.wait(fmt.Sprintf("seq %d", seq), func(got []received, _ int) bool {
		return slices.ContainsFunc(got, func(r received) bool { return r.Seq == seq && r.Type != "reset" })
	})
}

// wantRun checks that got, once repeats are dropped, is the events of
// board from+1 to to, in seq order, each with the id and body of the log;
// repeats are allowed only when repeats is set.
func (f *fixture) wantRun(t testing.TB, board string, got []received, from, to int64, repeats bool, types ...string) {
	t.Helper()
	var firsts []received
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.ID] {
			if !repeats {
				t.Fatalf("delivery %s repeated", r.ID)
			}
			continue
		}
		seen[r.ID] = true
		firsts = append(firsts, r)
	}
	events := f.eventsAfter(t, board, from)
	var want []taskboard.Event
	for _, ev := range events {
		if ev.Seq <= to && (len(types) == 0 || slices.Contains(types, ev.Type)) {
			want = append(want, ev)
		}
	}
	if len(firsts) != len(want) {
		t.Fatalf("got %d deliveries (%s), want %d", len(firsts), ids(firsts), len(want))
	}
	for i, ev := range want {
		id := fmt.Sprintf("%s:%d", board, ev.Seq)
		if firsts[i].ID != id || string(firsts[i].Body) != string(ev.Data) {
			t.Fatalf("delivery %d: got %s %s, want %s %s", i, firsts[i].ID, firsts[i].Body, id, ev.Data)
		}
	}
	// In order, repeats included: a repeat goes back, and goes on again
	// in order.
	for i := 1; i < len(got); i++ {
		if got[i].Seq > got[i-1].Seq+1 && !slices.ContainsFunc(want, func(ev taskboard.Event) bool { return ev.Seq == got[i].Seq }) {
			t.Fatalf("delivery %s after %s", got[i].ID, got[i-1].ID)
		}
		if got[i].Seq <= got[i-1].Seq && !repeats {
			t.Fatalf("delivery %s after %s: out of order", got[i].ID, got[i-1].ID)
		}
	}
}

func ids(got []received) string {
	var s []string
	for _, r := range got {
		s = append(s, r.ID)
	}
	return strings.Join(s, " ")
}

// hookOpts are the options of a store delivering webhooks in the tests:
// to loopback, with short timeouts and retries.
func hookOpts() *taskboard.Options {
	return &taskboard.Options{
		Webhooks:            true,
		WebhookAllowPrivate: true,
		WebhookTimeout:      500 * time.Millisecond,
		WebhookRetryMin:     time.Millisecond,
	}
}

// addHook creates a webhook of alice's on board to rc.
func (f *fixture) addHook(t testing.TB, board string, rc *receiver, events ...string) *taskboard.Webhook {
	t.Helper()
	in := taskboard.WebhookCreate{URL: rc.url(), Description: "test"}
	if len(events) > 0 {
		in.Events = events
	}
	h, err := f.b.CreateWebhook(f.ctx, taskboard.Actor{UserID: alice}, board, in)
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	rc.setSecret(h.Secret)
	return h
}

// writeTasks creates n tasks in list from each of writers goroutines.
func (f *fixture) writeTasks(t testing.TB, list string, writers, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers*n)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				_, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: list, Title: fmt.Sprintf("w%d-%d", w, i)})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateTask: %v", err)
	}
}

func TestWebhookDeliversEveryEventInOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, hookOpts())
		board, lists := f.newBoard(t, "Hooks", "Todo")
		rc := newReceiver(t)
		h := f.addHook(t, board, rc)
		if !strings.HasPrefix(h.Secret, "whsec_") || h.Status != taskboard.WebhookActive || h.Events != nil {
			t.Fatalf("CreateWebhook: got %+v", h)
		}
		from := f.seq(t, board)
		f.writeTasks(t, lists[0], 4, 15)
		to := f.seq(t, board)
		got := rc.waitSeq(to)
		f.wantRun(t, board, got, from, to, false)
		// Nothing before the webhook was made.
		if got[0].Seq != from+1 {
			t.Fatalf("first delivery %s, want seq %d", got[0].ID, from+1)
		}
		waitUntil(t, "the attempts recorded", func() bool {
			a, err := f.b.WebhookDeliveries(f.ctx, taskboard.Actor{UserID: alice}, h.ID, 0)
			return err == nil && len(a) == int(to-from) && a[0].Seq == to && a[0].StatusCode != nil && *a[0].StatusCode == 204 && a[0].Error == nil
		})
		st := f.b.Stats()
		if st.WebhookDeliveries < to-from {
			t.Fatalf("Stats: WebhookDeliveries %d, want at least %d", st.WebhookDeliveries, to-from)
		}
	})
}

func TestWebhookReceiverFailsThenRecovers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, hookOpts())
		board, lists := f.newBoard(t, "Hooks", "Todo")
		// At first nobody listens at the webhook's address.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		h, err := f.b.CreateWebhook(f.ctx, taskboard.Actor{UserID: alice}, board, taskboard.WebhookCreate{URL: "http://" + addr + "/hook"})
		if err != nil {
			t.Fatalf("CreateWebhook: %v", err)
		}
		from := f.seq(t, board)
		f.writeTasks(t, lists[0], 4, 5)
		to := f.seq(t, board)
		attempts := func(cond func([]taskboard.WebhookAttempt) bool) {
			t.Helper()
			waitUntil(t, "attempts", func() bool {
				a, err := f.b.WebhookDeliveries(f.ctx, taskboard.Actor{UserID: alice}, h.ID, 0)
				return err == nil && cond(a)
			})
		}
		attempts(func(a []taskboard.WebhookAttempt) bool { return len(a) >= 2 })
		// Then it answers 500 three times, does not answer twice, and
		// recovers.
		rc := newReceiverOn(t, addr)
		rc.setSecret(h.Secret)
		rc.then(answer500, answer500, answer500, answerHang, answerHang)
		got := rc.waitSeq(to)
		f.wantRun(t, board, got, from, to, false)
		attempts(func(a []taskboard.WebhookAttempt) bool {
			var refused, status500, timeout, ok bool
			for _, x := range a {
				switch {
				case x.Error == nil:
					ok = true
				case x.StatusCode != nil && *x.StatusCode == 500:
					status500 = true
				case strings.Contains(*x.Error, "no answer within"):
					timeout = true
				case strings.Contains(*x.Error, "refused"):
					refused = true
				}
			}
			return refused && status500 && timeout && ok
		})
		a, _ := f.b.WebhookDeliveries(f.ctx, taskboard.Actor{UserID: alice}, h.ID, 0)
		last := a[len(a)-1]
		if last.Seq != from+1 || last.Attempt != 1 || last.StatusCode != nil {
			t.Fatalf("oldest attempt %+v, want seq %d attempt 1 without a status", last, from+1)
		}
		if st := f.b.Stats(); st.WebhookRetries == 0 || st.WebhookFailures == 0 {
			t.Fatalf("Stats: %+v, want retries and failures", st)
		}
	})
}
