package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// sseEvents reads logged events from an SSE stream until one with seq
// upTo, checking their frames, and returns their seqs.
func sseEvents(t *testing.T, s *rtSSE, upTo int64) []int64 {
	t.Helper()
	var seqs []int64
	for {
		f := s.mustNext()
		if !f.HasID {
			continue // ephemeral
		}
		m := rtDecode(t, []byte(f.Data))
		if f.ID != strconv.FormatInt(m.Seq, 10) || f.Event != m.Type {
			t.Fatalf("SSE frame id %q event %q for %s: want id = seq and event = type", f.ID, f.Event, f.Data)
		}
		seqs = append(seqs, m.Seq)
		if m.Seq >= upTo {
			return seqs
		}
	}
}

func TestSSEStream(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	before := e.write(2, "task-1")

	s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
	h := s.resp.Header
	for k, v := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"} {
		if got := h.Get(k); got != v {
			t.Errorf("header %s: %q, want %q", k, got, v)
		}
	}
	if seq := s.preamble(); seq != before {
		t.Errorf("connected seq %d, want %d", seq, before)
	}

	// A title that would break a naive frame writer.
	ctx := context.Background()
	evil := "line one\n\ndata: {\"type\":\"forged\"}\r\nid: 999\nevent: reset"
	task, err := e.store.CreateTask(ctx, taskboard.Actor{UserID: demo.Alice}, taskboard.TaskCreate{ListID: "list-todo", Title: "x", Description: &evil})
	if err != nil {
		t.Fatal(err)
	}
	f := s.mustNext()
	m := rtDecode(t, []byte(f.Data))
	if f.ID != strconv.FormatInt(before+1, 10) || f.Event != taskboard.EventTaskCreated || m.Task == nil || m.Task.ID != task.ID {
		t.Fatalf("got frame %+v, want task_created with id %d", f, before+1)
	}
	if m.Task.Description == nil || *m.Task.Description != evil {
		t.Errorf("description came back as %q, want %q", *m.Task.Description, evil)
	}

	// Heartbeats come on an idle stream.
	timer := time.NewTimer(rtWait)
	defer timer.Stop()
	select {
	case f := <-s.frames:
		if f.Comment != "heartbeat" {
			t.Errorf("idle stream: got %+v, want a heartbeat", f)
		}
	case <-timer.C:
		t.Fatal("no heartbeat")
	}

	// 404 before streaming, 401 without credentials.
	if _, r := e.tryOpenSSE("/boards/board-1/events", "Authorization", "Bearer "+e.carol); r == nil || r.Status != http.StatusNotFound {
		t.Errorf("SSE for a non-member: %+v, want 404", r)
	}
	if _, r := e.tryOpenSSE("/boards/board-1/events"); r == nil || r.Status != http.StatusUnauthorized {
		t.Errorf("SSE without credentials: %+v, want 401", r)
	}
	if _, r := e.tryOpenSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob, "Last-Event-ID", "x"); r == nil || r.Status != http.StatusBadRequest {
		t.Errorf("SSE with Last-Event-ID x: %+v, want 400", r)
	}
}

func TestSSEResume(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	last := e.write(5, "task-1")

	s := e.openSSE("/boards/board-1/events?after=0", "Authorization", "Bearer "+e.bob)
	s.preamble()
	rtSeqs(t, "?after=0", sseEvents(t, s, last), 0, last)
	s.close()

	// Last-Event-ID wins over ?after=.
	s = e.openSSE("/boards/board-1/events?after=0", "Authorization", "Bearer "+e.bob, "Last-Event-ID", "3")
	s.preamble()
	rtSeqs(t, "Last-Event-ID: 3", sseEvents(t, s, last), 3, last)
}

// TestSSEResumeWhileWriting disconnects and resumes with Last-Event-ID
// while writers keep writing: the seqs received are exactly contiguous.
func TestSSEResumeWhileWriting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		const total = 60
		done := e.writeConcurrently(t, 2, total/2)
		var seqs []int64
		lastID := ""
		for round := 0; int64(len(seqs)) < total; round++ {
			hdr := []string{"Authorization", "Bearer " + e.bob}
			path := "/boards/board-1/events?after=0"
			if lastID != "" {
				hdr = append(hdr, "Last-Event-ID", lastID)
			}
			s := e.openSSE(path, hdr...)
			s.preamble()
			// Take a few events, then drop the connection.
			for i := 0; i < 7 && int64(len(seqs)) < total; {
				f := s.mustNext()
				if !f.HasID {
					continue
				}
				seqs = append(seqs, rtDecode(t, []byte(f.Data)).Seq)
				lastID = f.ID
				i++
			}
			s.close()
		}
		<-done
		rtSeqs(t, "resumed SSE", seqs, 0, total)
	})
}

// writeConcurrently starts writers goroutines that each make n changes to
// a task of board-1 of their own; the channel closes when all are done.
// Failures are reported with t.Error.
func (e *rtEnv) writeConcurrently(t *testing.T, writers, n int) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		taskID := "task-" + strconv.Itoa(w%4+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				title := taskID + " " + strconv.Itoa(i)
				if _, err := e.store.UpdateTask(context.Background(), taskboard.Actor{UserID: demo.Alice}, taskID, taskboard.TaskUpdate{Title: &title}); err != nil {
					t.Errorf("writer %s: %v", taskID, err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

func TestSSEAuth(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	// EventSource: the session cookie.
	cookie := e.sessionCookie(e.bob)
	s := e.openSSE("/boards/board-1/events", "Cookie", httpapi.SessionCookie+"="+cookie)
	s.preamble()
	// A ticket, single use.
	ticket := e.ticket(e.bob)
	s2 := e.openSSE("/boards/board-1/events?ticket=" + ticket)
	s2.preamble()
	if _, r := e.tryOpenSSE("/boards/board-1/events?ticket=" + ticket); r == nil || r.Status != http.StatusUnauthorized {
		t.Errorf("reused ticket: %+v, want 401", r)
	}
	last := e.write(1, "task-1")
	rtSeqs(t, "cookie stream", sseEvents(t, s, last), last-1, last)
	rtSeqs(t, "ticket stream", sseEvents(t, s2, last), last-1, last)
}

// sseReset reads frames until a reset, checks it, and checks the end of the
// stream.
func sseReset(t *testing.T, s *rtSSE, reason string, seq int64) {
	t.Helper()
	for {
		f := s.mustNext()
		if f.Event != "reset" {
			continue
		}
		m := rtDecode(t, []byte(f.Data))
		if m.Type != "reset" || m.Reason != reason || m.Seq != seq || f.ID != strconv.FormatInt(seq, 10) {
			t.Fatalf("reset frame %+v, want id %d and {\"type\":\"reset\",\"seq\":%d,\"reason\":%q}", f, seq, seq, reason)
		}
		s.wantEnd()
		return
	}
}

func TestSSEResets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, &taskboard.Options{HistoryEvents: 2, HistoryAge: time.Nanosecond})
		ctx := context.Background()
		last := e.write(5, "task-1")
		if err := e.store.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		bob := []string{"Authorization", "Bearer " + e.bob}

		s := e.openSSE("/boards/board-1/events", append(bob, "Last-Event-ID", "1")...)
		if seq := s.preamble(); seq != last {
			t.Errorf("connected seq before a reset: %d, want %d", seq, last)
		}
		sseReset(t, s, taskboard.ReasonHistoryTruncated, last)

		s = e.openSSE("/boards/board-1/events?after=99", bob...)
		s.preamble()
		sseReset(t, s, taskboard.ReasonAhead, last)

		// Removed while following: access_revoked at once.
		s = e.openSSE("/boards/board-1/events", bob...)
		s.preamble()
		if err := e.store.RemoveMember(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, demo.Bob); err != nil {
			t.Fatal(err)
		}
		// Bob's two tasks are unassigned first.
		sseReset(t, s, taskboard.ReasonAccessRevoked, last+3)

		// Deleted while following: board_deleted, then the reset.
		s = e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.alice)
		s.preamble()
		if err := e.store.DeleteBoard(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board); err != nil {
			t.Fatal(err)
		}
		f := s.mustNext()
		for !f.HasID {
			f = s.mustNext()
		}
		if f.Event != taskboard.EventBoardDeleted || f.ID != strconv.FormatInt(last+4, 10) {
			t.Fatalf("got %+v, want board_deleted with id %d", f, last+4)
		}
		sseReset(t, s, taskboard.ReasonBoardDeleted, last+4)
	})
}

// TestSSEOutlivesWriteTimeout runs a stream past the server's WriteTimeout
// and ReadTimeout.
func TestSSEOutlivesWriteTimeout(t *testing.T) {
	e := newRTEnvServer(t, dbtest.SQLite(t), nil, nil, func(srv *http.Server) {
		srv.WriteTimeout = 300 * time.Millisecond
		srv.ReadTimeout = 300 * time.Millisecond
	})
	s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
	s.preamble()
	ws := e.bearerWS(e.bob)
	ws.join("board-1", -1)
	deadline := time.Now().Add(time.Second)
	beats := 0
	for time.Now().Before(deadline) {
		f, ok := <-s.frames
		if !ok {
			t.Fatalf("stream ended after %d heartbeats: cut by the server's WriteTimeout", beats)
		}
		if f.Comment == "heartbeat" {
			beats++
		}
	}
	last := e.write(1, "task-1")
	rtSeqs(t, "SSE after the server timeouts", sseEvents(t, s, last), last-1, last)
	ws.send(`{"type":"ping"}`)
	for m := ws.mustNext(); m.Type != "pong"; m = ws.mustNext() {
	}
	if !strings.Contains(string(e.get(e.bob, "/users/me").Body), "user-bob") {
		t.Error("server stopped answering")
	}
}

// TestSSESlowConsumer stalls the server's writes to an SSE client until its
// subscription overflows: the stream ends, and resuming with Last-Event-ID
// loses nothing.
func TestSSESlowConsumer(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, &taskboard.Options{SubscriberBuffer: 8})
	s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
	from := s.preamble()
	e.gate.pause()
	last := e.write(40, "task-1")
	rtWaitFor(t, "the subscription to be dropped", func() bool { return e.store.Stats().Subscriptions == 0 })
	e.gate.resume()
	var seqs []int64
	lastID := strconv.FormatInt(from, 10)
	for {
		f, ok := s.next()
		if !ok {
			break
		}
		if f.HasID {
			seqs = append(seqs, rtDecode(t, []byte(f.Data)).Seq)
			lastID = f.ID
		}
	}
	got, _ := strconv.ParseInt(lastID, 10, 64)
	rtSeqs(t, "before the end", seqs, from, got)
	if got == last {
		t.Fatalf("the slow client received all %d events", last-from)
	}
	s2 := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob, "Last-Event-ID", lastID)
	s2.preamble()
	rtSeqs(t, "resumed", sseEvents(t, s2, last), got, last)
	if v := e.metricValue(`taskboard_slow_consumer_drops_total{transport="sse"}`); v != 1 {
		t.Errorf("SSE slow consumer drops: %v, want 1", v)
	}
}
