package taskboard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
)

// TestMain fails the run when goroutines started by the tests outlive them.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if n, stacks := settleGoroutines(base, 10*time.Second); n > base {
			fmt.Fprintf(os.Stderr, "goroutine leak: %d goroutines after the tests, want at most %d\n%s\n", n, base, stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// settleGoroutines waits until at most want goroutines run, or until the
// timeout. It returns the last count and, when that is over want, every
// goroutine's stack.
func settleGoroutines(want int, timeout time.Duration) (int, string) {
	deadline := time.After(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return n, ""
		}
		select {
		case <-tick.C:
		case <-deadline:
			buf := make([]byte, 1<<20)
			return n, string(buf[:runtime.Stack(buf, true)])
		}
	}
}

// The demo data's identifiers.
const (
	alice        = demo.Alice
	bob          = demo.Bob
	board1       = demo.Board
	listTodo     = "list-todo"
	listProgress = "list-progress"
	listDone     = "list-done"
)

// waitFor bounds every wait of the tests.
const waitFor = 20 * time.Second

// openStore opens a store over dsn, closed when t ends.
func openStore(t testing.TB, dsn string, opts *taskboard.Options) *taskboard.Board {
	t.Helper()
	b, err := taskboard.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// fixture is a store holding the demo data (Alice and Bob, members of
// board-1) and Carol, who is a member of no board.
type fixture struct {
	b     *taskboard.Board
	ctx   context.Context
	carol string
}

func newFixture(t testing.TB, dsn string, opts *taskboard.Options) *fixture {
	t.Helper()
	f := &fixture{b: openStore(t, dsn, opts), ctx: context.Background()}
	if ok, err := demo.Seed(f.ctx, f.b); err != nil || !ok {
		t.Fatalf("demo.Seed: got %v, %v; want true, nil", ok, err)
	}
	carol, err := f.b.CreateUser(f.ctx, taskboard.UserCreate{Name: "Carol", Email: "carol@example.com"})
	if err != nil {
		t.Fatalf("CreateUser(Carol): %v", err)
	}
	f.carol = carol.ID
	return f
}

// seq returns board's seq as seen by alice.
func (f *fixture) seq(t testing.TB, board string) int64 {
	t.Helper()
	seq, err := f.b.BoardSeq(f.ctx, taskboard.Actor{UserID: alice}, board)
	if err != nil {
		t.Fatalf("BoardSeq(%s): %v", board, err)
	}
	return seq
}

// newBoard creates a board of alice's with lists named names and returns
// the board's and the lists' ids.
func (f *fixture) newBoard(t testing.TB, name string, names ...string) (string, []string) {
	t.Helper()
	board, err := f.b.CreateBoard(f.ctx, taskboard.Actor{UserID: alice}, name)
	if err != nil {
		t.Fatalf("CreateBoard(%q): %v", name, err)
	}
	var ids []string
	for _, n := range names {
		l, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board.ID, taskboard.ListCreate{Name: n})
		if err != nil {
			t.Fatalf("CreateList(%q): %v", n, err)
		}
		ids = append(ids, l.ID)
	}
	return board.ID, ids
}

// newTask creates a task at the end of list.
func (f *fixture) newTask(t testing.TB, list, title string) *taskboard.Task {
	t.Helper()
	task, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: list, Title: title})
	if err != nil {
		t.Fatalf("CreateTask(%q): %v", title, err)
	}
	return task
}

// taskIDs returns the ids of list's tasks in position order, checking
// that the positions are 0..n-1.
func (f *fixture) taskIDs(t testing.TB, board, list string) []string {
	t.Helper()
	tasks, _, err := f.b.Tasks(f.ctx, taskboard.Actor{UserID: alice}, board)
	if err != nil {
		t.Fatalf("Tasks(%s): %v", board, err)
	}
	ids := []string{}
	for _, task := range tasks {
		if task.ListID != list {
			continue
		}
		if task.Position != len(ids) {
			t.Fatalf("Tasks(%s): task %s of list %s has position %d, want %d", board, task.ID, list, task.Position, len(ids))
		}
		ids = append(ids, task.ID)
	}
	return ids
}

// subscribe subscribes user to board after seq after (-1: from now),
// failing t on an error; the subscription is closed when t ends.
func (f *fixture) subscribe(t testing.TB, user, board string, after int64) *taskboard.Subscription {
	t.Helper()
	sub, err := f.b.Subscribe(f.ctx, taskboard.Actor{UserID: user}, board, after)
	if err != nil {
		t.Fatalf("Subscribe(%s, %s, %d): %v", user, board, after, err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// subscribePush subscribes user to board after seq after (-1: from now)
// as a push subscription without Ready, read with Next; it is closed when
// t ends.
func (f *fixture) subscribePush(t testing.TB, user, board string, after int64) (*taskboard.Subscription, seam.Reader[taskboard.Event]) {
	t.Helper()
	var req seam.Push[taskboard.Event]
	sub, err := f.b.Subscribe(seam.WithPush(f.ctx, &req), taskboard.Actor{UserID: user}, board, after)
	if err != nil {
		t.Fatalf("Subscribe(%s, %s, %d) for push: %v", user, board, after, err)
	}
	t.Cleanup(sub.Close)
	return sub, req.Reader
}

// nextEvent returns the next event of sub's channel, failing t when none
// comes in time or the channel closes.
func nextEvent(t testing.TB, sub *taskboard.Subscription) taskboard.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatalf("Events: closed (Err %v), want an event", sub.Err())
		}
		return ev
	case <-time.After(waitFor):
		t.Fatalf("Events: nothing within %v", waitFor)
	}
	panic("unreachable")
}

// nextErr waits for sub's channel to close and returns Err, failing t
// when an event comes first or nothing comes in time.
func nextErr(t testing.TB, sub *taskboard.Subscription) error {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if ok {
			t.Fatalf("Events: got event %d %s, want the channel closed", ev.Seq, ev.Type)
		}
		return sub.Err()
	case <-time.After(waitFor):
		t.Fatalf("Events: neither an event nor the end within %v", waitFor)
	}
	panic("unreachable")
}

// drain returns the events of sub's channel until it closes, failing t
// when that takes longer than waitFor.
func drain(t testing.TB, sub *taskboard.Subscription) []taskboard.Event {
	t.Helper()
	deadline := time.After(waitFor)
	var events []taskboard.Event
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return events
			}
			events = append(events, ev)
		case <-deadline:
			t.Fatalf("Events: not closed within %v (%d events received)", waitFor, len(events))
		}
	}
}

// waitUntil waits until cond holds, failing t when it does not within
// waitFor; what names the condition.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitFor, what)
		}
		<-tick.C
	}
}

// pushNext returns r's next event, failing t when none comes in time.
func pushNext(t testing.TB, r seam.Reader[taskboard.Event]) taskboard.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ev, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("Next: got error %v, want an event", err)
	}
	return ev
}

// pushErr returns the error that ends r, failing t when an event comes
// first or nothing comes in time.
func pushErr(t testing.TB, r seam.Reader[taskboard.Event]) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ev, err := r.Next(ctx)
	if err == nil {
		t.Fatalf("Next: got event %d %s, want the subscription to end", ev.Seq, ev.Type)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: got no event and no end within %v", waitFor)
	}
	return err
}

func envelope(t testing.TB, ev taskboard.Event) taskboard.Envelope {
	t.Helper()
	env, err := ev.Envelope()
	if err != nil {
		t.Fatalf("Envelope of event %d %s: %v (data %s)", ev.Seq, ev.Type, err, ev.Data)
	}
	return env
}

// eventsAfter returns every logged event of board after seq after.
func (f *fixture) eventsAfter(t testing.TB, board string, after int64) []taskboard.Event {
	t.Helper()
	var all []taskboard.Event
	for {
		p, err := f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: alice}, board, after, 0)
		if err != nil {
			t.Fatalf("EventsAfter(%s, %d): %v", board, after, err)
		}
		all = append(all, p.Events...)
		if !p.More {
			return all
		}
		after = p.Seq
	}
}

// wantEvents checks that events have the seqs from+1, from+2, … and the
// given types.
func wantEvents(t testing.TB, call string, events []taskboard.Event, from int64, types ...string) {
	t.Helper()
	var got []string
	for _, ev := range events {
		got = append(got, fmt.Sprintf("%d %s", ev.Seq, ev.Type))
	}
	var want []string
	for i, typ := range types {
		want = append(want, fmt.Sprintf("%d %s", from+1+int64(i), typ))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got events [%s], want [%s]", call, strings.Join(got, ", "), strings.Join(want, ", "))
	}
}

// wantErr checks that err matches want. For ErrNotFound detail is the
// NotFoundError's entity; for ErrInvalid it is a ValidationError's field.
func wantErr(t testing.TB, call string, err, want error, detail string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", call, err, want)
	}
	switch want {
	case taskboard.ErrNotFound:
		var nf *taskboard.NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("%s: got %T (%v), want a *NotFoundError", call, err, err)
		}
		if nf.Entity != detail {
			t.Fatalf("%s: got NotFoundError entity %q, want %q", call, nf.Entity, detail)
		}
	case taskboard.ErrInvalid:
		var ve *taskboard.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: got %T (%v), want a *ValidationError", call, err, err)
		}
		var fields []string
		for _, fe := range ve.Fields {
			fields = append(fields, strings.Join(fe.Path, "."))
		}
		if !slices.Contains(fields, detail) {
			t.Fatalf("%s: got invalid fields %q, want %q among them", call, fields, detail)
		}
	}
}

// wantReset checks that err is a *ResetError with reason and seq.
func wantReset(t testing.TB, call string, err, sentinel error, reason string, seq int64) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got error %v, want %v", call, err, sentinel)
	}
	var re *taskboard.ResetError
	if !errors.As(err, &re) {
		t.Fatalf("%s: got %T (%v), want a *ResetError", call, err, err)
	}
	if re.Reason != reason || re.Seq != seq {
		t.Fatalf("%s: got reset reason %q at seq %d, want %q at seq %d", call, re.Reason, re.Seq, reason, seq)
	}
}

func ptr[T any](v T) *T { return &v }
