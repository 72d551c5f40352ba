package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

func TestWriteRateLimit(t *testing.T) {
	opts := rtOptions()
	opts.WriteRate, opts.WriteBurst = 0.5, 2
	e := newRTEnv(t, dbtest.SQLite(t), opts, nil)
	move := func(token, list string) *rtResp {
		return e.do("PATCH", "/tasks/task-1/move", `{"listId":"`+list+`","position":0}`, "Authorization", "Bearer "+token)
	}
	move(e.alice, "list-done").want(t, http.StatusOK, nil)
	move(e.alice, "list-todo").want(t, http.StatusOK, nil)
	seq := e.seq("board-1")
	res := move(e.alice, "list-done")
	res.want(t, http.StatusTooManyRequests, nil)
	if !strings.Contains(string(res.Body), "Too Many Requests") {
		t.Errorf("429 body %s, want it to say Too Many Requests", res.Body)
	}
	if n, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || n < 1 || n > 2 {
		t.Errorf("Retry-After %q, want 1 or 2 seconds", res.Header.Get("Retry-After"))
	}
	if got := e.seq("board-1"); got != seq {
		t.Errorf("board seq %d after a refused write, want %d", got, seq)
	}
	// Each user has a bucket of their own; reads are not limited.
	move(e.bob, "list-done").want(t, http.StatusOK, nil)
	for range 5 {
		e.get(e.alice, "/boards/board-1/tasks").want(t, http.StatusOK, nil)
	}
}

func TestConnectionLimit(t *testing.T) {
	opts := rtOptions()
	opts.MaxConnectionsPerUser = 2
	e := newRTEnv(t, dbtest.SQLite(t), opts, nil)
	first := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.alice)
	first.preamble()
	ws := e.bearerWS(e.alice)
	pingPong(t, ws)

	_, res := e.tryOpenSSE("/boards/board-1/events", "Authorization", "Bearer "+e.alice)
	if res == nil || res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: got %+v, want 429 with Retry-After", res)
	}
	if _, resp, err := e.tryDialWS("", "Authorization", "Bearer "+e.alice); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection as a WebSocket: err %v, response %v; want 429 before the upgrade", err, resp)
	}
	poll := e.do("GET", "/boards/board-1/poll?timeout=1", "", "Authorization", "Bearer "+e.alice)
	poll.want(t, http.StatusTooManyRequests, nil)

	// Another user is not affected; a closed connection frees its place.
	e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob).preamble()
	first.close()
	rtWaitFor(t, "a free connection for Alice", func() bool {
		s, _ := e.tryOpenSSE("/boards/board-1/events", "Authorization", "Bearer "+e.alice)
		if s != nil {
			s.close()
		}
		return s != nil
	})
}

func TestSubscriptionLimit(t *testing.T) {
	opts := rtOptions()
	opts.MaxSubscriptionsPerConnection = 1
	e := newRTEnv(t, dbtest.SQLite(t), opts, nil)
	board, err := e.store.CreateBoard(t.Context(), taskboard.Actor{UserID: demo.Alice}, "Second")
	if err != nil {
		t.Fatal(err)
	}
	ws := e.bearerWS(e.alice)
	ws.join("board-1", -1)
	ws.send(`{"type":"join","boardId":"` + board.ID + `"}`)
	m := ws.expect("error")
	if !strings.Contains(m.Error, "Too many subscriptions") || m.BoardID != board.ID {
		t.Fatalf("second join: got %s, want a too-many-subscriptions error for %s", m.raw, board.ID)
	}
	pingPong(t, ws) // the connection stays open
	// Rejoining the same board replaces its subscription, within the limit.
	ws.join("board-1", -1)
	ws.send(`{"type":"leave","boardId":"board-1"}`)
	ws.join(board.ID, -1)
}
