package taskboard_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// allItems reads items of a until done says it has what it waits for,
// checking that each board's events come once and in seq order after
// the seq they started from (from, changed by resets). It returns the
// logged events per board and the resets.
type allReader struct {
	t      testing.TB
	a      *taskboard.AllBoards
	last   map[string]int64
	events map[string][]taskboard.Event
	resets []*taskboard.ResetError
}

func newAllReader(t testing.TB, a *taskboard.AllBoards, from map[string]int64) *allReader {
	r := &allReader{t: t, a: a, last: make(map[string]int64), events: make(map[string][]taskboard.Event)}
	for id, seq := range from {
		r.last[id] = seq
	}
	return r
}

// until reads until done reports true, failing the test after waitFor.
func (r *allReader) until(what string, done func() bool) {
	r.t.Helper()
	deadline := time.After(waitFor)
	for !done() {
		select {
		case it, ok := <-r.a.Events():
			if !ok {
				r.t.Fatalf("%s: Events closed (Err %v)", what, r.a.Err())
			}
			if it.Reset != nil {
				r.resets = append(r.resets, it.Reset)
				r.last[it.Reset.BoardID] = it.Reset.Seq
				continue
			}
			ev := it.Event
			if last, ok := r.last[ev.BoardID]; ok && ev.Seq != last+1 && ev.Type != taskboard.EventBoardDeleted {
				r.t.Fatalf("%s: board %s: got seq %d (%s) after %d", what, ev.BoardID, ev.Seq, ev.Type, last)
			}
			r.last[ev.BoardID] = ev.Seq
			r.events[ev.BoardID] = append(r.events[ev.BoardID], ev)
		case <-deadline:
			r.t.Fatalf("%s: not within %v; have %v, resets %v", what, waitFor, r.last, r.resets)
		}
	}
}

// reached reports whether board's events reached seq.
func (r *allReader) reached(board string, seq int64) func() bool {
	return func() bool { return r.last[board] >= seq && len(r.events[board]) > 0 }
}

func followAll(t testing.TB, b *taskboard.Board, cursor map[string]int64) *taskboard.AllBoards {
	t.Helper()
	a, err := b.FollowAll(context.Background(), cursor)
	if err != nil {
		t.Fatalf("FollowAll: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// TestFollowAllNewBoards follows every board without being a member: the
// writes of existing boards from now, and boards created and imported
// while it runs from their first event.
func TestFollowAllNewBoards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		start := f.seq(t, board1)
		a := followAll(t, f.b, nil)
		r := newAllReader(t, a, map[string]int64{board1: start})
		seq := f.rename(t, "renamed")
		r.until("board-1's write", r.reached(board1, seq))

		// Carol creates a board: nobody follows it but the feed.
		created, err := f.b.CreateBoard(f.ctx, taskboard.Actor{UserID: f.carol}, "Carol's")
		if err != nil {
			t.Fatalf("CreateBoard: %v", err)
		}
		for i := range 3 {
			if _, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: f.carol}, created.ID, taskboard.ListCreate{Name: fmt.Sprint("list ", i)}); err != nil {
				t.Fatalf("CreateList: %v", err)
			}
		}
		r.until("the new board's lists", r.reached(created.ID, 3))
		wantSeqs(t, "new board", r.events[created.ID], 1, 3)

		exp, err := f.b.Export(f.ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		snap, err := f.b.Import(f.ctx, taskboard.Actor{UserID: f.carol}, exp)
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		r.until("the imported board", r.reached(snap.Board.ID, 1))
		if got := r.events[snap.Board.ID][0].Type; got != taskboard.EventBoardImported {
			t.Errorf("imported board's first event: got %s, want %s", got, taskboard.EventBoardImported)
		}
		a.Close()
		cur := a.Cursor()
		if cur[board1] != seq || cur[created.ID] != 3 || cur[snap.Board.ID] != 1 {
			t.Errorf("Cursor: got %v, want %s:%d %s:3 %s:1", cur, board1, seq, created.ID, snap.Board.ID)
		}
		if _, ok := <-a.Events(); ok {
			t.Fatal("Events after Close: got an item, want the channel closed")
		}
		if !errors.Is(a.Err(), taskboard.ErrClosed) {
			t.Errorf("Err after Close: got %v, want ErrClosed", a.Err())
		}
	})
}

// TestFollowAllDeletedBoard: a board deleted while followed ends with its
// board_deleted and a reset; the others go on.
func TestFollowAllDeletedBoard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		doomed, _ := f.newBoard(t, "Doomed", "a", "b")
		a := followAll(t, f.b, nil)
		r := newAllReader(t, a, map[string]int64{board1: f.seq(t, board1), doomed: 2})
		if err := f.b.DeleteBoard(f.ctx, taskboard.Actor{UserID: alice}, doomed); err != nil {
			t.Fatalf("DeleteBoard: %v", err)
		}
		r.until("the reset", func() bool { return len(r.resets) > 0 })
		// board_deleted comes first unless the board went before the
		// feed's subscription of it started.
		if got := r.events[doomed]; len(got) > 1 || len(got) == 1 && got[0].Type != taskboard.EventBoardDeleted {
			t.Errorf("deleted board's events: got %v, want board_deleted at most", got)
		}
		if rs := r.resets[0]; rs.BoardID != doomed || rs.Reason != taskboard.ReasonBoardDeleted {
			t.Errorf("reset: got %+v, want board_deleted of %s", rs, doomed)
		}
		seq := f.rename(t, "after")
		r.until("board-1 after the deletion", r.reached(board1, seq))
		if _, ok := a.Cursor()[doomed]; ok {
			t.Errorf("Cursor still names the deleted board: %v", a.Cursor())
		}
	})
}

// TestFollowAllResume saves the cursor, closes the feed and the store,
// and resumes after writes, a new board and a deleted one: each board goes
// on exactly after its seq, the new board from its first event, and the
// deleted one gets a reset at the cursor's seq.
func TestFollowAllResume(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		doomed, _ := f.newBoard(t, "Doomed", "a")
		a, err := f.b.FollowAll(f.ctx, map[string]int64{})
		if err != nil {
			t.Fatalf("FollowAll: %v", err)
		}
		r := newAllReader(t, a, map[string]int64{board1: 0, doomed: 0})
		seq := f.rename(t, "one")
		r.until("everything from the start", func() bool { return r.last[board1] == seq && r.last[doomed] == 1 })
		wantSeqs(t, "board-1 from the start", r.events[board1], 1, seq)
		a.Close()
		saved := a.Cursor() // exact once the feed ended
		if err := f.b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		b := openStore(t, dsn, nil)
		actor := taskboard.Actor{UserID: alice}
		for i := range 3 {
			if _, err := b.UpdateTask(context.Background(), actor, "task-1", taskboard.TaskUpdate{Title: ptr(fmt.Sprint("away ", i))}); err != nil {
				t.Fatalf("UpdateTask: %v", err)
			}
		}
		created, err := b.CreateBoard(context.Background(), actor, "New")
		if err != nil {
			t.Fatalf("CreateBoard: %v", err)
		}
		if _, err := b.CreateList(context.Background(), actor, created.ID, taskboard.ListCreate{Name: "x"}); err != nil {
			t.Fatalf("CreateList: %v", err)
		}
		if err := b.DeleteBoard(context.Background(), actor, doomed); err != nil {
			t.Fatalf("DeleteBoard: %v", err)
		}

		a2 := followAll(t, b, saved)
		r2 := newAllReader(t, a2, saved)
		r2.until("the resumed boards", func() bool {
			return r2.last[board1] == seq+3 && r2.last[created.ID] == 1 && len(r2.resets) == 1
		})
		wantSeqs(t, "board-1 resumed", r2.events[board1], seq+1, seq+3)
		wantSeqs(t, "new board", r2.events[created.ID], 1, 1)
		if rs := r2.resets[0]; rs.BoardID != doomed || rs.Reason != taskboard.ReasonBoardDeleted || rs.Seq != saved[doomed] {
			t.Errorf("reset: got %+v, want board_deleted of %s at %d", rs, doomed, saved[doomed])
		}
		if len(r2.events[doomed]) != 0 {
			t.Errorf("deleted board: got events %v", r2.events[doomed])
		}
	})
}

// TestPostgresFollowAllAcrossInstances: a board created, and a member
// added, on another instance are picked up.
func TestPostgresFollowAllAcrossInstances(t *testing.T) {
	a, b, _ := openPair(t)
	ctx := context.Background()
	feed := followAll(t, a, nil)
	r := newAllReader(t, feed, nil)
	created, err := b.CreateBoard(ctx, taskboard.Actor{UserID: bob}, "Bob's")
	if err != nil {
		t.Fatalf("CreateBoard on B: %v", err)
	}
	// The creation logs nothing: its own signal makes A follow the board.
	waitUntil(t, "A follows B's new board", func() bool { _, ok := feed.Cursor()[created.ID]; return ok })
	if _, _, err := b.AddMember(ctx, taskboard.Actor{UserID: bob}, created.ID, taskboard.MemberRef{UserID: alice}); err != nil {
		t.Fatalf("AddMember on B: %v", err)
	}
	for i := range 3 {
		if _, err := b.CreateList(ctx, taskboard.Actor{UserID: alice}, created.ID, taskboard.ListCreate{Name: fmt.Sprint("l", i)}); err != nil {
			t.Fatalf("CreateList on B: %v", err)
		}
	}
	r.last[created.ID] = 0
	r.until("B's board on A", r.reached(created.ID, 4))
	wantSeqs(t, "B's board", r.events[created.ID], 1, 4)
	if got := r.events[created.ID][0].Type; got != taskboard.EventMemberAdded {
		t.Errorf("first event: got %s, want member_added", got)
	}
}

// TestFollowAllBoardClosed: closing the Board ends the feed with ErrClosed,
// also when it follows no board.
func TestFollowAllBoardClosed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b, err := taskboard.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := b.FollowAll(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case _, ok := <-a.Events():
			if ok {
				t.Fatal("Events after the Board closed: got an item, want the channel closed")
			}
		case <-time.After(waitFor):
			t.Fatal("Events still open after the Board closed")
		}
		if !errors.Is(a.Err(), taskboard.ErrClosed) {
			t.Errorf("Err: got %v, want ErrClosed", a.Err())
		}
		if _, err := b.FollowAll(context.Background(), nil); !errors.Is(err, taskboard.ErrClosed) {
			t.Errorf("FollowAll on a closed Board: got %v, want ErrClosed", err)
		}
	})
}

// TestFollowAllTruncated resumes a board from a seq its retained log no
// longer reaches: a reset with ErrHistoryTruncated at the board's seq, then
// the board's events after it.
func TestFollowAllTruncated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, &taskboard.Options{HistoryEvents: 2, HistoryAge: time.Nanosecond, MaintenanceInterval: -1})
		var last int64
		for i := range 5 {
			last = f.rename(t, fmt.Sprint("title ", i))
		}
		if err := f.b.Maintain(f.ctx); err != nil {
			t.Fatal(err)
		}
		a := followAll(t, f.b, map[string]int64{board1: 1})
		r := newAllReader(t, a, map[string]int64{board1: 1})
		r.until("the reset", func() bool { return len(r.resets) > 0 })
		rs := r.resets[0]
		if rs.BoardID != board1 || rs.Reason != taskboard.ReasonHistoryTruncated || rs.Seq != last || !errors.Is(rs, taskboard.ErrHistoryTruncated) {
			t.Fatalf("reset %+v, want history_truncated of board-1 at %d", rs, last)
		}
		seq := f.rename(t, "after the reset")
		r.until("the write after the reset", r.reached(board1, seq))
		wantSeqs(t, "after the reset", r.events[board1], last+1, seq)
	})
}
