package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

type changesResp struct {
	Data      []taskboard.Task `json:"data"`
	Deleted   []string         `json:"deleted"`
	Timestamp string           `json:"timestamp"`
}

func TestShortPollSince(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	ctx := context.Background()

	var all changesResp
	e.get(e.alice, "/boards/board-1/updates").want(t, http.StatusOK, &all)
	if len(all.Data) != 4 || all.Deleted == nil || len(all.Deleted) != 0 {
		t.Fatalf("GET /updates without since: %d tasks, deleted %v; want 4 tasks and []", len(all.Data), all.Deleted)
	}
	stamp, err := time.Parse(time.RFC3339, all.Timestamp)
	if err != nil || stamp.Location() != time.UTC || time.Since(stamp) > time.Minute {
		t.Fatalf("timestamp %q: want now in RFC 3339 UTC (%v)", all.Timestamp, err)
	}

	since := time.Now().UTC()
	title := "Design the login page"
	if _, err := e.store.UpdateTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1", taskboard.TaskUpdate{Title: &title}); err != nil {
		t.Fatal(err)
	}
	list, err := e.store.CreateList(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, taskboard.ListCreate{Name: "Doomed"})
	if err != nil {
		t.Fatal(err)
	}
	var doomed []string
	for _, title := range []string{"a", "b"} {
		task, err := e.store.CreateTask(ctx, taskboard.Actor{UserID: demo.Alice}, taskboard.TaskCreate{ListID: list.ID, Title: title})
		if err != nil {
			t.Fatal(err)
		}
		doomed = append(doomed, task.ID)
	}
	if err := e.store.DeleteList(ctx, taskboard.Actor{UserID: demo.Alice}, list.ID, taskboard.ListDelete{IfVersion: 0}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.DeleteTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-2", taskboard.TaskDelete{IfVersion: 0}); err != nil {
		t.Fatal(err)
	}

	var c changesResp
	e.get(e.bob, "/boards/board-1/updates?since="+url.QueryEscape(since.Format(time.RFC3339Nano))).want(t, http.StatusOK, &c)
	if len(c.Data) != 1 || c.Data[0].ID != "task-1" || c.Data[0].Title != title {
		t.Errorf("changed tasks: got %+v, want task-1 only, retitled", c.Data)
	}
	want := append(slices.Clone(doomed), "task-2")
	slices.Sort(want)
	got := slices.Sorted(slices.Values(c.Deleted))
	if !slices.Equal(got, want) {
		t.Errorf("deleted: got %v, want %v (the deleted list's tasks and task-2)", got, want)
	}

	e.get(e.bob, "/boards/board-1/updates?since=yesterday").want(t, http.StatusBadRequest, nil)
	e.get(e.carol, "/boards/board-1/updates").want(t, http.StatusNotFound, nil)
	e.get(e.carol, "/boards/board-1/updates?after=0").want(t, http.StatusNotFound, nil)
	e.do(http.MethodGet, "/boards/board-1/updates", "").want(t, http.StatusUnauthorized, nil)
}

func TestShortPollAfter(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	last := e.write(5, "task-1")

	var p pollResp
	e.get(e.bob, "/boards/board-1/updates?after=0").want(t, http.StatusOK, &p)
	rtSeqs(t, "after=0", p.seqs(t), 0, last)
	if p.Seq != last || p.More {
		t.Errorf("after=0: seq %d more %v, want %d false", p.Seq, p.More, last)
	}
	if m := rtDecode(t, p.Data[0]); m.Type != taskboard.EventTaskUpdated || m.BoardID != "board-1" || m.Task == nil {
		t.Errorf("first event %s: want a task_updated envelope of board-1", m.raw)
	}

	e.get(e.bob, "/boards/board-1/updates?after=1&limit=2").want(t, http.StatusOK, &p)
	rtSeqs(t, "after=1&limit=2", p.seqs(t), 1, 3)
	if p.Seq != 3 || !p.More {
		t.Errorf("after=1&limit=2: seq %d more %v, want 3 true", p.Seq, p.More)
	}
	p = pollResp{}
	e.get(e.bob, "/boards/board-1/updates?after=5&limit=5000").want(t, http.StatusOK, &p)
	if p.Data == nil || len(p.Data) != 0 || p.Seq != 5 || p.More {
		t.Errorf("after=5: got %+v, want no events, seq 5, more false", p)
	}

	for _, q := range []string{"after=-1", "after=x", "after=1.5", "after=0&limit=0", "after=0&limit=x"} {
		e.get(e.bob, "/boards/board-1/updates?"+q).want(t, http.StatusBadRequest, nil)
	}
	if seq := e.get(e.bob, "/boards/board-1/updates?after=99").wantReset(t, taskboard.ReasonAhead); seq != last {
		t.Errorf("ahead reset seq %d, want %d", seq, last)
	}
}

func TestPollHistoryTruncated(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, &taskboard.Options{HistoryEvents: 2, HistoryAge: time.Nanosecond})
	last := e.write(6, "task-1")
	if err := e.store.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seq := e.get(e.bob, "/boards/board-1/updates?after=1").wantReset(t, taskboard.ReasonHistoryTruncated); seq != last {
		t.Errorf("history_truncated seq %d, want %d", seq, last)
	}
	r, _ := e.poll(e.bob, 1, 5)
	if seq := r.wantReset(t, taskboard.ReasonHistoryTruncated); seq != last {
		t.Errorf("long poll history_truncated seq %d, want %d", seq, last)
	}
	r, _ = e.poll(e.bob, last+1, 5)
	r.wantReset(t, taskboard.ReasonAhead)
	// The retained tail still resumes.
	var p pollResp
	e.get(e.bob, "/boards/board-1/updates?after="+rtItoa(last-2)).want(t, http.StatusOK, &p)
	rtSeqs(t, "retained tail", p.seqs(t), last-2, last)
}

func TestLongPoll(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	last := e.write(3, "task-1")

	// Events already there: answered at once.
	r, p := e.poll(e.bob, 0, 30)
	r.want(t, http.StatusOK, nil)
	rtSeqs(t, "poll after=0", p.seqs(t), 0, last)
	if p.Seq != last || p.More || p.Timeout || p.Timestamp == "" {
		t.Errorf("poll after=0: got seq %d more %v timeout %v timestamp %q", p.Seq, p.More, p.Timeout, p.Timestamp)
	}

	// Nothing new: the timeout answer.
	start := time.Now()
	r, p = e.poll(e.bob, last, 1)
	r.want(t, http.StatusOK, nil)
	if !p.Timeout || p.Seq != last || p.Data == nil || len(p.Data) != 0 {
		t.Errorf("poll timeout: got %s, want {\"data\":[],\"timeout\":true,\"seq\":%d}", r.Body, last)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("poll with timeout=1 answered after %v", d)
	}

	// Held, then answered by the next change.
	held := e.async(e.bob, "/boards/board-1/poll?after="+rtItoa(last))
	e.waitConns(rtCounts{Total: 1, LongPoll: 1, ByBoard: map[string]int{"board-1": 1}})
	last = e.write(1, "task-2")
	r = rtAwait(t, held).want(t, http.StatusOK, &p)
	rtSeqs(t, "held poll", p.seqs(t), last-1, last)

	// Without after: the next change.
	held = e.async(e.bob, "/boards/board-1/poll")
	e.waitConns(rtCounts{Total: 1, LongPoll: 1, ByBoard: map[string]int{"board-1": 1}})
	last = e.write(2, "task-3")
	p = pollResp{}
	rtAwait(t, held).want(t, http.StatusOK, &p)
	if seqs := p.seqs(t); len(seqs) == 0 || seqs[0] != last-1 {
		t.Errorf("poll without after: seqs %v, want to start at %d", seqs, last-1)
	}
	e.waitConns(rtCounts{ByBoard: map[string]int{}})

	for _, q := range []string{"timeout=0", "timeout=61", "timeout=x", "after=-2", "after=x"} {
		e.get(e.bob, "/boards/board-1/poll?"+q).want(t, http.StatusBadRequest, nil)
	}
	e.get(e.bob, "/boards/board-1/poll?after=999").wantReset(t, taskboard.ReasonAhead)
	e.get(e.carol, "/boards/board-1/poll?timeout=1").want(t, http.StatusNotFound, nil)
	e.get(e.bob, "/boards/nope/poll?timeout=1").want(t, http.StatusNotFound, nil)
}

func TestLongPollResets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()

		// A member removed while held.
		held := e.async(e.bob, "/boards/board-1/poll?timeout=30")
		e.waitConns(rtCounts{Total: 1, LongPoll: 1, ByBoard: map[string]int{"board-1": 1}})
		if err := e.store.RemoveMember(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, demo.Bob); err != nil {
			t.Fatal(err)
		}
		if seq := rtAwait(t, held).wantReset(t, taskboard.ReasonAccessRevoked); seq != e.seq("board-1") {
			t.Errorf("access_revoked seq %d, want %d", seq, e.seq("board-1"))
		}

		// The board deleted while held.
		board, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: demo.Alice}, "Short-lived")
		if err != nil {
			t.Fatal(err)
		}
		held = e.async(e.alice, "/boards/"+board.ID+"/poll?timeout=30")
		e.waitConns(rtCounts{Total: 1, LongPoll: 1, ByBoard: map[string]int{board.ID: 1}})
		if err := e.store.DeleteBoard(ctx, taskboard.Actor{UserID: demo.Alice}, board.ID); err != nil {
			t.Fatal(err)
		}
		rtAwait(t, held).wantReset(t, taskboard.ReasonBoardDeleted)
		e.get(e.alice, "/boards/"+board.ID+"/poll?timeout=1").want(t, http.StatusNotFound, nil)
	})
}

func TestLongPollHandlerClose(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	held := e.async(e.bob, "/boards/board-1/poll?after=0&timeout=60")
	// after=0 on a board without events: held.
	e.waitConns(rtCounts{Total: 1, LongPoll: 1, ByBoard: map[string]int{"board-1": 1}})
	closed := make(chan struct{})
	go func() { e.api.Close(); close(closed) }()
	var p pollResp
	rtAwait(t, held).want(t, http.StatusOK, &p)
	if !p.Timeout || p.Seq != 0 {
		t.Errorf("held poll at Close: got %+v, want the timeout answer", p)
	}
	select {
	case <-closed:
	case <-time.After(rtWait):
		t.Fatal("Handler.Close did not return")
	}
	r := e.get(e.bob, "/boards/board-1/poll?timeout=1")
	r.want(t, http.StatusServiceUnavailable, nil)
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 after Close: no Retry-After")
	}
}

// TestLongPollResumeWhileWriting polls on from each answer's seq while
// writers keep writing: the seqs received are exactly contiguous.
func TestLongPollResumeWhileWriting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		const total = 60
		done := e.writeConcurrently(t, 2, total/2)
		seqs, err := e.collectPoll(e.bob, total)
		if err != nil {
			t.Fatalf("long polling: %v after %d events", err, len(seqs))
		}
		<-done
		rtSeqs(t, "long polling", seqs, 0, total)
	})
}
