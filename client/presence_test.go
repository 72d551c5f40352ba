package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// lists reports whether a board's presence list has userID.
func lists(t *testing.T, c *client.Client, boardID, userID string) bool {
	t.Helper()
	pres, err := c.Presence(context.Background(), boardID)
	check(t, "Presence", err)
	return slices.ContainsFunc(pres, func(p taskboard.PresenceEntry) bool { return p.ID == userID })
}

// A FollowBoards stream counts the caller present on the board WithPresence
// names and on no other; without it, on none. Long polls join no presence.
func TestFollowBoardsPresence(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice := e.client(e.alice)
		transports := []struct {
			name     string
			opts     []client.FollowOption
			presence bool // the transport can count the caller present
		}{
			{"sse", nil, true},
			{"websocket", []client.FollowOption{client.Over(client.WebSocket)}, true},
			{"longpoll", []client.FollowOption{client.Over(client.LongPoll), client.WithIdleTimeout(2 * time.Second)}, false},
		}
		for _, tr := range transports {
			for _, all := range []bool{false, true} {
				for _, withPresence := range []bool{true, false} {
					name := tr.name
					if all {
						name += "-all"
					}
					if withPresence {
						name += "-presence"
					}
					t.Run(name, func(t *testing.T) {
						// Fresh boards: no one is present on them yet.
						a, listA := newBoard(t, alice, "A "+name)
						b, listB := newBoard(t, alice, "B "+name)
						opts := slices.Clone(tr.opts)
						if withPresence {
							opts = append(opts, client.WithPresence(a))
						}
						boards := []string{a, b}
						if all {
							boards = []string{client.AllBoards}
						}
						s := alice.FollowBoards(ctx, boards, nil, opts...)
						defer s.Close()
						r := newRecorder(t, s, nil)
						r.until("both boards", func() bool {
							_, okA := r.cursor[a]
							_, okB := r.cursor[b]
							return okA && okB
						})
						// A live event of each board comes after the server
						// decided the stream's presence on it.
						addTasks(t, alice, listA, "a", 1)
						addTasks(t, alice, listB, "b", 1)
						want := map[string]int64{}
						for _, id := range []string{a, b} {
							snap, err := alice.Snapshot(ctx, id)
							check(t, "Snapshot", err)
							want[id] = snap.Seq
						}
						r.until("a write on each board", r.reached(want))

						if withPresence && tr.presence {
							deadline := time.Now().Add(30 * time.Second)
							ticker := time.NewTicker(20 * time.Millisecond)
							defer ticker.Stop()
							for !lists(t, alice, a, demo.Alice) {
								if time.Now().After(deadline) {
									t.Fatalf("board A: Alice not present within 30s")
								}
								<-ticker.C
							}
						} else if lists(t, alice, a, demo.Alice) {
							t.Fatalf("board A: Alice is present")
						}
						if lists(t, alice, b, demo.Alice) {
							t.Fatalf("board B: Alice is present")
						}
					})
				}
			}
		}
	})
}

// WithPresence of a board that is not one of the named boards, or of a
// malformed id, ends the stream at once with ErrInvalid.
func TestFollowBoardsPresenceRefused(t *testing.T) {
	offline, err := client.New("http://127.0.0.1:1")
	check(t, "New", err)
	for name, c := range map[string]struct {
		boards   []string
		presence string
	}{
		"not one of boards": {[]string{"board-1", "board-2"}, "board-3"},
		"spaces":            {[]string{client.AllBoards}, " board-1"},
		"comma":             {[]string{client.AllBoards}, "board-1,board-2"},
	} {
		s := offline.FollowBoards(context.Background(), c.boards, nil, client.WithPresence(c.presence))
		for range s.Events() {
		}
		if err := s.Err(); !errors.Is(err, client.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}
