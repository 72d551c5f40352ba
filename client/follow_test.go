package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// next returns the stream's next event, failing t when none comes within
// 20 s or the stream ends.
func next(t *testing.T, s *client.Stream) client.Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatalf("the stream ended: %v", s.Err())
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event within 20s")
	}
	return client.Event{}
}

// nextLogged skips ephemeral events.
func nextLogged(t *testing.T, s *client.Stream) client.Event {
	t.Helper()
	for {
		if ev := next(t, s); ev.Seq > 0 || ev.Type == client.EventReset {
			return ev
		}
	}
}

// createTasks creates n tasks on board-1 as Alice, with mutation ids
// prefix-1..prefix-n.
func createTasks(t *testing.T, c *client.Client, prefix string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		ctx := client.WithMutationID(context.Background(), fmt.Sprintf("%s-%d", prefix, i))
		if _, err := c.CreateTask(ctx, client.TaskCreate{Title: fmt.Sprintf("%s %d", prefix, i), ListID: "list-todo"}); err != nil {
			t.Fatalf("CreateTask %s %d: %v", prefix, i, err)
		}
	}
}

// followModes are the ways Follow and FollowBoards are tested: each
// transport, with bearer or ticket authentication (long polls take no
// tickets).
var followModes = []struct {
	name string
	opts []client.FollowOption
}{
	{"sse", nil},
	{"sse-tickets", []client.FollowOption{client.WithTickets()}},
	{"websocket", []client.FollowOption{client.Over(client.WebSocket)}},
	{"websocket-tickets", []client.FollowOption{client.Over(client.WebSocket), client.WithTickets()}},
	{"longpoll", []client.FollowOption{client.Over(client.LongPoll), client.WithIdleTimeout(2 * time.Second)}},
}

// Follow delivers every event exactly once and in order across a restart
// of the server (a new process on the same database and address), and
// the caller recognises its own writes by their mutation ids.
func TestFollowSurvivesRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				ctx := context.Background()
				alice := e.client(e.alice)
				snap, err := alice.Snapshot(ctx, demo.Board)
				check(t, "Snapshot", err)
				s := alice.Follow(ctx, demo.Board, snap.Seq, m.opts...)
				defer s.Close()

				createTasks(t, alice, m.name+"-before", 5)
				want := snap.Seq
				expect := func(prefix string, n int) {
					t.Helper()
					for i := 1; i <= n; i++ {
						ev := nextLogged(t, s)
						want++
						if ev.Seq != want || ev.Type != taskboard.EventTaskCreated {
							t.Fatalf("got %s %d, want task_created %d", ev.Type, ev.Seq, want)
						}
						if id := fmt.Sprintf("%s-%d", prefix, i); ev.Envelope.MutationID == nil || *ev.Envelope.MutationID != id {
							t.Fatalf("event %d: mutation id %v, want %s", ev.Seq, ev.Envelope.MutationID, id)
						}
					}
				}
				expect(m.name+"-before", 5)

				e.restart()
				// Events written while the client is away, then after it is back.
				createTasks(t, alice, m.name+"-after", 5)
				expect(m.name+"-after", 5)
				createTasks(t, alice, m.name+"-later", 3)
				expect(m.name+"-later", 3)
				s.Close()
				for ev := range s.Events() {
					if ev.Seq > 0 {
						t.Fatalf("after Close: event %d", ev.Seq)
					}
				}
				if err := s.Err(); err != nil {
					t.Fatalf("Err after Close: %v", err)
				}
			})
		}
	})
}

// A resume point older than the retained log is a reset: Follow delivers
// the board's snapshot and goes on after its seq.
func TestFollowResetHistoryTruncated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, &taskboard.Options{HistoryEvents: 5, HistoryAge: time.Nanosecond})
		ctx := context.Background()
		alice := e.client(e.alice)
		createTasks(t, alice, "old", 12)
		check(t, "Maintain", e.store.Maintain(ctx))
		snap, err := alice.Snapshot(ctx, demo.Board)
		check(t, "Snapshot", err)

		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				s := alice.Follow(ctx, demo.Board, 1, m.opts...)
				defer s.Close()
				ev := nextLogged(t, s)
				if ev.Type != client.EventReset || ev.Reset == nil || ev.Reset.Reason != "history_truncated" ||
					ev.Reset.Snapshot == nil || ev.Seq != snap.Seq || ev.Reset.Snapshot.Seq != snap.Seq || len(ev.Reset.Snapshot.Lists) != 3 {
					t.Fatalf("got %+v, want a history_truncated reset with the snapshot at %d", ev, snap.Seq)
				}
				createTasks(t, alice, m.name, 2)
				for i := int64(1); i <= 2; i++ {
					if ev := nextLogged(t, s); ev.Seq != snap.Seq+i {
						t.Fatalf("after the reset: got %s %d, want %d", ev.Type, ev.Seq, snap.Seq+i)
					}
				}
				snap.Seq += 2
			})
		}
	})
}

// A member removed while following gets the access_revoked reset; the
// snapshot is no longer theirs, so the stream ends with an error saying so.
func TestFollowAccessRevoked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice, carol := e.client(e.alice), e.client(e.carol)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				_, err := alice.AddMember(ctx, demo.Board, client.MemberAdd{UserID: e.carolID, Role: taskboard.RoleViewer})
				check(t, "AddMember", err)
				snap, err := carol.Snapshot(ctx, demo.Board)
				check(t, "Snapshot", err)
				s := carol.Follow(ctx, demo.Board, snap.Seq, m.opts...)
				defer s.Close()
				createTasks(t, alice, "seen-"+m.name, 1)
				if ev := nextLogged(t, s); ev.Type != taskboard.EventTaskCreated {
					t.Fatalf("got %s, want task_created", ev.Type)
				}
				check(t, "RemoveMember", alice.RemoveMember(ctx, demo.Board, e.carolID))
				for ev := range s.Events() {
					if ev.Seq > 0 {
						t.Fatalf("after the removal: %s %d", ev.Type, ev.Seq)
					}
				}
				err = s.Err()
				if !errors.Is(err, client.ErrNotFound) || !errors.Is(err, taskboard.ErrAccessRevoked) {
					t.Fatalf("Err: got %v, want ErrNotFound and ErrAccessRevoked", err)
				}
			})
		}
	})
}

// Credentials the server refuses end Follow at once with ErrUnauthorized,
// on every transport; so does a board the caller cannot see, with
// ErrNotFound.
func TestFollowRefused(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), nil)
	ctx := context.Background()
	for _, m := range followModes {
		t.Run(m.name, func(t *testing.T) {
			s := e.client("tb_wrong").Follow(ctx, demo.Board, 0, m.opts...)
			for range s.Events() {
			}
			if err := s.Err(); !errors.Is(err, client.ErrUnauthorized) {
				t.Fatalf("bad token: got %v, want ErrUnauthorized", err)
			}
			s = e.client(e.carol).Follow(ctx, demo.Board, 0, m.opts...)
			for range s.Events() {
			}
			if err := s.Err(); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("a board of others: got %v, want ErrNotFound", err)
			}
		})
	}
}

// A resume point ahead of the board's log (a restored database) is the
// ahead reset: Follow delivers the snapshot and goes on after its seq.
func TestFollowResetAhead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice := e.client(e.alice)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				snap, err := alice.Snapshot(ctx, demo.Board)
				check(t, "Snapshot", err)
				s := alice.Follow(ctx, demo.Board, snap.Seq+100, m.opts...)
				defer s.Close()
				ev := nextLogged(t, s)
				if ev.Reset == nil || ev.Reset.Reason != "ahead" || ev.Seq != snap.Seq || ev.Reset.Snapshot.Seq != snap.Seq {
					t.Fatalf("got %+v, want an ahead reset at %d", ev, snap.Seq)
				}
				createTasks(t, alice, "ahead-"+m.name, 1)
				if ev := nextLogged(t, s); ev.Seq != snap.Seq+1 || ev.Type != taskboard.EventTaskCreated {
					t.Fatalf("after the reset: got %s %d, want task_created %d", ev.Type, ev.Seq, snap.Seq+1)
				}
			})
		}
	})
}

// A stream whose context ends says so in Err; one ended by Close has no
// error.
func TestFollowContextEnds(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	s := e.client(e.alice).Follow(ctx, demo.Board, client.FromNow)
	cancel()
	for range s.Events() {
	}
	if err := s.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after the context ended: got %v, want context.Canceled", err)
	}
}

// A board deleted while followed: its board_deleted event is the last one
// delivered, and the stream ends with ErrNotFound (a stream that opens
// after the deletion is refused with ErrNotFound at once).
func TestFollowBoardDeleted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice := e.client(e.alice)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				b, err := alice.CreateBoard(ctx, "Short-lived "+m.name)
				check(t, "CreateBoard", err)
				_, err = alice.CreateList(ctx, b.ID, "First", nil)
				check(t, "CreateList", err)
				s := alice.Follow(ctx, b.ID, 0, m.opts...)
				defer s.Close()
				// Its first event says the stream is open.
				if ev := nextLogged(t, s); ev.Seq != 1 || ev.Type != taskboard.EventListCreated {
					t.Fatalf("got %s %d, want list_created 1", ev.Type, ev.Seq)
				}
				check(t, "DeleteBoard", alice.DeleteBoard(ctx, b.ID))
				var last client.Event
				for ev := range s.Events() {
					if ev.Seq > 0 {
						last = ev
					}
				}
				// Long polling reads the log, which goes with the board: it
				// tells a deletion as access_revoked.
				if m.name == "longpoll" {
					if err := s.Err(); !errors.Is(err, taskboard.ErrAccessRevoked) {
						t.Fatalf("Err: got %v, want ErrAccessRevoked", err)
					}
				} else if last.Type != taskboard.EventBoardDeleted {
					t.Fatalf("last event: got %q, want board_deleted", last.Type)
				}
				if err := s.Err(); !errors.Is(err, client.ErrNotFound) {
					t.Fatalf("Err: got %v, want ErrNotFound", err)
				}
			})
		}
	})
}
