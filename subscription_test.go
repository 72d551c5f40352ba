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

// The tests of this file follow boards through the channel of
// Subscription.Events.

// rename makes one logged write to board-1 and returns its seq.
func (f *fixture) rename(t testing.TB, title string) int64 {
	t.Helper()
	task, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: &title})
	if err != nil {
		t.Fatalf("UpdateTask(%q): %v", title, err)
	}
	seq, err := f.b.BoardSeq(f.ctx, taskboard.Actor{UserID: alice}, task.BoardID)
	if err != nil {
		t.Fatalf("BoardSeq: %v", err)
	}
	return seq
}

// wantSeqs checks that events are logged events with the seqs from..to.
func wantSeqs(t testing.TB, what string, events []taskboard.Event, from, to int64) {
	t.Helper()
	for i, ev := range events {
		if want := from + int64(i); ev.Seq != want {
			t.Fatalf("%s: event %d is %d %s, want seq %d", what, i, ev.Seq, ev.Type, want)
		}
	}
	if n := int64(len(events)); n != to-from+1 {
		t.Fatalf("%s: got %d events, want %d (seqs %d to %d)", what, n, to-from+1, from, to)
	}
}

// TestEventsResumeInOrder resumes a board after a seq: the log's events
// come first, then the live ones in commit order with ephemeral events
// among them; after Close, Last is where a new subscription resumes.
func TestEventsResumeInOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		for i := range 5 {
			f.rename(t, fmt.Sprint("title ", i))
		}
		sub := f.subscribe(t, bob, board1, 2)
		if sub.Last() != 2 {
			t.Fatalf("Last before any event: got %d, want 2", sub.Last())
		}
		var got []taskboard.Event
		for range 3 {
			got = append(got, nextEvent(t, sub))
		}
		wantSeqs(t, "events from the log", got, 3, 5)

		f.rename(t, "live 6")
		typing := taskboard.Event{Type: taskboard.EventUserTyping, BoardID: board1, Data: []byte(`{"type":"user_typing"}`)}
		if err := f.b.Broadcast(typing); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
		f.rename(t, "live 7")
		for i, want := range []struct {
			seq int64
			typ string
		}{{6, taskboard.EventTaskUpdated}, {0, taskboard.EventUserTyping}, {7, taskboard.EventTaskUpdated}} {
			if ev := nextEvent(t, sub); ev.Seq != want.seq || ev.Type != want.typ || ev.BoardID != board1 {
				t.Fatalf("live event %d: got %d %s of %s, want %d %s of board-1", i, ev.Seq, ev.Type, ev.BoardID, want.seq, want.typ)
			}
		}
		if err := sub.Err(); err != nil {
			t.Fatalf("Err while the channel is open: got %v, want nil", err)
		}
		sub.Close()
		if err := nextErr(t, sub); !errors.Is(err, taskboard.ErrClosed) {
			t.Fatalf("Err after Close: got %v, want ErrClosed", err)
		}
		if sub.Last() != 7 {
			t.Fatalf("Last after Close: got %d, want 7", sub.Last())
		}

		// Resuming from the middle gets the logged events once, and no
		// ephemeral one (they are not logged).
		resumed := f.subscribe(t, bob, board1, 4)
		f.rename(t, "live 8")
		got = got[:0]
		for range 4 {
			got = append(got, nextEvent(t, resumed))
		}
		wantSeqs(t, "resumed after 4", got, 5, 8)
	})
}

// TestEventsBoardDeleted deletes a board whose subscriber has not read its
// last events: it gets them, then board_deleted, then the channel closes
// with ErrBoardDeleted.
func TestEventsBoardDeleted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		start := f.seq(t, board1)
		sub := f.subscribe(t, bob, board1, -1)
		for i := range 3 {
			f.rename(t, fmt.Sprint("title ", i))
		}
		if err := f.b.DeleteBoard(f.ctx, taskboard.Actor{UserID: alice}, board1); err != nil {
			t.Fatalf("DeleteBoard: %v", err)
		}
		events := drain(t, sub)
		wantSeqs(t, "events of the deleted board", events, start+1, start+4)
		if last := events[len(events)-1]; last.Type != taskboard.EventBoardDeleted {
			t.Fatalf("last event: got %s, want board_deleted", last.Type)
		}
		wantReset(t, "Err after board_deleted", sub.Err(), taskboard.ErrBoardDeleted, taskboard.ReasonBoardDeleted, start+4)
		if sub.Last() != start+4 {
			t.Fatalf("Last: got %d, want %d", sub.Last(), start+4)
		}
		sub.Close()
		wantReset(t, "Err after board_deleted and Close", sub.Err(), taskboard.ErrBoardDeleted, taskboard.ReasonBoardDeleted, start+4)
	})
}

// TestEventsAccessRevoked removes a member whose subscriber has not read
// its events: the channel closes with ErrAccessRevoked, and nothing from
// the removal on reaches it.
func TestEventsAccessRevoked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		start := f.seq(t, board1)
		sub := f.subscribe(t, bob, board1, -1)
		staying := f.subscribe(t, alice, board1, -1)
		f.rename(t, "before 1")
		f.rename(t, "before 2")
		// Bob's two tasks are unassigned in the same write, before
		// member_removed.
		if err := f.b.RemoveMember(f.ctx, taskboard.Actor{UserID: alice}, board1, bob); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		f.rename(t, "after")
		for _, ev := range drain(t, sub) {
			if ev.Seq > start+2 {
				t.Fatalf("removed member got %d %s, want nothing from seq %d on", ev.Seq, ev.Type, start+3)
			}
		}
		wantReset(t, "Err of the removed member", sub.Err(), taskboard.ErrAccessRevoked, taskboard.ReasonAccessRevoked, start+5)
		var got []taskboard.Event
		for range 6 {
			got = append(got, nextEvent(t, staying))
		}
		wantSeqs(t, "events of the member who stays", got, start+1, start+6)
		if got[4].Type != taskboard.EventMemberRemoved {
			t.Fatalf("event %d: got %s, want member_removed", start+5, got[4].Type)
		}
	})
}

// TestEventsContext ends subscriptions through their context: cancelled,
// past its deadline, and cancelled while the reader does not read.
func TestEventsContext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		start := f.seq(t, board1)

		ctx, cancel := context.WithCancel(f.ctx)
		sub, err := f.b.Subscribe(ctx, taskboard.Actor{UserID: bob}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer sub.Close()
		cancel()
		if err := nextErr(t, sub); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err after cancel: got %v, want context.Canceled", err)
		}

		ctx, cancel = context.WithTimeout(f.ctx, time.Second)
		defer cancel()
		sub, err = f.b.Subscribe(ctx, taskboard.Actor{UserID: bob}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer sub.Close()
		if err := nextErr(t, sub); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err after the deadline: got %v, want context.DeadlineExceeded", err)
		}

		// A reader that stopped reading: the goroutine that offers its
		// event ends with the context, and the channel closes.
		ctx, cancel = context.WithCancel(f.ctx)
		sub, err = f.b.Subscribe(ctx, taskboard.Actor{UserID: bob}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer sub.Close()
		f.rename(t, "unread")
		cancel()
		// Err is set just before the channel closes, by a goroutine that
		// offers nothing more.
		waitUntil(t, "the subscription to end", func() bool { return sub.Err() != nil })
		if err := nextErr(t, sub); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err after cancel: got %v, want context.Canceled", err)
		}
		if sub.Last() != start {
			t.Fatalf("Last: got %d, want %d (nothing delivered)", sub.Last(), start)
		}
	})
}

// TestEventsClose closes subscriptions: one whose reader ranges over the
// channel on another goroutine, and one that is not read.
func TestEventsClose(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		start := f.seq(t, board1)
		read := f.subscribe(t, bob, board1, -1)
		unread := f.subscribe(t, alice, board1, -1)
		received := make(chan int64, 10)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range read.Events() {
				received <- ev.Seq
			}
		}()
		for i := range 3 {
			seq := f.rename(t, fmt.Sprint("title ", i))
			select {
			case got := <-received:
				if got != seq {
					t.Fatalf("reader: got seq %d, want %d", got, seq)
				}
			case <-time.After(waitFor):
				t.Fatalf("reader: no seq %d within %v", seq, waitFor)
			}
		}

		read.Close()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatalf("the reader's range over Events did not end within %v of Close", waitFor)
		}
		if err := read.Err(); !errors.Is(err, taskboard.ErrClosed) {
			t.Fatalf("Err after Close: got %v, want ErrClosed", err)
		}
		if read.Last() != start+3 {
			t.Fatalf("Last after Close: got %d, want %d", read.Last(), start+3)
		}
		read.Close()
		if err := read.Err(); !errors.Is(err, taskboard.ErrClosed) {
			t.Fatalf("Err after a second Close: got %v, want ErrClosed", err)
		}

		// Not read: Close drops what it held and returns with the channel
		// closed.
		unread.Close()
		select {
		case ev, ok := <-unread.Events():
			if ok {
				t.Fatalf("unread subscription: got seq %d after Close, want the channel closed", ev.Seq)
			}
		default:
			t.Fatal("unread subscription: channel still open when Close returned")
		}
		if err := unread.Err(); !errors.Is(err, taskboard.ErrClosed) {
			t.Fatalf("unread subscription: Err after Close: got %v, want ErrClosed", err)
		}
		if unread.Last() != start {
			t.Fatalf("unread subscription: Last after Close: got %d, want %d", unread.Last(), start)
		}
	})
}

// TestEventsBoardClose closes the Board while a subscriber has events it
// has not read: it gets them, in order, then the channel closes with
// ErrClosed.
func TestEventsBoardClose(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		start := f.seq(t, board1)
		unread := f.subscribe(t, bob, board1, -1)
		reader := f.subscribe(t, alice, board1, -1)
		for i := range 3 {
			f.rename(t, fmt.Sprint("title ", i))
		}
		for want := start + 1; want <= start+3; want++ {
			if ev := nextEvent(t, reader); ev.Seq != want {
				t.Fatalf("reader: got seq %d, want %d", ev.Seq, want)
			}
		}
		// The board's fan-out hands events over in batches, in order: once
		// the reader has an event written after it got the third, the
		// batches up to the third reached every subscription.
		barrier := f.rename(t, "barrier")
		if ev := nextEvent(t, reader); ev.Seq != barrier {
			t.Fatalf("reader: got seq %d, want %d", ev.Seq, barrier)
		}

		if err := f.b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		events := drain(t, unread)
		if len(events) < 3 {
			t.Fatalf("unread subscription: got %d events after the Board closed, want at least the 3 queued", len(events))
		}
		wantSeqs(t, "unread subscription", events, start+1, start+int64(len(events)))
		if err := unread.Err(); !errors.Is(err, taskboard.ErrClosed) {
			t.Fatalf("Err after the Board closed: got %v, want ErrClosed", err)
		}
		if want := events[len(events)-1].Seq; unread.Last() != want {
			t.Fatalf("Last: got %d, want %d", unread.Last(), want)
		}
		drain(t, reader)
		if err := reader.Err(); !errors.Is(err, taskboard.ErrClosed) {
			t.Fatalf("reader: Err after the Board closed: got %v, want ErrClosed", err)
		}
	})
}

// TestEventsSlowConsumer writes more than a reader that does not read may
// fall behind: its subscription ends with ErrSlowConsumer after handing
// over what it queued, and a new one after Last gets the rest, each event
// once.
func TestEventsSlowConsumer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		const buffer, writes = 8, 30
		f := newFixture(t, dsn, &taskboard.Options{SubscriberBuffer: buffer})
		start := f.seq(t, board1)
		slow := f.subscribe(t, bob, board1, -1)
		for i := range writes {
			f.rename(t, fmt.Sprint("title ", i))
		}
		waitUntil(t, "the slow subscription to end", func() bool { return f.b.Stats().Subscriptions == 0 })
		if err := slow.Err(); err != nil {
			t.Fatalf("Err before the channel closed: got %v, want nil", err)
		}
		events := drain(t, slow)
		if n := len(events); n < buffer || n > buffer+1 {
			t.Fatalf("slow subscription: got %d events, want the %d or %d it queued", n, buffer, buffer+1)
		}
		wantSeqs(t, "slow subscription", events, start+1, start+int64(len(events)))
		if err := slow.Err(); !errors.Is(err, taskboard.ErrSlowConsumer) {
			t.Fatalf("Err: got %v, want ErrSlowConsumer", err)
		}
		last := slow.Last()
		if last != start+int64(len(events)) {
			t.Fatalf("Last: got %d, want %d", last, start+int64(len(events)))
		}

		resumed := f.subscribe(t, bob, board1, last)
		live := f.rename(t, "live")
		var got []taskboard.Event
		for range live - last {
			got = append(got, nextEvent(t, resumed))
		}
		wantSeqs(t, "resumed after Last", got, last+1, live)
	})
}
