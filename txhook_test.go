package taskboard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// settingHook returns a transaction hook that writes the settings row key,
// then fails with fail when it is not nil, and counts its runs.
func settingHook(key string, fail error, runs *int) seam.TxHookFunc {
	return func(ctx context.Context, tx bun.Tx) error {
		*runs++
		if _, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?)", key, "x"); err != nil {
			return err
		}
		return fail
	}
}

// hasSetting reports whether the settings row key is in the database.
func (f *fixture) hasSetting(t *testing.T, key string) bool {
	t.Helper()
	ok, err := seam.DB(f.b).NewSelect().Table("settings").Where("key = ?", key).Exists(f.ctx)
	if err != nil {
		t.Fatalf("read settings: %v", err)
	}
	return ok
}

// TestTxHook checks that a write made with seam.WithTxHook runs the hook in
// its own transaction: what the hook writes commits with the write, a
// failing hook rolls the write back, and a failing write rolls back what the
// hook wrote.
func TestTxHook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		a := taskboard.Actor{UserID: alice}
		errHook := errors.New("hook failed")

		// A board write commits the hook's row with its event.
		runs := 0
		seq := f.seq(t, board1)
		title := "Hooked"
		task, err := f.b.UpdateTask(seam.WithTxHook(f.ctx, settingHook("ok", nil, &runs)), a, "task-1", taskboard.TaskUpdate{Title: &title})
		if err != nil || task.Title != title {
			t.Fatalf("UpdateTask with a hook: got %v, %v", task, err)
		}
		if runs != 1 || !f.hasSetting(t, "ok") {
			t.Fatalf("UpdateTask with a hook: the hook ran %d times, its row stored: %v; want once, stored", runs, f.hasSetting(t, "ok"))
		}
		if got := f.seq(t, board1); got != seq+1 {
			t.Fatalf("UpdateTask with a hook: seq %d, want %d", got, seq+1)
		}
		seq++

		// The hook sees the write whole: its event and the board's new seq.
		var seenSeq, seenEvents int64
		seenHook := func(ctx context.Context, tx bun.Tx) error {
			if err := tx.NewSelect().Table("boards").Column("seq").Where("id = ?", board1).Scan(ctx, &seenSeq); err != nil {
				return err
			}
			n, err := tx.NewSelect().Table("events").Where("board_id = ? AND seq = ?", board1, seq+1).Count(ctx)
			seenEvents = int64(n)
			return err
		}
		if _, err := f.b.MoveTask(seam.WithTxHook(f.ctx, seenHook), a, "task-2", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask with a hook: %v", err)
		}
		seq++
		if seenSeq != seq || seenEvents != 1 {
			t.Fatalf("the hook saw seq %d and %d events of seq %d, want seq %d and its event", seenSeq, seenEvents, seq, seq)
		}

		// A failing hook rolls the write back: no change, no event.
		runs = 0
		other := "Never stored"
		_, err = f.b.UpdateTask(seam.WithTxHook(f.ctx, settingHook("failed", errHook, &runs)), a, "task-1", taskboard.TaskUpdate{Title: &other})
		if !errors.Is(err, errHook) {
			t.Fatalf("UpdateTask with a failing hook: got %v, want the hook's error", err)
		}
		if runs != 1 || f.hasSetting(t, "failed") {
			t.Fatalf("UpdateTask with a failing hook: ran %d times, row stored %v; want once, rolled back", runs, f.hasSetting(t, "failed"))
		}
		if got := f.seq(t, board1); got != seq {
			t.Fatalf("UpdateTask with a failing hook: seq %d, want %d", got, seq)
		}
		if got, err := f.b.Task(f.ctx, a, "task-1"); err != nil || got.Title != title {
			t.Fatalf("Task after a failing hook: got %v, %v; want title %q", got, err, title)
		}
		wantEvents(t, "EventsAfter", f.eventsAfter(t, board1, seq-1), seq-1, taskboard.EventTaskMoved)

		// A write that fails (its precondition) stores nothing of the hook.
		runs = 0
		_, err = f.b.UpdateTask(seam.WithTxHook(f.ctx, settingHook("precondition", nil, &runs)), a, "task-1", taskboard.TaskUpdate{Title: &other, IfVersion: 1})
		wantErr(t, "UpdateTask with a stale version", err, taskboard.ErrPreconditionFailed, "")
		if f.hasSetting(t, "precondition") {
			t.Fatalf("UpdateTask with a stale version: the hook's row was stored")
		}
		if got := f.seq(t, board1); got != seq {
			t.Fatalf("UpdateTask with a stale version: seq %d, want %d", got, seq)
		}

		// Writes that log no event run it too.
		runs = 0
		board, err := f.b.CreateBoard(seam.WithTxHook(f.ctx, settingHook("board", nil, &runs)), a, "Hooked board")
		if err != nil || runs != 1 || !f.hasSetting(t, "board") {
			t.Fatalf("CreateBoard with a hook: got %v, %v, %d runs, row stored %v; want a board, once, stored", board, err, runs, f.hasSetting(t, "board"))
		}
		before, err := f.b.Boards(f.ctx, a)
		if err != nil {
			t.Fatalf("Boards: %v", err)
		}
		_, err = f.b.CreateBoard(seam.WithTxHook(f.ctx, settingHook("no-board", errHook, &runs)), a, "Never created")
		if !errors.Is(err, errHook) || f.hasSetting(t, "no-board") {
			t.Fatalf("CreateBoard with a failing hook: got %v, row stored %v; want the hook's error, nothing stored", err, f.hasSetting(t, "no-board"))
		}
		if after, err := f.b.Boards(f.ctx, a); err != nil || len(after) != len(before) {
			t.Fatalf("Boards after a failing hook: got %d, %v; want %d", len(after), err, len(before))
		}
		_, err = f.b.CreateUser(seam.WithTxHook(f.ctx, settingHook("user", errHook, &runs)), taskboard.UserCreate{Name: "Hooked", Email: "hooked@example.com"})
		if !errors.Is(err, errHook) {
			t.Fatalf("CreateUser with a failing hook: got %v, want the hook's error", err)
		}
		if _, err := f.b.UserByEmail(f.ctx, "hooked@example.com"); !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("UserByEmail after a failing hook: got %v, want ErrNotFound", err)
		}

		// A nil hook removes one; a context without one runs none.
		runs = 0
		ctx := seam.WithTxHook(seam.WithTxHook(f.ctx, settingHook("removed", nil, &runs)), nil)
		if _, err := f.b.CreateBoard(ctx, a, "Unhooked"); err != nil || runs != 0 {
			t.Fatalf("CreateBoard with the hook removed: got %v, %d runs; want no error, none", err, runs)
		}
	})
}

// TestTxHookResult checks that a write made with seam.WithResultTxHook hands
// its hook what it returns, final when the hook runs.
func TestTxHookResult(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		a := taskboard.Actor{UserID: alice}
		var seen []any
		hook := func(ctx context.Context, tx bun.Tx, result []any) error {
			seen = result
			return nil
		}
		ctx := seam.WithResultTxHook(f.ctx, hook)

		title := "Handed over"
		task, err := f.b.UpdateTask(ctx, a, "task-1", taskboard.TaskUpdate{Title: &title})
		if err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		if len(seen) != 1 || seen[0] != task || task.Title != title {
			t.Fatalf("UpdateTask: the hook saw %v, want the task it returned (%p)", seen, task)
		}

		seen = nil
		m, added, err := f.b.AddMember(ctx, a, board1, taskboard.MemberRef{UserID: f.carol})
		if err != nil || !added {
			t.Fatalf("AddMember: got %v, %v, %v", m, added, err)
		}
		if len(seen) != 2 || *seen[0].(*taskboard.Member) != *m || !*seen[1].(*bool) {
			t.Fatalf("AddMember: the hook saw %v, want the member and true", seen)
		}

		seen = nil
		board, err := f.b.CreateBoard(ctx, a, "Handed board")
		if err != nil {
			t.Fatalf("CreateBoard: %v", err)
		}
		if len(seen) != 1 || seen[0] != board {
			t.Fatalf("CreateBoard: the hook saw %v, want the board it returned", seen)
		}

		// A write that returns nothing hands nothing over.
		seen = []any{"stale"}
		if err := f.b.DeleteTask(seam.WithResultTxHook(f.ctx, hook), a, "task-2", taskboard.TaskDelete{}); err != nil {
			t.Fatalf("DeleteTask: %v", err)
		}
		if seen != nil {
			t.Fatalf("DeleteTask: the hook saw %v, want nothing", seen)
		}
	})
}
