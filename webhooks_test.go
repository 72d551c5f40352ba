package taskboard_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
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
		WebhookTimeout:      2 * time.Second,
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
		f.writeTasks(t, lists[0], 4, 30)
		to := f.seq(t, board)
		got := rc.waitSeq(to)
		f.wantRun(t, board, got, from, to, false)
		// Nothing before the webhook was made.
		if got[0].Seq != from+1 {
			t.Fatalf("first delivery %s, want seq %d", got[0].ID, from+1)
		}
		// The latest 100 attempts are kept, newest first.
		waitUntil(t, "the attempts recorded", func() bool {
			a, err := f.b.WebhookDeliveries(f.ctx, taskboard.Actor{UserID: alice}, h.ID, 0)
			return err == nil && len(a) == 100 && a[0].Seq == to && a[99].Seq == to-99 && a[0].StatusCode != nil && *a[0].StatusCode == 204 && a[0].Error == nil
		})
		kept, err := seam.DB(f.b).NewSelect().Table("webhook_attempts").Where("webhook_id = ?", h.ID).Count(f.ctx)
		if err != nil || kept != 100 {
			t.Fatalf("attempts kept: %d, %v; want 100", kept, err)
		}
		st := f.b.Stats()
		if st.WebhookDeliveries < to-from {
			t.Fatalf("Stats: WebhookDeliveries %d, want at least %d", st.WebhookDeliveries, to-from)
		}
	})
}

func TestWebhookReceiverFailsThenRecovers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		opts := hookOpts()
		opts.WebhookTimeout = time.Second // for the receiver that does not answer
		f := newFixture(t, dsn, opts)
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

func TestWebhookSurvivesRestartAndCrash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		b1, err := taskboard.Open(ctx, dsn, hookOpts())
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{b: b1, ctx: ctx}
		if ok, err := demo.Seed(ctx, b1); err != nil || !ok {
			t.Fatalf("demo.Seed: %v %v", ok, err)
		}
		board, lists := f.newBoard(t, "Hooks", "Todo")
		rc := newReceiver(t)
		f.addHook(t, board, rc)
		from := f.seq(t, board)
		f.writeTasks(t, lists[0], 4, 5)
		mid := f.seq(t, board)
		// Closed mid-stream: its progress is written.
		rc.wait("a first delivery", func(got []received, _ int) bool { return len(got) > 0 })
		if err := b1.Close(); err != nil {
			t.Fatal(err)
		}
		f.b = openStore(t, dsn, hookOpts())
		f.writeTasks(t, lists[0], 2, 5)
		mid2 := f.seq(t, board)
		rc.waitSeq(mid)
		// A crash: nothing written since the last flush, the lease held
		// until it expires; the next process repeats what it must.
		rc.wait("a delivery after the restart", func(got []received, _ int) bool {
			return slices.ContainsFunc(got, func(r received) bool { return r.Seq > mid })
		})
		taskboard.AbandonWebhooks(f.b)
		f.b = openStore(t, dsn, hookOpts())
		f.writeTasks(t, lists[0], 1, 3)
		to := f.seq(t, board)
		got := rc.waitSeq(to)
		f.wantRun(t, board, got, from, to, true)
		_ = mid2
	})
}

func TestWebhookTakeoverPostgres(t *testing.T) {
	dsn := dbtest.Postgres(t)
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "close", true: "crash"}[crash], func(t *testing.T) {
			dsn := dsn
			f := newFixture(t, dsn, hookOpts())
			board, lists := f.newBoard(t, "Hooks", "Todo")
			rc := newReceiver(t)
			f.addHook(t, board, rc)
			from := f.seq(t, board)
			f.newTask(t, lists[0], "first")
			rc.waitSeq(from + 1)
			// A second instance, which writes too; the first one goes.
			b2 := openStore(t, dsn, hookOpts())
			other := &fixture{b: b2, ctx: f.ctx}
			other.writeTasks(t, lists[0], 2, 5)
			if crash {
				taskboard.AbandonWebhooks(f.b)
			} else if err := f.b.Close(); err != nil {
				t.Fatal(err)
			}
			other.writeTasks(t, lists[0], 2, 5)
			to := other.seq(t, board)
			got := rc.waitSeq(to)
			other.wantRun(t, board, got, from, to, crash)
			if st := b2.Stats(); st.WebhookDeliveries == 0 {
				t.Fatalf("the second instance delivered nothing: %+v", st)
			}
		})
		// The next run starts with a fresh database.
		dsn = dbtest.Postgres(t)
	}
}

func TestWebhookFilterPauseReplay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, hookOpts())
		alice := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "Hooks", "Todo")
		rc := newReceiver(t)
		h := f.addHook(t, board, rc, taskboard.EventListCreated, taskboard.EventListCreated)
		if !slices.Equal(h.Events, []string{taskboard.EventListCreated}) {
			t.Fatalf("Events: got %v", h.Events)
		}
		from := f.seq(t, board)
		f.newTask(t, lists[0], "not delivered")
		f.newBoard(t, "Other", "Elsewhere")
		l, err := f.b.CreateList(f.ctx, alice, board, taskboard.ListCreate{Name: "Delivered"})
		if err != nil {
			t.Fatal(err)
		}
		got := rc.waitSeq(f.seq(t, board))
		f.wantRun(t, board, got, from, f.seq(t, board), false, taskboard.EventListCreated)

		// Paused: the cursor stays, and the events come once active.
		events := []string{taskboard.EventTaskCreated}
		paused := taskboard.WebhookPaused
		if h2, err := f.b.UpdateWebhook(f.ctx, alice, h.ID, taskboard.WebhookUpdate{Events: &events, Status: &paused}); err != nil || h2.Status != paused {
			t.Fatalf("UpdateWebhook(paused): %+v, %v", h2, err)
		}
		pauseSeq := f.seq(t, board)
		f.newTask(t, l.ID, "while paused 1")
		f.newTask(t, l.ID, "while paused 2")
		if n := len(rc.wait("nothing", func([]received, int) bool { return true })); n != len(got) {
			t.Fatalf("paused webhook delivered %d more", n-len(got))
		}
		active := taskboard.WebhookActive
		if _, err := f.b.UpdateWebhook(f.ctx, alice, h.ID, taskboard.WebhookUpdate{Status: &active}); err != nil {
			t.Fatal(err)
		}
		to := f.seq(t, board)
		all := rc.waitSeq(to)
		f.wantRun(t, board, all[len(got):], pauseSeq, to, false, taskboard.EventTaskCreated)

		// A replay sends the same ids again, from after.
		if _, err := f.b.ReplayWebhook(f.ctx, alice, h.ID, from); err != nil {
			t.Fatalf("ReplayWebhook: %v", err)
		}
		n := len(all)
		again := rc.wait("the replay", func(got []received, _ int) bool {
			return len(got) > n && got[len(got)-1].Seq == to
		})
		f.wantRun(t, board, again[n:], from, to, false, taskboard.EventTaskCreated)
		_, err = f.b.ReplayWebhook(f.ctx, alice, h.ID, to+1)
		wantErr(t, "ReplayWebhook(ahead)", err, taskboard.ErrInvalid, "after")
	})
}

func TestWebhookDisabledAfterFailureWindow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		opts := hookOpts()
		opts.WebhookDisableAfter = 200 * time.Millisecond
		f := newFixture(t, dsn, opts)
		alice := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "Hooks", "Todo")
		rc := newReceiver(t)
		rc.setAnswer(answer500)
		h := f.addHook(t, board, rc)
		from := f.seq(t, board)
		f.newTask(t, lists[0], "one")
		f.newTask(t, lists[0], "two")
		waitUntil(t, "the webhook disabled", func() bool {
			h, err := f.b.Webhook(f.ctx, alice, h.ID)
			return err == nil && h.Status == taskboard.WebhookDisabled
		})
		rc.setAnswer(answerOK)
		active := taskboard.WebhookActive
		if _, err := f.b.UpdateWebhook(f.ctx, alice, h.ID, taskboard.WebhookUpdate{Status: &active}); err != nil {
			t.Fatal(err)
		}
		f.newTask(t, lists[0], "three")
		to := f.seq(t, board)
		f.wantRun(t, board, rc.waitSeq(to), from, to, false)
	})
}

func TestWebhookBehindRetainedLog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		opts := hookOpts()
		opts.HistoryEvents, opts.HistoryAge = 1, time.Nanosecond
		f := newFixture(t, dsn, opts)
		alice := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "Hooks", "Todo")
		rc := newReceiver(t)
		h := f.addHook(t, board, rc)
		paused := taskboard.WebhookPaused
		if _, err := f.b.UpdateWebhook(f.ctx, alice, h.ID, taskboard.WebhookUpdate{Status: &paused}); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			f.newTask(t, lists[0], fmt.Sprint(i))
		}
		if err := f.b.Maintain(f.ctx); err != nil {
			t.Fatal(err)
		}
		seq := f.seq(t, board)
		active := taskboard.WebhookActive
		if _, err := f.b.UpdateWebhook(f.ctx, alice, h.ID, taskboard.WebhookUpdate{Status: &active}); err != nil {
			t.Fatal(err)
		}
		rc.wait("the reset", func(got []received, _ int) bool { return len(got) > 0 })
		f.newTask(t, lists[0], "after")
		got := rc.waitSeq(seq + 1)
		if len(got) != 2 || got[0].ID != fmt.Sprintf("%s:reset:%d", board, seq) || got[0].Type != "reset" {
			t.Fatalf("got %s, want the reset then seq %d", ids(got), seq+1)
		}
		var reset map[string]any
		json.Unmarshal(got[0].Body, &reset)
		if reset["reason"] != "history_truncated" || reset["boardId"] != board || reset["seq"] != float64(seq) {
			t.Fatalf("reset body %s", got[0].Body)
		}
	})
}

func TestWebhookRefusesForbiddenAddresses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, &taskboard.Options{Webhooks: true, WebhookTimeout: 500 * time.Millisecond, WebhookRetryMin: time.Millisecond})
		alice := taskboard.Actor{UserID: alice}
		for _, u := range []string{
			"http://127.0.0.1/hook", "http://10.1.2.3/hook", "http://[::1]:8080/hook",
			"http://169.254.169.254/latest/meta-data", "http://localhost:3000/hook",
			"http://[::ffff:127.0.0.1]/", "http://100.64.0.1/", "http://[fe80::1]/", "http://0.0.0.0/",
			"ftp://example.com/hook", "/relative", "",
		} {
			_, err := f.b.CreateWebhook(f.ctx, alice, board1, taskboard.WebhookCreate{URL: u})
			wantErr(t, "CreateWebhook("+u+")", err, taskboard.ErrInvalid, "url")
		}
		hooks, err := f.b.Webhooks(f.ctx, alice, board1)
		if err != nil || len(hooks) != 0 {
			t.Fatalf("Webhooks: %v, %v; want none", hooks, err)
		}
	})
}

// A webhook stored while private addresses were allowed is refused on
// the address dialled once they are not.
func TestWebhookRefusedAtDialTime(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, &taskboard.Options{WebhookAllowPrivate: true})
		rc := newReceiver(t)
		h := f.addHook(t, board1, rc)
		if err := f.b.Close(); err != nil {
			t.Fatal(err)
		}
		f.b = openStore(t, dsn, &taskboard.Options{Webhooks: true, WebhookTimeout: 500 * time.Millisecond, WebhookRetryMin: time.Millisecond})
		f.newTask(t, listTodo, "not sent")
		waitUntil(t, "a refused attempt", func() bool {
			a, err := f.b.WebhookDeliveries(f.ctx, taskboard.Actor{UserID: alice}, h.ID, 1)
			return err == nil && len(a) == 1 && a[0].Error != nil && strings.Contains(*a[0].Error, "forbidden destination")
		})
		if n := len(rc.wait("nothing", func([]received, int) bool { return true })); n != 0 {
			t.Fatalf("receiver got %d deliveries", n)
		}
	})
}

func TestWebhookManagement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, &taskboard.Options{WebhookAllowPrivate: true})
		alice, bobRO := taskboard.Actor{UserID: alice}, taskboard.Actor{UserID: bob, ReadOnly: true}
		carol := taskboard.Actor{UserID: f.carol}
		in := taskboard.WebhookCreate{URL: "http://127.0.0.1:9/hook"}
		_, err := f.b.CreateWebhook(f.ctx, carol, board1, in)
		wantErr(t, "CreateWebhook(non-member)", err, taskboard.ErrNotFound, "Board")
		_, err = f.b.CreateWebhook(f.ctx, bobRO, board1, in)
		wantErr(t, "CreateWebhook(read-only)", err, taskboard.ErrForbidden, "")
		_, err = f.b.CreateWebhook(f.ctx, alice, board1, taskboard.WebhookCreate{URL: in.URL, Events: []string{"user_typing"}})
		wantErr(t, "CreateWebhook(ephemeral type)", err, taskboard.ErrInvalid, "events")
		_, err = f.b.CreateWebhook(f.ctx, alice, board1, taskboard.WebhookCreate{URL: in.URL, Events: []string{}})
		wantErr(t, "CreateWebhook(no type)", err, taskboard.ErrInvalid, "events")
		var first *taskboard.Webhook
		for i := range taskboard.MaxWebhooksPerBoard {
			h, err := f.b.CreateWebhook(f.ctx, alice, board1, in)
			if err != nil {
				t.Fatalf("CreateWebhook %d: %v", i, err)
			}
			if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.Secret, "whsec_")); err != nil || len(key) != 32 {
				t.Fatalf("secret %q", h.Secret)
			}
			if first == nil {
				first = h
			}
		}
		_, err = f.b.CreateWebhook(f.ctx, alice, board1, in)
		wantErr(t, "CreateWebhook(21st)", err, taskboard.ErrInvalid, "url")
		hooks, err := f.b.Webhooks(f.ctx, alice, board1)
		if err != nil || len(hooks) != taskboard.MaxWebhooksPerBoard || hooks[0].ID != first.ID || hooks[0].Secret != "" {
			t.Fatalf("Webhooks: %d, %v", len(hooks), err)
		}
		_, err = f.b.Webhook(f.ctx, carol, first.ID)
		wantErr(t, "Webhook(non-member)", err, taskboard.ErrNotFound, "Webhook")
		desc := "renamed"
		_, err = f.b.UpdateWebhook(f.ctx, bobRO, first.ID, taskboard.WebhookUpdate{Description: &desc})
		wantErr(t, "UpdateWebhook(read-only)", err, taskboard.ErrForbidden, "")
		bad := "disabled"
		_, err = f.b.UpdateWebhook(f.ctx, alice, first.ID, taskboard.WebhookUpdate{Status: &bad})
		wantErr(t, "UpdateWebhook(disabled)", err, taskboard.ErrInvalid, "status")
		var all []string
		h, err := f.b.UpdateWebhook(f.ctx, alice, first.ID, taskboard.WebhookUpdate{Description: &desc, Events: &all})
		if err != nil || h.Description != desc || h.Events != nil {
			t.Fatalf("UpdateWebhook: %+v, %v", h, err)
		}
		if err := f.b.DeleteWebhook(f.ctx, carol, first.ID); !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("DeleteWebhook(non-member): %v", err)
		}
		if err := f.b.DeleteWebhook(f.ctx, alice, first.ID); err != nil {
			t.Fatalf("DeleteWebhook: %v", err)
		}
		_, err = f.b.Webhook(f.ctx, alice, first.ID)
		wantErr(t, "Webhook(deleted)", err, taskboard.ErrNotFound, "Webhook")
		// The board's deletion takes its webhooks.
		if err := f.b.DeleteBoard(f.ctx, alice, board1); err != nil {
			t.Fatal(err)
		}
		_, err = f.b.Webhook(f.ctx, alice, hooks[1].ID)
		wantErr(t, "Webhook(board deleted)", err, taskboard.ErrNotFound, "Webhook")
	})
}

// A receiver that does not answer holds up its own webhook only.
func TestWebhookSlowReceiverDelaysNoOther(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		opts := hookOpts()
		opts.WebhookTimeout = time.Minute
		f := newFixture(t, dsn, opts)
		board, lists := f.newBoard(t, "Hooks", "Todo")
		release := make(chan struct{})
		var held atomic.Int32
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			held.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer slow.Close()
		defer close(release)
		if _, err := f.b.CreateWebhook(f.ctx, taskboard.Actor{UserID: alice}, board, taskboard.WebhookCreate{URL: slow.URL}); err != nil {
			t.Fatal(err)
		}
		rc := newReceiver(t)
		f.addHook(t, board, rc)
		from := f.seq(t, board)
		f.writeTasks(t, lists[0], 2, 10)
		to := f.seq(t, board)
		f.wantRun(t, board, rc.waitSeq(to), from, to, false)
		if n := held.Load(); n != 1 {
			t.Fatalf("the slow receiver got %d requests, want the first one, held", n)
		}
		// Writes go on too.
		f.newTask(t, lists[0], "still writing")
	})
}
