package client_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// recorder takes a many-board stream's events, checking as it goes that
// each board's logged events come exactly once and in seq order after the
// cursor (the caller's, kept with Cursor.Update).
type recorder struct {
	t         *testing.T
	s         *client.Stream
	cursor    client.Cursor
	logged    map[string][]client.Event
	resets    map[string][]client.Event
	following map[string][]client.Event
	limits    []string
}

func newRecorder(t *testing.T, s *client.Stream, cursor client.Cursor) *recorder {
	if cursor == nil {
		cursor = client.Cursor{}
	}
	return &recorder{t: t, s: s, cursor: cursor, logged: map[string][]client.Event{},
		resets: map[string][]client.Event{}, following: map[string][]client.Event{}}
}

// take records one event.
func (r *recorder) take(ev client.Event) {
	r.t.Helper()
	switch {
	case ev.Envelope != nil:
		last, ok := r.cursor[ev.BoardID]
		if !ok {
			r.t.Fatalf("board %s: %s %d before the board was started", ev.BoardID, ev.Type, ev.Seq)
		}
		if ev.Seq != last+1 || ev.Envelope.BoardID != ev.BoardID {
			r.t.Fatalf("board %s: got %s %d (envelope of %s), want seq %d", ev.BoardID, ev.Type, ev.Seq, ev.Envelope.BoardID, last+1)
		}
		r.logged[ev.BoardID] = append(r.logged[ev.BoardID], ev)
	case ev.Type == client.EventReset:
		if ev.Reset == nil || (ev.Reset.Err == nil) == (ev.Reset.Snapshot == nil) {
			r.t.Fatalf("board %s: malformed reset %+v", ev.BoardID, ev)
		}
		if s := ev.Reset.Snapshot; s != nil && (s.Seq != ev.Seq || s.Board.ID != ev.BoardID || ev.Snapshot != s) {
			r.t.Fatalf("board %s: reset at %d with a snapshot of %s at %d", ev.BoardID, ev.Seq, s.Board.ID, s.Seq)
		}
		r.resets[ev.BoardID] = append(r.resets[ev.BoardID], ev)
	case ev.Type == client.EventFollowing:
		if _, ok := r.cursor[ev.BoardID]; ok {
			r.t.Fatalf("board %s: following a board already followed", ev.BoardID)
		}
		if ev.Snapshot == nil || ev.Snapshot.Board.ID != ev.BoardID || ev.Snapshot.Seq != ev.Seq {
			r.t.Fatalf("board %s: following without its snapshot: %+v", ev.BoardID, ev)
		}
		r.following[ev.BoardID] = append(r.following[ev.BoardID], ev)
	case ev.Type == client.EventLimit:
		r.limits = append(r.limits, ev.BoardID)
	}
	r.cursor.Update(ev)
}

// until takes events until cond holds, failing when the stream ends or
// cond does not hold within 30 s.
func (r *recorder) until(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case ev, ok := <-r.s.Events():
			if !ok {
				r.t.Fatalf("waiting for %s: the stream ended: %v", what, r.s.Err())
			}
			r.take(ev)
		case <-deadline:
			r.t.Fatalf("waiting for %s: not within 30s (cursor %s)", what, r.cursor)
		}
	}
}

// reached returns a condition: each board's cursor is at least its seq.
func (r *recorder) reached(want map[string]int64) func() bool {
	return func() bool {
		for id, seq := range want {
			if got, ok := r.cursor[id]; !ok || got < seq {
				return false
			}
		}
		return true
	}
}

// end takes the remaining events of a stream that ends, failing after 30 s.
func (r *recorder) end() error {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-r.s.Events():
			if !ok {
				return r.s.Err()
			}
			r.take(ev)
		case <-deadline:
			r.t.Fatal("the stream did not end within 30s")
		}
	}
}

// seqs returns the seqs of a board's logged events.
func (r *recorder) seqs(boardID string) []int64 {
	var out []int64
	for _, ev := range r.logged[boardID] {
		out = append(out, ev.Seq)
	}
	return out
}

// span returns from..to.
func span(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// newBoard creates a board with one list and returns their ids.
func newBoard(t *testing.T, c *client.Client, name string) (boardID, listID string) {
	t.Helper()
	ctx := context.Background()
	b, err := c.CreateBoard(ctx, name)
	check(t, "CreateBoard", err)
	l, err := c.CreateList(ctx, b.ID, "To do", nil)
	check(t, "CreateList", err)
	return b.ID, l.ID
}

// addTasks creates n tasks in a list.
func addTasks(t *testing.T, c *client.Client, listID, prefix string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if _, err := c.CreateTask(context.Background(), client.TaskCreate{Title: fmt.Sprintf("%s %d", prefix, i), ListID: listID}); err != nil {
			t.Fatalf("CreateTask %s %d: %v", prefix, i, err)
		}
	}
}

// writeAll creates n tasks in each list at once, one writer per list, and
// returns each board's seq afterwards.
func writeAll(t *testing.T, c *client.Client, lists map[string]string, prefix string, n int) map[string]int64 {
	t.Helper()
	seqs, err := writeLists(c, lists, prefix, n)
	check(t, "write", err)
	return seqs
}

// writeLists is writeAll for any goroutine: it returns the first error.
func writeLists(c *client.Client, lists map[string]string, prefix string, n int) (map[string]int64, error) {
	var wg sync.WaitGroup
	errs := make(chan error, len(lists))
	for boardID, listID := range lists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				if _, err := c.CreateTask(context.Background(), client.TaskCreate{Title: fmt.Sprintf("%s %s %d", prefix, boardID, i), ListID: listID}); err != nil {
					errs <- fmt.Errorf("CreateTask on %s: %w", boardID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	seqs := map[string]int64{}
	for boardID := range lists {
		snap, err := c.Snapshot(context.Background(), boardID)
		if err != nil {
			return nil, err
		}
		seqs[boardID] = snap.Seq
	}
	return seqs, nil
}

// FollowBoards delivers three boards' events, written by three writers at
// once, exactly once and in seq order per board across a restart of the
// server; the caller's persisted cursor, parsed back, resumes a new stream
// exactly where the first one was.
func TestFollowBoardsSurvivesRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				ctx := context.Background()
				alice := e.client(e.alice)
				lists := map[string]string{}
				cursor := client.Cursor{}
				for i := range 3 {
					b, l := newBoard(t, alice, fmt.Sprintf("%s %d", m.name, i))
					lists[b], cursor[b] = l, 0
				}
				s := alice.FollowBoards(ctx, slices.Collect(maps.Keys(lists)), cursor, m.opts...)
				defer s.Close()
				r := newRecorder(t, s, cursor)

				want := writeAll(t, alice, lists, "before", 6)
				r.until("the writes before the restart", r.reached(want))
				e.restart()
				want = writeAll(t, alice, lists, "after", 6)
				r.until("the writes after the restart", r.reached(want))
				s.Close()
				for range s.Events() {
				}
				if err := s.Err(); err != nil {
					t.Fatalf("Err after Close: %v", err)
				}

				// The cursor as a caller would keep it, through its string form.
				persisted := r.cursor.String()
				want = writeAll(t, alice, lists, "away", 3)
				resumed, err := client.ParseCursor(persisted)
				check(t, "ParseCursor", err)
				s = alice.FollowBoards(ctx, slices.Collect(maps.Keys(lists)), resumed, m.opts...)
				defer s.Close()
				r.s = s
				r.until("the writes made while away", r.reached(want))
				for id := range lists {
					if got := r.seqs(id); !slices.Equal(got, span(1, want[id])) {
						t.Errorf("board %s: got seqs %v, want 1..%d", id, got, want[id])
					}
					if len(r.resets[id]) != 0 || len(r.following[id]) != 0 {
						t.Errorf("board %s: resets %v, following %v, want none", id, r.resets[id], r.following[id])
					}
				}
			})
		}
	})
}

// A board whose resume point is older than its retained log gets a reset
// with its snapshot and goes on after its seq; the other boards of the
// stream resume exactly, with no reset.
func TestFollowBoardsResetOneBoard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, &taskboard.Options{HistoryEvents: 5, HistoryAge: time.Nanosecond})
		ctx := context.Background()
		alice := e.client(e.alice)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				old, oldList := newBoard(t, alice, "old "+m.name)
				addTasks(t, alice, oldList, "old", 11) // 12 events: trimmed to the last 5
				b2, l2 := newBoard(t, alice, "two "+m.name)
				addTasks(t, alice, l2, "two", 2) // 3 events: kept
				b3, l3 := newBoard(t, alice, "three "+m.name)
				addTasks(t, alice, l3, "three", 2)
				check(t, "Maintain", e.store.Maintain(ctx))

				cursor := client.Cursor{old: 1, b2: 0, b3: 0}
				s := alice.FollowBoards(ctx, []string{old, b2, b3}, cursor, m.opts...)
				defer s.Close()
				r := newRecorder(t, s, cursor)
				r.until("the reset and the kept events", r.reached(map[string]int64{old: 12, b2: 3, b3: 3}))
				if rs := r.resets[old]; len(rs) != 1 || rs[0].Reset.Reason != taskboard.ReasonHistoryTruncated ||
					rs[0].Seq != 12 || len(rs[0].Reset.Snapshot.Tasks) != 11 {
					t.Fatalf("board %s: resets %+v, want one history_truncated with the snapshot at 12", old, rs)
				}
				if got := r.seqs(old); len(got) != 0 {
					t.Fatalf("board %s: events %v before the reset's snapshot", old, got)
				}

				want := writeAll(t, alice, map[string]string{old: oldList, b2: l2, b3: l3}, "then", 2)
				r.until("the writes after the reset", r.reached(want))
				if got := r.seqs(old); !slices.Equal(got, span(13, want[old])) {
					t.Errorf("board %s: after the reset, got seqs %v, want 13..%d", old, got, want[old])
				}
				for _, id := range []string{b2, b3} {
					if got := r.seqs(id); !slices.Equal(got, span(1, want[id])) || len(r.resets[id]) != 0 {
						t.Errorf("board %s: got seqs %v and resets %v, want 1..%d and none", id, got, r.resets[id], want[id])
					}
				}
			})
		}
	})
}

// AllBoards starts with each board of the caller (with its snapshot),
// then picks up a board the caller creates and one they are added to;
// a board they are removed from ends with its reason while the others go
// on, also when that happens while the stream is away. Over a WebSocket, AllBoards is refused at once.
func TestFollowBoardsAll(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice := e.client(e.alice)
		carolOwn, carolList := newBoard(t, e.client(e.carol), "Carol's first")
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				carol := e.client(e.carol)
				s := carol.FollowBoards(ctx, []string{client.AllBoards}, nil, m.opts...)
				defer s.Close()
				r := newRecorder(t, s, nil)
				r.until("her board", r.reached(map[string]int64{carolOwn: 1}))
				addTasks(t, carol, carolList, "own "+m.name, 1)
				own, err := carol.Snapshot(ctx, carolOwn)
				check(t, "Snapshot", err)
				r.until("her write", r.reached(map[string]int64{carolOwn: own.Seq}))

				// A board she creates.
				created, createdList := newBoard(t, carol, "Carol's new "+m.name)
				addTasks(t, carol, createdList, "new", 2)
				r.until("the board she created", r.reached(map[string]int64{created: 3}))
				if f := r.following[created]; len(f) != 1 || f[0].Seq > 3 {
					t.Fatalf("board %s: following %+v, want one at or before 3", created, f)
				}
				if got := r.seqs(created); !slices.Equal(got, span(r.following[created][0].Seq+1, 3)) {
					t.Fatalf("board %s: got seqs %v after its snapshot at %d", created, got, r.following[created][0].Seq)
				}

				// A board she is added to.
				_, err = alice.AddMember(ctx, demo.Board, client.MemberAdd{UserID: e.carolID, Role: taskboard.RoleViewer})
				check(t, "AddMember", err)
				r.until("the board she was added to", func() bool { return len(r.following[demo.Board]) == 1 })
				f := r.following[demo.Board][0]
				if !slices.ContainsFunc(f.Snapshot.Members, func(u taskboard.MemberUser) bool { return u.ID == e.carolID }) {
					t.Fatalf("the snapshot of %s does not list Carol as a member", demo.Board)
				}
				createTasks(t, alice, "added-"+m.name, 2)
				snap, err := alice.Snapshot(ctx, demo.Board)
				check(t, "Snapshot", err)
				r.until("the writes on the board she was added to", r.reached(map[string]int64{demo.Board: snap.Seq}))
				if got := r.seqs(demo.Board); !slices.Equal(got, span(f.Seq+1, snap.Seq)) {
					t.Fatalf("board %s: got seqs %v, want %d..%d", demo.Board, got, f.Seq+1, snap.Seq)
				}

				// Removed from it: that board ends with its reason, hers go on.
				check(t, "RemoveMember", alice.RemoveMember(ctx, demo.Board, e.carolID))
				r.until("the end of the board she left", func() bool { return len(r.resets[demo.Board]) == 1 })
				rs := r.resets[demo.Board][0]
				if !errors.Is(rs.Reset.Err, client.ErrNotFound) || !errors.Is(rs.Reset.Err, taskboard.ErrAccessRevoked) ||
					rs.Reset.Reason != taskboard.ReasonAccessRevoked {
					t.Fatalf("the removal: got %+v (%v), want access_revoked with ErrNotFound", rs.Reset, rs.Reset.Err)
				}
				if _, ok := r.cursor[demo.Board]; ok {
					t.Fatalf("the cursor keeps %s after the removal", demo.Board)
				}
				addTasks(t, carol, createdList, "after", 1)
				r.until("her write after the removal", r.reached(map[string]int64{created: 4}))
				if len(r.resets[carolOwn]) != 0 || len(r.resets[created]) != 0 {
					t.Fatalf("resets on her boards: %v %v", r.resets[carolOwn], r.resets[created])
				}

				// Added again, then, while the stream is away (the server
				// down), removed again and given a new board: the stream
				// resumes without the one and with the other.
				_, err = alice.AddMember(ctx, demo.Board, client.MemberAdd{UserID: e.carolID, Role: taskboard.RoleViewer})
				check(t, "AddMember", err)
				r.until("the board she was added to again", func() bool { return len(r.following[demo.Board]) == 2 })
				e.stop()
				e.open()
				check(t, "RemoveMember", e.store.RemoveMember(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, e.carolID))
				away, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: e.carolID}, "Made while away "+m.name)
				check(t, "CreateBoard", err)
				e.serve(e.addr)
				r.until("the resumed stream", func() bool { return len(r.resets[demo.Board]) == 2 && len(r.following[away.ID]) == 1 })
				if err := r.resets[demo.Board][1].Reset.Err; !errors.Is(err, taskboard.ErrAccessRevoked) {
					t.Fatalf("removed while away: got %v, want ErrAccessRevoked", err)
				}
				_, err = carol.CreateList(ctx, away.ID, "First", nil)
				check(t, "CreateList", err)
				r.until("a write on the board made while away", r.reached(map[string]int64{away.ID: r.following[away.ID][0].Seq + 1}))
				addTasks(t, carol, createdList, "resumed", 1)
				r.until("her write after the resume", r.reached(map[string]int64{created: 5}))
			})
		}
	})
}

// Boards of a stream of named boards that the caller loses, by removal
// or deletion, end with their reason while the others go on; the stream
// ends when none is left. Boards not in the cursor start with their
// snapshot.
func TestFollowBoardsDropped(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice := e.client(e.alice)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				carol := e.client(e.carol)
				_, err := alice.AddMember(ctx, demo.Board, client.MemberAdd{UserID: e.carolID, Role: taskboard.RoleViewer})
				check(t, "AddMember", err)
				doomed, _ := newBoard(t, carol, "Doomed "+m.name)
				kept, keptList := newBoard(t, carol, "Kept "+m.name)
				s := carol.FollowBoards(ctx, []string{demo.Board, doomed, kept}, nil, m.opts...)
				defer s.Close()
				r := newRecorder(t, s, nil)
				r.until("the three snapshots", func() bool { return len(r.cursor) == 3 })
				for _, id := range []string{demo.Board, doomed, kept} {
					if len(r.following[id]) != 1 {
						t.Fatalf("board %s: following %v, want one", id, r.following[id])
					}
				}

				check(t, "RemoveMember", alice.RemoveMember(ctx, demo.Board, e.carolID))
				check(t, "DeleteBoard", carol.DeleteBoard(ctx, doomed))
				r.until("both ends", func() bool { return len(r.resets[demo.Board]) == 1 && len(r.resets[doomed]) == 1 })
				if err := r.resets[demo.Board][0].Reset.Err; !errors.Is(err, client.ErrNotFound) || !errors.Is(err, taskboard.ErrAccessRevoked) {
					t.Fatalf("removed: got %v, want ErrNotFound and ErrAccessRevoked", err)
				}
				// Long polling reads the logs: a board deleted between two polls
				// is gone with its log, and is told as access_revoked.
				deleted := taskboard.ErrBoardDeleted
				if strings.HasPrefix(m.name, "longpoll") {
					deleted = taskboard.ErrAccessRevoked
				}
				if err := r.resets[doomed][0].Reset.Err; !errors.Is(err, client.ErrNotFound) || !errors.Is(err, deleted) {
					t.Fatalf("deleted: got %v, want ErrNotFound and %v", err, deleted)
				}
				if l := r.logged[doomed]; deleted == taskboard.ErrBoardDeleted && (len(l) == 0 || l[len(l)-1].Type != taskboard.EventBoardDeleted) {
					t.Fatalf("deleted: the last event is not board_deleted: %v", l)
				}

				addTasks(t, carol, keptList, "kept", 2)
				start := r.following[kept][0].Seq
				r.until("the kept board's writes", r.reached(map[string]int64{kept: start + 2}))
				if len(r.resets[kept]) != 0 {
					t.Fatalf("the kept board got resets %v", r.resets[kept])
				}

				// The last board gone, the stream ends with its reason.
				check(t, "DeleteBoard", carol.DeleteBoard(ctx, kept))
				err = r.end()
				if !errors.Is(err, client.ErrNotFound) || !errors.Is(err, deleted) {
					t.Fatalf("Err with no board left: got %v, want ErrNotFound and %v", err, deleted)
				}
				if len(r.resets[kept]) != 1 || len(r.cursor) != 0 {
					t.Fatalf("at the end: resets %v, cursor %v", r.resets[kept], r.cursor)
				}
			})
		}
	})
}

// A fresh stream naming a board the caller cannot see is refused with
// ErrNotFound; bad boards and cursors end the stream at once with
// ErrInvalid, before any request.
func TestFollowBoardsRefused(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), nil)
	ctx := context.Background()
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			carol := e.client(e.carol)
			own, _ := newBoard(t, carol, "Carol's "+m.name)
			s := carol.FollowBoards(ctx, []string{own, demo.Board}, nil, m.opts...)
			if err := newRecorder(t, s, nil).end(); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("a board of others: got %v, want ErrNotFound", err)
			}
		})
	}
	offline, err := client.New("http://127.0.0.1:1")
	check(t, "New", err)
	many := make([]string, client.MaxBoards+1)
	for i := range many {
		many[i] = fmt.Sprintf("board-%d", i)
	}
	for name, c := range map[string]struct {
		boards []string
		cursor client.Cursor
	}{
		"none":           {nil, nil},
		"too many":       {many, nil},
		"empty id":       {[]string{"board-1", ""}, nil},
		"comma in an id": {[]string{"board-1,board-2"}, nil},
		"all among ids":  {[]string{"board-1", client.AllBoards}, nil},
		"negative seq":   {[]string{"board-1"}, client.Cursor{"board-1": -1}},
	} {
		s := offline.FollowBoards(ctx, c.boards, c.cursor)
		for range s.Events() {
		}
		if err := s.Err(); !errors.Is(err, client.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

// A cursor goes to its string form and back; malformed strings are
// errors; Update follows the events a caller takes.
func TestCursor(t *testing.T) {
	c, err := client.ParseCursor(" board-2:7, board-1:12 ,a:b:0")
	check(t, "ParseCursor", err)
	if want := (client.Cursor{"board-1": 12, "board-2": 7, "a:b": 0}); !maps.Equal(c, want) {
		t.Fatalf("got %v, want %v", c, want)
	}
	if got, want := c.String(), "a:b:0,board-1:12,board-2:7"; got != want {
		t.Fatalf("String: got %q, want %q", got, want)
	}
	back, err := client.ParseCursor(c.String())
	check(t, "ParseCursor", err)
	if !maps.Equal(back, c) {
		t.Fatalf("round trip: got %v, want %v", back, c)
	}
	if empty, err := client.ParseCursor(""); err != nil || len(empty) != 0 || empty.String() != "" {
		t.Fatalf("empty: got %v, %v", empty, err)
	}
	for _, bad := range []string{"board-1", ":3", " :3", "board-1:", "board-1:-1", "board-1:x", "board-1:1.5",
		"board-1:1,board-1:2", "board-1:1,,board-2:2", "board-1:1,", "board-1:99999999999999999999"} {
		if c, err := client.ParseCursor(bad); !errors.Is(err, client.ErrInvalidCursor) || c != nil {
			t.Errorf("ParseCursor(%q): got %v, %v, want ErrInvalidCursor", bad, c, err)
		}
	}

	c = client.Cursor{}
	c.Update(client.Event{Type: client.EventFollowing, BoardID: "b", Seq: 4, Snapshot: &taskboard.Snapshot{Seq: 4}})
	c.Update(client.Event{Type: taskboard.EventTaskCreated, BoardID: "b", Seq: 5, Envelope: &taskboard.Envelope{}})
	c.Update(client.Event{Type: "user_typing", BoardID: "b"})
	c.Update(client.Event{Type: client.EventReset, BoardID: "a", Seq: 9, Reset: &client.Reset{Reason: "ahead", Snapshot: &taskboard.Snapshot{Seq: 9}}})
	if got := c.String(); got != "a:9,b:5" {
		t.Fatalf("after Update: got %q, want a:9,b:5", got)
	}
	c.Update(client.Event{Type: client.EventReset, BoardID: "b", Reset: &client.Reset{Reason: "board_deleted", Err: client.ErrNotFound}})
	if got := c.String(); got != "a:9" {
		t.Fatalf("after a board's end: got %q, want a:9", got)
	}
}

// Connections cut in the middle of a many-board stream while three
// writers go on lose and repeat nothing: each board's events arrive exactly
// once, in seq order.
func TestFollowBoardsCutWhileWriting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				ctx := context.Background()
				alice := e.client(e.alice)
				lists := map[string]string{}
				cursor := client.Cursor{}
				for i := range 3 {
					b, l := newBoard(t, alice, fmt.Sprintf("cut %s %d", m.name, i))
					lists[b], cursor[b] = l, 0
				}
				proxy := newCutProxy(t, e.addr)
				follower, err := client.New("http://"+proxy.ln.Addr().String(), client.WithToken(e.alice), client.WithBackoff(20*time.Millisecond))
				check(t, "New", err)
				// A buffer of one keeps the stream's reader behind the server,
				// so that cuts fall in the middle of the stream.
				s := follower.FollowBoards(ctx, slices.Collect(maps.Keys(lists)), cursor, append(m.opts, client.WithBuffer(1))...)
				defer s.Close()
				r := newRecorder(t, s, cursor)

				type result struct {
					seqs map[string]int64
					err  error
				}
				done := make(chan result, 1)
				go func() {
					seqs, err := writeLists(alice, lists, "cut", 15)
					done <- result{seqs, err}
				}()
				var want map[string]int64
				deadline := time.After(60 * time.Second)
				for want == nil || !r.reached(want)() {
					select {
					case res := <-done:
						check(t, "writers", res.err)
						want, done = res.seqs, nil
					case ev, ok := <-s.Events():
						if !ok {
							t.Fatalf("the stream ended: %v", s.Err())
						}
						r.take(ev)
						if ev.Envelope != nil && r.total()%10 == 0 {
							proxy.Cut()
						}
					case <-deadline:
						t.Fatalf("not every event within 60s: cursor %s, want %v", r.cursor, want)
					}
				}
				for id := range lists {
					if got := r.seqs(id); !slices.Equal(got, span(1, want[id])) {
						t.Errorf("board %s: got seqs %v, want 1..%d", id, got, want[id])
					}
				}
				proxy.mu.Lock()
				opened := proxy.opened
				proxy.mu.Unlock()
				if opened < 2 {
					t.Fatalf("%d connections through the proxy, want at least one reconnect", opened)
				}
			})
		}
	})
}

// total returns how many logged events were taken.
func (r *recorder) total() int {
	n := 0
	for _, evs := range r.logged {
		n += len(evs)
	}
	return n
}
