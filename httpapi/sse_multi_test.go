package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// parseTestCursor reads a composite cursor "a:1,b:2".
func parseTestCursor(t *testing.T, id string) map[string]int64 {
	t.Helper()
	c := make(map[string]int64)
	if id == "" {
		return c
	}
	for _, part := range strings.Split(id, ",") {
		i := strings.LastIndexByte(part, ':')
		seq, err := strconv.ParseInt(part[i+1:], 10, 64)
		if i <= 0 || err != nil {
			t.Fatalf("cursor %q: bad part %q", id, part)
		}
		c[part[:i]] = seq
	}
	return c
}

// multiReader reads a multi-board stream, checking that each board's
// logged events come once and in seq order and that every frame id is the
// cursor of what was delivered.
type multiReader struct {
	t      *testing.T
	s      *rtSSE
	last   map[string]int64
	seqs   map[string][]int64
	lastID string
}

// connected reads the preamble and returns the connected seqs.
func (r *multiReader) connected() map[string]int64 {
	r.t.Helper()
	f := r.s.mustNext()
	if f.Retry != "2000" {
		r.t.Fatalf("first frame %+v, want retry: 2000", f)
	}
	f = r.s.mustNext()
	var m struct {
		Type string           `json:"type"`
		Seqs map[string]int64 `json:"seqs"`
	}
	if err := json.Unmarshal([]byte(f.Data), &m); err != nil || m.Type != "connected" || !f.HasID {
		r.t.Fatalf("second frame %+v, want connected with an id", f)
	}
	if got := parseTestCursor(r.t, f.ID); fmt.Sprint(got) != fmt.Sprint(m.Seqs) {
		r.t.Fatalf("connected: id %q, seqs %v: want the same", f.ID, m.Seqs)
	}
	r.last = make(map[string]int64)
	for b, seq := range m.Seqs {
		r.last[b] = seq
	}
	r.seqs = make(map[string][]int64)
	r.lastID = f.ID
	return m.Seqs
}

// until reads frames until done; it returns the frames that are neither
// logged events nor heartbeats (resets, following, limit, ephemeral).
func (r *multiReader) until(done func() bool) []rtFrame {
	r.t.Helper()
	var other []rtFrame
	for !done() {
		f := r.s.mustNext()
		m := rtDecode(r.t, []byte(f.Data))
		switch {
		case f.Event == "reset" || f.Event == "following":
			cur := parseTestCursor(r.t, f.ID)
			if cur[m.BoardID] != m.Seq {
				r.t.Fatalf("%s frame %+v: id does not hold the board at its seq", f.Event, f)
			}
			if f.Event == "following" || m.Reason == taskboard.ReasonHistoryTruncated || m.Reason == taskboard.ReasonAhead {
				r.last[m.BoardID] = m.Seq
			} else {
				delete(r.last, m.BoardID)
			}
			r.lastID = f.ID
			other = append(other, f)
		case f.HasID:
			if m.BoardID == "" || m.Seq != r.last[m.BoardID]+1 {
				r.t.Fatalf("event %s of board %q seq %d: want seq %d", m.Type, m.BoardID, m.Seq, r.last[m.BoardID]+1)
			}
			r.last[m.BoardID] = m.Seq
			r.seqs[m.BoardID] = append(r.seqs[m.BoardID], m.Seq)
			if got, want := parseTestCursor(r.t, f.ID), fmt.Sprint(r.last); fmt.Sprint(got) != want {
				r.t.Fatalf("frame id %q: want the cursor %s", f.ID, want)
			}
			r.lastID = f.ID
		default:
			other = append(other, f)
		}
	}
	return other
}

// restart serves e's store with a new Handler behind a new server, as a
// restarted process would, after closing the old ones.
func (e *rtEnv) restart() *rtEnv {
	e.t.Helper()
	e.api.Close()
	e.srv.Close()
	n := &rtEnv{t: e.t, store: e.store, api: httpapi.New(e.store, rtOptions()), gate: &rtGate{}, client: &http.Client{Transport: &http.Transport{}}, testUsers: e.testUsers}
	n.srv = httptest.NewServer(n.api)
	e.t.Cleanup(n.client.CloseIdleConnections)
	e.t.Cleanup(n.srv.Close)
	e.t.Cleanup(n.api.Close)
	return n
}

// writeBoards makes n writes on each board at once, one writer per board.
func (e *rtEnv) writeBoards(lists map[string]string, n int) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(lists))
	for _, list := range lists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if _, err := e.store.CreateTask(context.Background(), taskboard.Actor{UserID: demo.Alice}, taskboard.TaskCreate{ListID: list, Title: fmt.Sprint("t", i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatalf("CreateTask: %v", err)
	}
}

// TestMultiSSEResumeAfterRestart follows three boards with writers on
// each, resumes with the composite cursor after the server restarted, and
// gets every board's events exactly once: 1..n on each.
func TestMultiSSEResumeAfterRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		lists := make(map[string]string)
		for _, name := range []string{"One", "Two", "Three"} {
			b, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: demo.Alice}, name)
			if err != nil {
				t.Fatal(err)
			}
			l, err := e.store.CreateList(ctx, taskboard.Actor{UserID: demo.Alice}, b.ID, taskboard.ListCreate{Name: "L"})
			if err != nil {
				t.Fatal(err)
			}
			lists[b.ID] = l.ID
		}
		var ids []string
		for id := range lists {
			ids = append(ids, id)
		}
		path := "/events?boards=" + strings.Join(ids, ",")
		auth := []string{"Authorization", "Bearer " + e.alice}
		// From the start: every board's seq 1 (its list) on.
		after := ids[0] + ":0," + ids[1] + ":0," + ids[2] + ":0"
		r := &multiReader{t: t, s: e.openSSE(path+"&after="+after, auth...)}
		if seqs := r.connected(); len(seqs) != 3 || seqs[ids[0]] != 0 {
			t.Fatalf("connected seqs %v, want the three boards at 0", seqs)
		}
		byBoard := map[string]int{ids[0]: 1, ids[1]: 1, ids[2]: 1}
		e.waitConns(rtCounts{Total: 1, SSE: 1, ByBoard: byBoard, MultiBoard: 1, MultiBoardFollows: 3})
		metrics := e.do(http.MethodGet, "/metrics", "", "Authorization", "Bearer "+rtAdminToken)
		if !strings.Contains(string(metrics.Body), `taskboard_multi_board_connections{transport="sse"} 1`) {
			t.Errorf("/metrics: want taskboard_multi_board_connections{transport=\"sse\"} 1 in\n%s", metrics.Body)
		}
		const n = 20
		e.writeBoards(lists, n)
		r.until(func() bool { return r.last[ids[0]] >= 5 && r.last[ids[1]] >= 5 && r.last[ids[2]] >= 5 })
		saved, seen := r.lastID, r.seqs
		r.s.close()

		e2 := e.restart()
		e2.writeBoards(lists, n)
		r2 := &multiReader{t: t, s: e2.openSSE(path, append(auth, "Last-Event-ID", saved)...)}
		seqs := r2.connected()
		if fmt.Sprint(seqs) != fmt.Sprint(parseTestCursor(t, saved)) {
			t.Fatalf("connected after resume: %v, want the cursor %s", seqs, saved)
		}
		r2.until(func() bool {
			for _, id := range ids {
				if r2.last[id] < 2*n+1 {
					return false
				}
			}
			return true
		})
		for _, id := range ids {
			all := append(append([]int64(nil), seen[id]...), r2.seqs[id]...)
			for i, seq := range all {
				if seq != int64(i+1) {
					t.Fatalf("board %s: seqs %v, want 1..%d", id, all, 2*n+1)
				}
			}
			if len(all) != 2*n+1 {
				t.Fatalf("board %s: %d events, want %d", id, len(all), 2*n+1)
			}
		}
	})
}

// TestMultiSSEAllBoards follows every board of Bob's (*): a board he is
// added to, and one he creates, are announced by following and followed.
func TestMultiSSEAllBoards(t *testing.T) {
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
		r := &multiReader{t: t, s: e.openSSE("/events?boards=*", "Authorization", "Bearer "+e.bob)}
		seqs := r.connected()
		if _, ok := seqs[demo.Board]; !ok || len(seqs) != 1 {
			t.Fatalf("connected seqs %v, want board-1 alone", seqs)
		}
		if _, _, err := e.store.AddMember(ctx, alice, other.ID, taskboard.MemberRef{UserID: demo.Bob}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.CreateList(ctx, alice, other.ID, taskboard.ListCreate{Name: "after"}); err != nil {
			t.Fatal(err)
		}
		frames := r.until(func() bool { return r.last[other.ID] >= 3 })
		if len(frames) == 0 || frames[0].Event != "following" || rtDecode(t, []byte(frames[0].Data)).Seq != 1 {
			t.Fatalf("frames before the added board's events: %+v, want following at seq 1", frames)
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
		r.until(func() bool { return r.last[mine.ID] >= 1 })
		if got := r.seqs[mine.ID]; fmt.Sprint(got) != "[1]" {
			t.Errorf("created board's seqs: %v, want [1]", got)
		}
	})
}

// TestMultiSSEResets: a board deleted while followed gets board_deleted
// and a reset while the others go on; a cursor naming a board deleted
// while away gets a reset right after connected.
func TestMultiSSEResets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		alice := taskboard.Actor{UserID: demo.Alice}
		auth := []string{"Authorization", "Bearer " + e.alice}
		doomed, err := e.store.CreateBoard(ctx, alice, "Doomed")
		if err != nil {
			t.Fatal(err)
		}
		path := "/events?boards=" + demo.Board + "," + doomed.ID
		r := &multiReader{t: t, s: e.openSSE(path, auth...)}
		r.connected()
		if err := e.store.DeleteBoard(ctx, alice, doomed.ID); err != nil {
			t.Fatal(err)
		}
		frames := r.until(func() bool { _, ok := r.last[doomed.ID]; return !ok })
		m := rtDecode(t, []byte(frames[len(frames)-1].Data))
		if m.Reason != taskboard.ReasonBoardDeleted || m.BoardID != doomed.ID || m.Seq != 1 {
			t.Fatalf("reset %+v, want board_deleted of %s at 1", m, doomed.ID)
		}
		if got := r.seqs[doomed.ID]; fmt.Sprint(got) != "[1]" {
			t.Errorf("deleted board's events: %v, want board_deleted (1)", got)
		}
		want := e.write(2, "task-1")
		r.until(func() bool { return r.last[demo.Board] >= want })
		if _, ok := parseTestCursor(t, r.lastID)[doomed.ID]; ok {
			t.Errorf("id %q still names the deleted board", r.lastID)
		}
		r.s.close()

		// Resuming with a cursor naming the deleted board.
		saved := fmt.Sprintf("%s:%d,%s:0", demo.Board, want, doomed.ID)
		r = &multiReader{t: t, s: e.openSSE(path, append(auth, "Last-Event-ID", saved)...)}
		if seqs := r.connected(); len(seqs) != 1 || seqs[demo.Board] != want {
			t.Fatalf("connected %v, want board-1 at %d alone", seqs, want)
		}
		r.last[doomed.ID] = 0
		frames = r.until(func() bool { _, ok := r.last[doomed.ID]; return !ok })
		if m := rtDecode(t, []byte(frames[0].Data)); m.Reason != taskboard.ReasonAccessRevoked || m.Seq != 0 {
			t.Fatalf("reset %+v, want access_revoked at the cursor's 0", m)
		}
		want = e.write(1, "task-1")
		r.until(func() bool { return r.last[demo.Board] >= want })

		// Fresh, a board not visible is 404; more than 100 ids 400.
		e.get(e.alice, "/events?boards="+demo.Board+","+doomed.ID).want(t, http.StatusNotFound, nil)
		many := make([]string, 101)
		for i := range many {
			many[i] = fmt.Sprint("b", i)
		}
		e.get(e.alice, "/events?boards="+strings.Join(many, ",")).want(t, http.StatusBadRequest, nil)
		e.get(e.alice, "/events?boards=").want(t, http.StatusBadRequest, nil)
		e.get(e.alice, "/events?boards="+demo.Board+"&after=nonsense").want(t, http.StatusBadRequest, nil)
	})
}

// TestMultiPoll long-polls two boards with a composite cursor: what is in
// the logs comes at once, a held poll answers the first write of either
// board, a timeout keeps the cursor, and a board deleted while away comes
// as a reset event and leaves the cursor.
func TestMultiPoll(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		alice := taskboard.Actor{UserID: demo.Alice}
		other, err := e.store.CreateBoard(ctx, alice, "Other")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.CreateList(ctx, alice, other.ID, taskboard.ListCreate{Name: "L"}); err != nil {
			t.Fatal(err)
		}
		type body struct {
			Data    []rtMsg `json:"data"`
			Cursor  string  `json:"cursor"`
			More    bool    `json:"more"`
			Timeout bool    `json:"timeout"`
		}
		boards := "/poll?boards=" + demo.Board + "," + other.ID
		b1 := e.seq(demo.Board)
		var got body
		e.get(e.alice, fmt.Sprintf("%s&after=%s:%d,%s:0&timeout=5", boards, demo.Board, b1, other.ID)).want(t, http.StatusOK, &got)
		if len(got.Data) != 1 || got.Data[0].BoardID != other.ID || got.Data[0].Seq != 1 || got.Timeout {
			t.Fatalf("poll from the cursor: %+v, want the other board's seq 1", got)
		}
		cur := parseTestCursor(t, got.Cursor)
		if cur[demo.Board] != b1 || cur[other.ID] != 1 {
			t.Fatalf("cursor %q, want %s:%d and %s:1", got.Cursor, demo.Board, b1, other.ID)
		}

		// Held: the next write of board-1 answers it.
		done := make(chan body, 1)
		go func() {
			var held body
			r := e.get(e.alice, boards+"&after="+got.Cursor+"&timeout=30")
			if r.Status == http.StatusOK {
				_ = json.Unmarshal(r.Body, &held)
			}
			done <- held
		}()
		rtWaitFor(t, "the held poll", func() bool { return e.admin().LongPoll >= 1 })
		want := e.write(1, "task-1")
		held := <-done
		if len(held.Data) != 1 || held.Data[0].Seq != want || held.Data[0].BoardID != demo.Board {
			t.Fatalf("held poll: %+v, want board-1's seq %d", held, want)
		}

		// Nothing new: a timeout with the same cursor.
		var idle body
		e.get(e.alice, boards+"&after="+held.Cursor+"&timeout=1").want(t, http.StatusOK, &idle)
		if !idle.Timeout || len(idle.Data) != 0 || idle.Cursor != held.Cursor {
			t.Fatalf("idle poll: %+v, want a timeout with cursor %q", idle, held.Cursor)
		}

		if err := e.store.DeleteBoard(ctx, alice, other.ID); err != nil {
			t.Fatal(err)
		}
		var gone body
		e.get(e.alice, boards+"&after="+held.Cursor+"&timeout=5").want(t, http.StatusOK, &gone)
		if len(gone.Data) != 1 || gone.Data[0].Type != "reset" || gone.Data[0].BoardID != other.ID || gone.Data[0].Reason != taskboard.ReasonAccessRevoked {
			t.Fatalf("poll after the deletion: %+v, want a reset of %s", gone, other.ID)
		}
		if _, ok := parseTestCursor(t, gone.Cursor)[other.ID]; ok {
			t.Errorf("cursor %q still names the deleted board", gone.Cursor)
		}
		e.get(e.alice, boards).want(t, http.StatusNotFound, nil)
		e.get(e.alice, "/poll?boards="+demo.Board+"&after=x").want(t, http.StatusBadRequest, nil)
	})
}

// TestMultiSSELimit: a * stream follows at most 100 boards; the 101st
// board the caller gets is announced with limit and not followed, and a
// caller on more than 100 boards cannot open a * stream.
func TestMultiSSELimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		bob := taskboard.Actor{UserID: demo.Bob}
		for i := range 99 { // with board-1, 100
			if _, err := e.store.CreateBoard(ctx, bob, fmt.Sprint("b", i)); err != nil {
				t.Fatal(err)
			}
		}
		r := &multiReader{t: t, s: e.openSSE("/events?boards=*", "Authorization", "Bearer "+e.bob)}
		if seqs := r.connected(); len(seqs) != 100 {
			t.Fatalf("connected: %d boards, want 100", len(seqs))
		}
		extra, err := e.store.CreateBoard(ctx, bob, "one too many")
		if err != nil {
			t.Fatal(err)
		}
		limit := r.s.mustNext()
		for limit.Event != "limit" {
			if limit.Event == "following" {
				t.Fatalf("got %+v, want no 101st board followed", limit)
			}
			limit = r.s.mustNext()
		}
		if m := rtDecode(t, []byte(limit.Data)); m.Type != "limit" || m.BoardID != extra.ID || limit.HasID {
			t.Fatalf("limit frame %+v, want {\"type\":\"limit\",\"boardId\":%q} without id", limit, extra.ID)
		}
		for _, path := range []string{"/events?boards=*", "/poll?boards=*"} {
			if r := e.get(e.bob, path).want(t, http.StatusBadRequest, nil); !strings.Contains(string(r.Body), "Too many boards") {
				t.Errorf("GET %s: body %s, want Too many boards", path, r.Body)
			}
		}
	})
}

// TestPostgresMultiSSEAllBoardsAcrossInstances: a board Bob is added to,
// and one he creates, on another instance are announced on his * stream.
func TestPostgresMultiSSEAllBoardsAcrossInstances(t *testing.T) {
	dsn := dbtest.Postgres(t)
	e := newRTEnv(t, dsn, nil, nil)
	ctx := context.Background()
	other, err := taskboard.Open(ctx, dsn, &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r := &multiReader{t: t, s: e.openSSE("/events?boards=*", "Authorization", "Bearer "+e.bob)}
	r.connected()
	board, err := other.CreateBoard(ctx, taskboard.Actor{UserID: demo.Alice}, "Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.AddMember(ctx, taskboard.Actor{UserID: demo.Alice}, board.ID, taskboard.MemberRef{UserID: demo.Bob}); err != nil {
		t.Fatal(err)
	}
	frames := r.until(func() bool { return r.last[board.ID] >= 1 })
	if len(frames) == 0 || frames[0].Event != "following" {
		t.Fatalf("frames %+v, want following first", frames)
	}
	if got := r.seqs[board.ID]; fmt.Sprint(got) != "[1]" {
		t.Errorf("added board's seqs: %v, want [1] (member_added)", got)
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

// TestMultiSSESlowConsumer: a board whose subscription drops a stream that
// fell behind is taken up again from its last delivered seq, on the same
// stream, losing nothing.
func TestMultiSSESlowConsumer(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, &taskboard.Options{SubscriberBuffer: 8})
	ctx := context.Background()
	other, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: demo.Bob}, "Other")
	if err != nil {
		t.Fatal(err)
	}
	r := &multiReader{t: t, s: e.openSSE("/events?boards="+demo.Board+","+other.ID, "Authorization", "Bearer "+e.bob)}
	from := r.connected()[demo.Board]
	e.gate.pause()
	last := e.write(40, "task-1")
	// The hub drops the board's subscription. Either the stream is stuck
	// in its gated write, and the subscription stays dropped until it is
	// taken up again after the resume, or the stream saw the drop at once
	// and counted it (it takes the board up again at once too, so the
	// count of subscriptions may be back to 2 before it is looked at).
	rtWaitFor(t, "board-1's subscription to be dropped", func() bool {
		return e.store.Stats().Subscriptions == 1 || e.metricValue(`taskboard_slow_consumer_drops_total{transport="sse"}`) >= 1
	})
	e.gate.resume()
	r.until(func() bool { return r.last[demo.Board] >= last })
	if n := int64(len(r.seqs[demo.Board])); n != last-from {
		t.Fatalf("got %d events, want %d", n, last-from)
	}
	if v := e.metricValue(`taskboard_slow_consumer_drops_total{transport="sse"}`); v != 1 {
		t.Errorf("SSE slow consumer drops: %v, want 1", v)
	}
}

// TestMultiSSEClientLeaves closes a many-board stream's connection from
// the client side: the server notices (the stream holds its connection
// itself, with a reader of its own), ends the stream and releases every
// board's subscription.
func TestMultiSSEClientLeaves(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		other, err := e.store.CreateBoard(context.Background(), taskboard.Actor{UserID: demo.Bob}, "Other")
		if err != nil {
			t.Fatal(err)
		}
		before := e.store.Stats().Subscriptions
		r := &multiReader{t: t, s: e.openSSE("/events?boards="+demo.Board+","+other.ID, "Authorization", "Bearer "+e.bob)}
		r.connected()
		e.waitConns(rtCounts{Total: 1, SSE: 1, ByBoard: map[string]int{demo.Board: 1, other.ID: 1}, MultiBoard: 1, MultiBoardFollows: 2})
		if got := e.store.Stats().Subscriptions; got != before+2 {
			t.Fatalf("%d subscriptions with the stream open, want %d", got, before+2)
		}
		r.s.close()
		e.waitConns(rtCounts{ByBoard: map[string]int{}})
		rtWaitFor(t, "the stream's subscriptions to end", func() bool { return e.store.Stats().Subscriptions == before })
	})
}
