package taskboard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// groupOf queues the writes of fns while the store's writers are held, so
// that they commit in one transaction, in the order given, and returns
// each write's error.
func groupOf(t *testing.T, store *taskboard.Board, fns ...func() error) []error {
	t.Helper()
	release, queued := taskboard.HoldWrites(store)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
		// Queue them one after the other, in order.
		waitUntil(t, fmt.Sprintf("write %d queued", i), func() bool { return queued() == i+1 })
	}
	release()
	wg.Wait()
	return errs
}

// failingHook is a context whose write fails at its very end, after it
// changed its rows, with err.
func failingHook(ctx context.Context, err error) context.Context {
	return seam.WithTxHook(ctx, func(context.Context, bun.Tx) error { return err })
}

// TestGroupCommit checks the writes a SQLite store commits together: each
// is answered alone, a refused write changes nothing, a write that fails
// after changing rows is undone without taking the others with it, a write
// whose context ended while it waited is not run, and the log is gapless,
// in the order the writes were queued, for subscribers too.
func TestGroupCommit(t *testing.T) {
	f := newFixture(t, dbtest.SQLite(t), nil)
	actor := taskboard.Actor{UserID: alice}
	board, lists := f.newBoard(t, "group", "A", "B")
	task := f.newTask(t, lists[0], "moved")
	start, err := f.b.BoardSeq(f.ctx, actor, board)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := f.b.Subscribe(f.ctx, actor, board, start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	cancelled, cancel := context.WithCancel(f.ctx)
	create := func(ctx context.Context, title string) func() error {
		return func() error {
			_, err := f.b.CreateTask(ctx, actor, taskboard.TaskCreate{ListID: lists[1], Title: title})
			return err
		}
	}
	errBroken := errors.New("broken at the end")
	errs := groupOf(t, f.b,
		create(f.ctx, "one"),
		func() error { // refused before it changes anything
			_, err := f.b.MoveTask(f.ctx, actor, task.ID, taskboard.TaskMove{ListID: lists[1], IfVersion: 99})
			return err
		},
		create(failingHook(f.ctx, errBroken), "undone"),
		func() error {
			_, err := f.b.MoveTask(f.ctx, actor, task.ID, taskboard.TaskMove{ListID: lists[1], Position: ptr(0)})
			return err
		},
		create(failingHook(f.ctx, fmt.Errorf("refused late: %w", taskboard.ErrConflict)), "undone too"),
		func() error { cancel(); return create(cancelled, "never run")() },
		create(f.ctx, "two"),
	)
	want := []error{nil, taskboard.ErrPreconditionFailed, errBroken, nil, taskboard.ErrConflict, context.Canceled, nil}
	for i, err := range errs {
		if want[i] == nil && err != nil || want[i] != nil && !errors.Is(err, want[i]) {
			t.Errorf("write %d: got %v, want %v", i, err, want[i])
		}
	}

	tasks, _, err := f.b.Tasks(f.ctx, actor, board)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, tk := range tasks {
		if tk.ListID == lists[1] {
			titles = append(titles, fmt.Sprintf("%s@%d", tk.Title, tk.Position))
		}
	}
	if got, want := fmt.Sprint(titles), "[moved@0 one@1 two@2]"; got != want {
		t.Errorf("list B holds %s, want %s", got, want)
	}
	var got []string
	for len(got) < 3 {
		select {
		case ev := <-sub.Events():
			got = append(got, fmt.Sprintf("%d:%s", ev.Seq, ev.Type))
		case <-time.After(10 * time.Second):
			t.Fatalf("events so far %v; want 3", got)
		}
	}
	wantEvents := fmt.Sprint([]string{
		fmt.Sprintf("%d:task_created", start+1),
		fmt.Sprintf("%d:task_moved", start+2),
		fmt.Sprintf("%d:task_created", start+3),
	})
	if fmt.Sprint(got) != wantEvents {
		t.Errorf("events %v, want %s", got, wantEvents)
	}
	if seq, err := f.b.BoardSeq(f.ctx, actor, board); err != nil || seq != start+3 {
		t.Errorf("board seq %d (%v), want %d", seq, err, start+3)
	}
	// The store goes on writing after the group.
	if _, err := f.b.CreateTask(f.ctx, actor, taskboard.TaskCreate{ListID: lists[1], Title: "after"}); err != nil {
		t.Fatalf("write after the group: %v", err)
	}
}
