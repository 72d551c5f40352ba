package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// wsAllReader reads a WebSocket that joined * (or boards one by one),
// checking that each board's logged events come once and in seq order,
// each after the board's joined or following.
type wsAllReader struct {
	t    *testing.T
	ws   *rtWS
	last map[string]int64   // per followed board, the seq last delivered
	seqs map[string][]int64 // the logged seqs delivered per board
	// joined holds the boards whose joined came.
	joined map[string]bool
}

func newWSAllReader(t *testing.T, ws *rtWS, cursor map[string]int64) *wsAllReader {
	r := &wsAllReader{t: t, ws: ws, last: make(map[string]int64), seqs: make(map[string][]int64), joined: make(map[string]bool)}
	maps.Copy(r.last, cursor)
	return r
}

// joinAll sends a join of * with the cursor (none when empty).
func (r *wsAllReader) joinAll(cursor string) {
	msg := map[string]any{"type": "join", "boardId": "*"}
	if cursor != "" {
		msg["after"] = cursor
	}
	r.ws.send(msg)
}

// until reads messages until done; it returns those that are neither
// logged events nor presence lists (joined, following, reset, error,
// limit, ephemeral events).
func (r *wsAllReader) until(done func() bool) []rtMsg {
	r.t.Helper()
	var other []rtMsg
	for !done() {
		m := r.ws.mustNext()
		switch m.Type {
		case "joined":
			r.joined[m.BoardID] = true
			if _, ok := r.last[m.BoardID]; !ok {
				r.last[m.BoardID] = m.Seq
			} else if m.Seq < r.last[m.BoardID] {
				r.t.Fatalf("%s: joined below the seq %d delivered", m.raw, r.last[m.BoardID])
			}
			other = append(other, m)
		case "following":
			if _, ok := r.last[m.BoardID]; ok {
				r.t.Fatalf("%s for a board already followed", m.raw)
			}
			r.last[m.BoardID] = m.Seq
			other = append(other, m)
		case "reset":
			delete(r.last, m.BoardID)
			other = append(other, m)
		case "presence":
		default:
			if m.Seq == 0 {
				other = append(other, m)
				continue
			}
			want, ok := r.last[m.BoardID]
			if !ok || m.Seq != want+1 {
				r.t.Fatalf("event %s: want seq %d of a followed board (followed: %v)", m.raw, want+1, ok)
			}
			r.last[m.BoardID] = m.Seq
			r.seqs[m.BoardID] = append(r.seqs[m.BoardID], m.Seq)
		}
	}
	return other
}

// cursor is the composite cursor of what was delivered.
func (r *wsAllReader) cursor() string {
	ids := slices.Sorted(maps.Keys(r.last))
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s:%d", id, r.last[id])
	}
	return strings.Join(parts, ",")
}

// TestWSAllBoards joins every board of Bob's (*): his board is joined from
// now; a board he is added to, and one he creates, while connected are
// joined and announced by following, then followed from their seq.
func TestWSAllBoards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		alice := taskboard.Actor{UserID: demo.Alice}
		other, err := e.store.CreateBoard(ctx, alice, "Alice's")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.CreateList(ctx, alice, other.ID, taskboard.ListCreate{Name: "before"}); err != nil {
			t.Fatal(err)
		}
		before := e.write(2, "task-1")
		r := newWSAllReader(t, e.bearerWS(e.bob), nil)
		r.joinAll("")
		got := r.until(func() bool { _, ok := r.last[demo.Board]; return ok })
		if len(got) != 1 || got[0].Type != "joined" || got[0].Seq != before {
			t.Fatalf("after join *: %v, want board-1 joined at %d", got, before)
		}

		if _, _, err := e.store.AddMember(ctx, alice, other.ID, taskboard.MemberRef{UserID: demo.Bob}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.CreateList(ctx, alice, other.ID, taskboard.ListCreate{Name: "after"}); err != nil {
			t.Fatal(err)
		}
		got = r.until(func() bool { return r.last[other.ID] >= 3 && r.joined[other.ID] })
		if len(got) == 0 || got[0].Type != "following" || got[0].BoardID != other.ID || got[0].Seq != 1 {
			t.Fatalf("before the added board's events: %v, want following at seq 1", got)
		}
		if got := r.seqs[other.ID]; fmt.Sprint(got) != "[2 3]" {
			t.Errorf("added board's seqs: %v, want [2 3] (member_added first)", got)
		}

		mine, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: demo.Bob}, "Bob's")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.CreateList(ctx, taskboard.Actor{UserID: demo.Bob}, mine.ID, taskboard.ListCreate{Name: "x"}); err != nil {
			t.Fatal(err)
		}
		got = r.until(func() bool { return r.last[mine.ID] >= 1 && r.joined[mine.ID] })
		if len(got) == 0 || got[0].Type != "following" || got[0].BoardID != mine.ID {
			t.Fatalf("before the created board's events: %v, want following", got)
		}
		if got := r.seqs[mine.ID]; fmt.Sprint(got) != "[1]" {
			t.Errorf("created board's seqs: %v, want [1]", got)
		}
		// Board-1 still flows.
		last := e.write(1, "task-2")
		r.until(func() bool { return r.last[demo.Board] >= last })
		// The connection counts once as following many boards, three here.
		e.waitConns(rtCounts{Total: 1, WebSocket: 1, ByBoard: map[string]int{demo.Board: 1, other.ID: 1, mine.ID: 1}, MultiBoard: 1, MultiBoardFollows: 3})

		// A board Alice creates is not Bob's: nothing comes of it.
		if _, err := e.store.CreateBoard(ctx, alice, "Alice's own"); err != nil {
			t.Fatal(err)
		}
		if got := pingPong(t, r.ws); len(got) != 0 {
			t.Errorf("after a board of Alice's alone: %v, want nothing", got[0].raw)
		}

		// leave * stops the discovery and leaves every board.
		r.ws.send(`{"type":"leave","boardId":"*"}`)
		pingPong(t, r.ws)
		e.waitConns(rtCounts{Total: 1, WebSocket: 1, ByBoard: map[string]int{}})
		late, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: demo.Bob}, "late")
		if err != nil {
			t.Fatal(err)
		}
		e.write(1, "task-2")
		// The board exists when its creation is announced: a follow-up
		// message answered after it proves that nothing came.
		if _, err := e.store.CreateList(ctx, taskboard.Actor{UserID: demo.Bob}, late.ID, taskboard.ListCreate{Name: "x"}); err != nil {
			t.Fatal(err)
		}
		if got := pingPong(t, r.ws); len(got) != 0 {
			t.Errorf("after leave *: %s, want nothing", got[0].raw)
		}
	})
}

// TestWSAllBoardsResume joins * with a composite cursor, twice, with
// writers on three boards in between: every board gets 1..n exactly once.
// A board of the cursor the caller no longer has gets an access_revoked
// reset at the cursor's seq.
func TestWSAllBoardsResume(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		alice := taskboard.Actor{UserID: demo.Alice}
		lists := make(map[string]string)
		for _, name := range []string{"One", "Two", "Three"} {
			b, err := e.store.CreateBoard(ctx, alice, name)
			if err != nil {
				t.Fatal(err)
			}
			l, err := e.store.CreateList(ctx, alice, b.ID, taskboard.ListCreate{Name: "L"})
			if err != nil {
				t.Fatal(err)
			}
			lists[b.ID] = l.ID
		}
		ids := slices.Sorted(maps.Keys(lists))
		const n = 20
		start := map[string]int64{ids[0]: 0, ids[1]: 0, ids[2]: 0}
		r := newWSAllReader(t, e.bearerWS(e.alice), start)
		e.writeBoards(lists, n)
		r.joinAll(ids[0] + ":0," + ids[1] + ":0," + ids[2] + ":0")
		r.until(func() bool { return r.last[ids[0]] >= 5 && r.last[ids[1]] >= 5 && r.last[ids[2]] >= 5 })
		seen := r.seqs
		saved := make(map[string]int64)
		for _, id := range ids {
			saved[id] = r.last[id]
		}
		cursor := r.cursor()
		r.ws.close()

		e.writeBoards(lists, n)
		r2 := newWSAllReader(t, e.bearerWS(e.alice), saved)
		r2.joinAll(cursor + ",gone-board:4")
		other := r2.until(func() bool {
			for _, id := range ids {
				if r2.last[id] < 2*n+1 {
					return false
				}
			}
			return true
		})
		var resets []string
		for _, m := range other {
			if m.Type == "reset" {
				resets = append(resets, fmt.Sprintf("%s/%s/%d", m.BoardID, m.Reason, m.Seq))
			}
		}
		if fmt.Sprint(resets) != "[gone-board/access_revoked/4]" {
			t.Errorf("resets: %v, want gone-board's access_revoked at 4", resets)
		}
		for _, id := range ids {
			all := append(append([]int64(nil), seen[id]...), r2.seqs[id]...)
			if int64(len(all)) != 2*n+1 {
				t.Fatalf("board %s: %d events (%v), want %d", id, len(all), all, 2*n+1)
			}
			for i, seq := range all {
				if seq != int64(i+1) {
					t.Fatalf("board %s: seqs %v, want 1..%d", id, all, 2*n+1)
				}
			}
		}
	})
}

// TestWSAllBoardsResetsAndErrors: a board whose history is gone gets a
// history_truncated reset (the connection does not follow it; the client
// joins it after a snapshot) while the others resume; a malformed cursor
// is an error and the connection stays open; a caller on more than 100
// boards gets Too many boards.
func TestWSAllBoardsResetsAndErrors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, &taskboard.Options{HistoryEvents: 2, HistoryAge: time.Nanosecond})
		ctx := context.Background()
		bob := taskboard.Actor{UserID: demo.Bob}
		mine, err := e.store.CreateBoard(ctx, bob, "Bob's")
		if err != nil {
			t.Fatal(err)
		}
		list, err := e.store.CreateList(ctx, bob, mine.ID, taskboard.ListCreate{Name: "L"})
		if err != nil {
			t.Fatal(err)
		}
		last := e.write(5, "task-1")
		if err := e.store.Maintain(ctx); err != nil {
			t.Fatal(err)
		}

		ws := e.bearerWS(e.bob)
		for _, tc := range []struct{ msg, want string }{
			{`{"type":"join","boardId":"*","after":"nonsense"}`, "Invalid field: after: want board:seq pairs, comma-separated"},
			{`{"type":"join","boardId":"*","after":"board-1:x"}`, "Invalid field: after: a seq must be a non-negative integer"},
			{`{"type":"join","boardId":"*","after":7}`, "Invalid field: after must be a composite cursor (board:seq pairs, comma-separated) with *"},
		} {
			ws.send(tc.msg)
			if m := ws.expect("error"); m.Error != tc.want || m.BoardID != "*" {
				t.Errorf("%s: got %s, want the error %q for *", tc.msg, m.raw, tc.want)
			}
		}
		if got := pingPong(t, ws); len(got) != 0 {
			t.Errorf("after malformed joins: %s, want the connection open and nothing joined", got[0].raw)
		}

		r := newWSAllReader(t, ws, map[string]int64{demo.Board: 1, mine.ID: 1})
		r.joinAll(fmt.Sprintf("%s:1,%s:1", demo.Board, mine.ID))
		if _, err := e.store.CreateTask(ctx, bob, taskboard.TaskCreate{ListID: list.ID, Title: "t"}); err != nil {
			t.Fatal(err)
		}
		other := r.until(func() bool { _, ok := r.last[demo.Board]; return !ok && r.last[mine.ID] >= 2 && r.joined[mine.ID] })
		var got []string
		for _, m := range other {
			switch m.Type {
			case "reset":
				got = append(got, fmt.Sprintf("reset/%s/%s/%d", m.BoardID, m.Reason, m.Seq))
			case "joined":
				got = append(got, "joined/"+m.BoardID)
			}
		}
		want := []string{fmt.Sprintf("reset/%s/%s/%d", demo.Board, taskboard.ReasonHistoryTruncated, last), "joined/" + mine.ID}
		if !slices.Contains(got, want[0]) || !slices.Contains(got, want[1]) || len(got) != 2 {
			t.Errorf("after join * with a truncated board: %v, want %v", got, want)
		}
		if s := r.seqs[mine.ID]; fmt.Sprint(s) != "[2]" {
			t.Errorf("the other board's seqs: %v, want [2]", s)
		}

		for i := range 100 { // with board-1 and Bob's, 102
			if _, err := e.store.CreateBoard(ctx, bob, fmt.Sprint("b", i)); err != nil {
				t.Fatal(err)
			}
		}
		many := e.bearerWS(e.bob)
		many.send(`{"type":"join","boardId":"*"}`)
		if m := many.expect("error"); m.Error != "Too many boards" || m.BoardID != "*" {
			t.Errorf("join * on 102 boards: got %s, want Too many boards", m.raw)
		}
		if got := pingPong(t, many); len(got) != 0 {
			t.Errorf("after Too many boards: %s, want nothing joined", got[0].raw)
		}
	})
}

// TestWSAllBoardsLimit: a board new to a caller who follows 100 boards is
// not joined; limit says so.
func TestWSAllBoardsLimit(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	ctx := context.Background()
	bob := taskboard.Actor{UserID: demo.Bob}
	for i := range 99 { // with board-1, 100
		if _, err := e.store.CreateBoard(ctx, bob, fmt.Sprint("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	r := newWSAllReader(t, e.bearerWS(e.bob), nil)
	r.joinAll("")
	r.until(func() bool { return len(r.last) == 100 })
	extra, err := e.store.CreateBoard(ctx, bob, "one too many")
	if err != nil {
		t.Fatal(err)
	}
	var limit rtMsg
	for limit.Type == "" {
		m := r.ws.mustNext()
		switch m.Type {
		case "following", "joined":
			t.Fatalf("got %s, want no 101st board followed", m.raw)
		case "limit":
			limit = m
		}
	}
	if limit.BoardID != extra.ID {
		t.Fatalf("limit %s, want the board %s", limit.raw, extra.ID)
	}
}

// TestPostgresWSAllBoardsAcrossInstances: a board Bob is added to, and one
// he creates, on another instance are announced on his join of *.
func TestPostgresWSAllBoardsAcrossInstances(t *testing.T) {
	dsn := dbtest.Postgres(t)
	e := newRTEnv(t, dsn, nil, nil)
	ctx := context.Background()
	other, err := taskboard.Open(ctx, dsn, &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r := newWSAllReader(t, e.bearerWS(e.bob), nil)
	r.joinAll("")
	r.until(func() bool { _, ok := r.last[demo.Board]; return ok })
	board, err := other.CreateBoard(ctx, taskboard.Actor{UserID: demo.Alice}, "Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.AddMember(ctx, taskboard.Actor{UserID: demo.Alice}, board.ID, taskboard.MemberRef{UserID: demo.Bob}); err != nil {
		t.Fatal(err)
	}
	got := r.until(func() bool { return r.last[board.ID] >= 1 })
	if len(got) == 0 || got[0].Type != "following" || got[0].Seq != 0 {
		t.Fatalf("messages %v, want following at 0 first", got)
	}
	if s := r.seqs[board.ID]; fmt.Sprint(s) != "[1]" {
		t.Errorf("added board's seqs: %v, want [1] (member_added)", s)
	}
	mine, err := other.CreateBoard(ctx, taskboard.Actor{UserID: demo.Bob}, "Bob's elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.CreateList(ctx, taskboard.Actor{UserID: demo.Bob}, mine.ID, taskboard.ListCreate{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	r.until(func() bool { return r.last[mine.ID] >= 1 })
}
