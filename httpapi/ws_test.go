package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// wsEvents reads messages until the logged event with seq upTo and returns
// the seqs of the logged events read.
func wsEvents(t *testing.T, ws *rtWS, upTo int64) []int64 {
	t.Helper()
	var seqs []int64
	for {
		m := ws.mustNext()
		if m.Seq == 0 || m.Type == "joined" || m.Type == "reset" {
			if m.Type == "reset" || m.Type == "error" {
				t.Fatalf("websocket: got %s, want events up to %d", m.raw, upTo)
			}
			continue
		}
		seqs = append(seqs, m.Seq)
		if m.Seq >= upTo {
			return seqs
		}
	}
}

// pingPong sends a ping and returns the messages received before the pong.
func pingPong(t *testing.T, ws *rtWS) []rtMsg {
	t.Helper()
	ws.send(`{"type":"ping"}`)
	var before []rtMsg
	for {
		m := ws.mustNext()
		if m.Type == "pong" {
			return before
		}
		before = append(before, m)
	}
}

func TestWSJoin(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	last := e.write(3, "task-1")
	ws := e.bearerWS(e.bob)

	ws.send(map[string]any{"type": "join", "boardId": "board-1", "after": 1})
	for _, want := range []int64{2, 3} {
		m := ws.mustNext()
		if m.Seq != want || m.Type != taskboard.EventTaskUpdated || m.BoardID != "board-1" || m.Task == nil {
			t.Fatalf("replay: got %s, want the task_updated envelope with seq %d", m.raw, want)
		}
	}
	joined := ws.expect("joined")
	if joined.BoardID != "board-1" || joined.Seq != last {
		t.Errorf("joined: got %s, want board-1 at seq %d", joined.raw, last)
	}
	p := ws.expect("presence")
	if p.BoardID != "board-1" || len(p.Users) != 1 || p.Users[0].ID != demo.Bob || p.Users[0].Name != "Bob" ||
		p.Users[0].Connections != 1 || p.Users[0].Since.IsZero() {
		t.Errorf("presence: got %s, want Bob alone with one connection", p.raw)
	}

	last = e.write(1, "task-2")
	rtSeqs(t, "live", wsEvents(t, ws, last), last-1, last)

	// Leave: nothing more from board-1.
	ws.send(`{"type":"leave","boardId":"board-1"}`)
	pingPong(t, ws)
	last = e.write(1, "task-2")
	if got := pingPong(t, ws); len(got) != 0 {
		t.Errorf("after leave: got %v, want nothing before the pong", got[0].raw)
	}

	// From now, after a rejoin.
	if replayed, seq := ws.join("board-1", -1); len(replayed) != 0 || seq != last {
		t.Errorf("join without after: replayed %v, joined at %d; want nothing, %d", replayed, seq, last)
	}
	// Joining again replaces the subscription and replays from after.
	if replayed, _ := ws.join("board-1", last-2); len(replayed) != 2 {
		t.Errorf("rejoin after %d: replayed %v, want 2 events", last-2, replayed)
	}
	last = e.write(1, "task-3")
	rtSeqs(t, "after rejoin", wsEvents(t, ws, last), last-1, last)
	if got := pingPong(t, ws); len(got) != 0 {
		t.Errorf("after rejoin: got %s, want each event once", got[0].raw)
	}

	// Boards the user may not see.
	for _, board := range []string{"nope", "board-1", "board-1\x00"} {
		c := ws
		if board == "board-1" {
			c = e.bearerWS(e.carol)
		}
		c.send(map[string]any{"type": "join", "boardId": board})
		if m := c.expect("error"); m.Error != "Board not found" || m.BoardID != board {
			t.Errorf("join %s: got %s, want Board not found", board, m.raw)
		}
	}
	ws.send(map[string]any{"type": "join", "boardId": "board-1", "after": 999})
	if m := ws.expect("reset"); m.BoardID != "board-1" || m.Reason != taskboard.ReasonAhead || m.Seq != last {
		t.Errorf("join after 999: got %s, want a reset (ahead) at %d", m.raw, last)
	}
}

func TestWSErrors(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	ws := e.bearerWS(e.bob)
	tests := []struct{ send, want string }{
		{`not json`, "Invalid JSON"},
		{`{"type":"dance"}`, "Unknown message type: dance"},
		{`{"boardId":"board-1"}`, "Missing field: type"},
		{`{"type":"join"}`, "Missing field: boardId"},
		{`{"type":"typing","boardId":"board-1"}`, "Missing field: taskId"},
		{`{"type":"join","boardId":"board-1","after":-3}`, "Invalid field: after must be a non-negative integer"},
		{`{"type":"typing","boardId":"board-1","taskId":"task-1"}`, "Not joined"},
		{`{"type":"typing","boardId":"board-1\u0000","taskId":"task-1"}`, "Not joined"},
	}
	for _, tt := range tests {
		ws.send(tt.send)
		if m := ws.expect("error"); m.Error != tt.want {
			t.Errorf("send %s: got %s, want error %q", tt.send, m.raw, tt.want)
		}
	}
	// Still open.
	pingPong(t, ws)
	// A message of exactly 64 KiB is read.
	pad := 64<<10 - len(`{"type":"ping","pad":""}`)
	ws.send(`{"type":"ping","pad":"` + strings.Repeat("x", pad) + `"}`)
	ws.expect("pong")
	// One byte more closes with 1009.
	ws.send(`{"type":"ping","pad":"` + strings.Repeat("x", pad+1) + `"}`)
	ws.wantClose(websocket.StatusMessageTooBig)
}

func TestWSOrigin(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	bob := "Bearer " + e.bob
	if _, resp, err := e.tryDialWS("", "Authorization", bob, "Origin", "http://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: err %v, want 403 before the upgrade", err)
	}
	// Even without credentials, the origin is checked first.
	if _, resp, err := e.tryDialWS("", "Origin", "http://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin without credentials: err %v, want 403", err)
	}
	// The server's own origin, and no origin at all (not a browser).
	e.dialWS("", "Authorization", bob, "Origin", e.srv.URL).join("board-1", -1)
	e.dialWS("", "Authorization", bob).join("board-1", -1)

	opts := rtOptions()
	opts.PublicURL = "https://board.example.com"
	opts.AllowedOrigins = []string{"https://app.example.com"}
	e2 := newRTEnv(t, dbtest.SQLite(t), opts, nil)
	bob2 := "Bearer " + e2.bob
	for origin, ok := range map[string]bool{
		"https://board.example.com": true, "https://app.example.com": true, e2.srv.URL: false, "https://evil.example": false,
	} {
		_, resp, err := e2.tryDialWS("", "Authorization", bob2, "Origin", origin)
		switch {
		case ok && err != nil:
			t.Errorf("origin %s: %v, want allowed", origin, err)
		case !ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden):
			t.Errorf("origin %s: err %v, want 403", origin, err)
		}
	}
}

func TestWSUnauthorized(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	for name, hdr := range map[string][]string{
		"no credentials": nil,
		"bad token":      {"Authorization", "Bearer tb_nope"},
		"bad cookie":     {"Cookie", httpapi.SessionCookie + "=nope"},
	} {
		ws := e.dialWS("", hdr...)
		if m := ws.expect("error"); m.Error != "Unauthorized" {
			t.Errorf("%s: got %s, want {\"type\":\"error\",\"error\":\"Unauthorized\"}", name, m.raw)
		}
		ws.wantClose(httpapi.StatusUnauthorized)
	}

	// A ticket works once; the cookie works from the page's origin.
	ticket := e.ticket(e.bob)
	e.dialWS("?ticket="+ticket).join("board-1", -1)
	ws := e.dialWS("?ticket=" + ticket)
	ws.expect("error")
	ws.wantClose(httpapi.StatusUnauthorized)
	cookie := httpapi.SessionCookie + "=" + e.sessionCookie(e.bob)
	e.dialWS("", "Cookie", cookie, "Origin", e.srv.URL).join("board-1", -1)
	if _, resp, err := e.tryDialWS("", "Cookie", cookie, "Origin", "http://evil.example"); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cookie from a foreign origin: err %v, want 403", err)
	}
}

// TestWSResumeWhileWriting closes and rejoins with after while writers keep
// writing: the seqs received are exactly contiguous.
func TestWSResumeWhileWriting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		const total = 60
		done := e.writeConcurrently(t, 2, total/2)
		var seqs []int64
		last := int64(0)
		for int64(len(seqs)) < total {
			ws := e.bearerWS(e.bob)
			replayed, _ := ws.join("board-1", last)
			seqs = append(seqs, replayed...)
			for i := 0; i < 5 && int64(len(seqs)) < total; {
				m := ws.mustNext()
				if m.Seq > 0 {
					seqs = append(seqs, m.Seq)
					i++
				}
			}
			last = seqs[len(seqs)-1]
			ws.close()
		}
		<-done
		rtSeqs(t, "rejoined WebSocket", seqs[:total], 0, total)
	})
}

func TestWSResets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, &taskboard.Options{HistoryEvents: 2, HistoryAge: time.Nanosecond})
		ctx := context.Background()
		last := e.write(5, "task-1")
		if err := e.store.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		bob := e.bearerWS(e.bob)
		bob.send(map[string]any{"type": "join", "boardId": "board-1", "after": 1})
		if m := bob.expect("reset"); m.BoardID != "board-1" || m.Reason != taskboard.ReasonHistoryTruncated || m.Seq != last {
			t.Errorf("join after 1: got %s, want a history_truncated reset at %d", m.raw, last)
		}

		other, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: demo.Alice}, "Other")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.store.AddMember(ctx, taskboard.Actor{UserID: demo.Alice}, other.ID, taskboard.MemberRef{UserID: demo.Bob}); err != nil {
			t.Fatal(err)
		}
		bob.join("board-1", -1)
		bob.join(other.ID, -1)
		alice := e.bearerWS(e.alice)
		alice.join("board-1", -1)
		alice.join(other.ID, -1)

		// Bob removed from board-1: a reset for board-1 only; the
		// connection stays open and keeps following the other board.
		if err := e.store.RemoveMember(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, demo.Bob); err != nil {
			t.Fatal(err)
		}
		removedAt := last + 3 // after the unassignment of Bob's two tasks
		for {
			m := bob.mustNext()
			if m.Type == "reset" {
				if m.BoardID != "board-1" || m.Reason != taskboard.ReasonAccessRevoked || m.Seq != removedAt {
					t.Fatalf("got %s, want an access_revoked reset of board-1 at %d", m.raw, removedAt)
				}
				break
			}
			if m.Seq > 0 {
				t.Fatalf("removed member got %s", m.raw)
			}
		}
		pingPong(t, bob)
		e.write(1, "task-1")
		title := "still here"
		if _, err := e.store.UpdateBoard(ctx, taskboard.Actor{UserID: demo.Alice}, other.ID, taskboard.BoardUpdate{Name: &title}); err != nil {
			t.Fatal(err)
		}
		for {
			m := bob.mustNext()
			if m.BoardID == "board-1" && m.Seq > 0 {
				t.Fatalf("after access_revoked, got %s", m.raw)
			}
			if m.Type == taskboard.EventBoardUpdated {
				break
			}
		}

		// The other board deleted: board_deleted, then a reset; board-1
		// still flows for Alice.
		if err := e.store.DeleteBoard(ctx, taskboard.Actor{UserID: demo.Alice}, other.ID); err != nil {
			t.Fatal(err)
		}
		for _, ws := range []*rtWS{alice, bob} {
			var got []string
			for len(got) < 2 {
				m := ws.mustNext()
				if m.BoardID == other.ID && (m.Type == taskboard.EventBoardDeleted || m.Type == "reset") {
					got = append(got, m.Type+"/"+m.Reason)
					if m.Seq != 3 { // member_added, board_updated, board_deleted
						t.Errorf("board deletion: got %s, want seq 3", m.raw)
					}
				}
			}
			if got[0] != taskboard.EventBoardDeleted+"/" || got[1] != "reset/"+taskboard.ReasonBoardDeleted {
				t.Errorf("board deletion: got %v, want board_deleted then a board_deleted reset", got)
			}
		}
		last = e.write(1, "task-2")
		if seqs := wsEvents(t, alice, last); seqs[len(seqs)-1] != last {
			t.Errorf("board-1 after the other board was deleted: %v", seqs)
		}
	})
}

// TestWSSlowConsumer stalls the server's writes to a WebSocket client: the
// connection is closed with 4008 once the client is back, or abruptly when
// even the close cannot get through; either way a rejoin loses nothing.
func TestWSSlowConsumer(t *testing.T) {
	for _, tt := range []struct {
		name   string
		abrupt bool
	}{{"4008", false}, {"abrupt", true}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newRTEnv(t, dbtest.SQLite(t), nil, &taskboard.Options{SubscriberBuffer: 8})
			ws := e.bearerWS(e.bob)
			_, from := ws.join("board-1", -1)
			e.gate.pause()
			last := e.write(160, "task-1")
			rtWaitFor(t, "the subscription to be dropped", func() bool { return e.store.Stats().Subscriptions == 0 })
			if tt.abrupt {
				// Not even the close frame gets through: the server drops
				// the connection after a short while.
				select {
				case <-ws.done:
				case <-time.After(rtWait):
					t.Fatal("the stalled connection was not dropped")
				}
			}
			e.gate.resume()
			var seqs []int64
			for {
				m, ok := ws.next()
				if !ok {
					break
				}
				if m.Seq > 0 {
					seqs = append(seqs, m.Seq)
				}
			}
			code := websocket.CloseStatus(ws.err)
			if tt.abrupt && code != -1 || !tt.abrupt && code != httpapi.StatusSlowConsumer {
				t.Fatalf("slow consumer closed with %v (status %d)", ws.err, code)
			}
			got := from
			if len(seqs) > 0 {
				got = seqs[len(seqs)-1]
			}
			rtSeqs(t, "before the close", seqs, from, got)
			if got == last {
				t.Fatalf("the slow client received all %d events", last-from)
			}
			ws2 := e.bearerWS(e.bob)
			replayed, _ := ws2.join("board-1", got)
			rtSeqs(t, "rejoined", replayed, got, last)
		})
	}
}

func TestWSPingTimeout(t *testing.T) {
	opts := rtOptions()
	opts.PingInterval = 50 * time.Millisecond
	opts.PongTimeout = 500 * time.Millisecond
	e := newRTEnv(t, dbtest.SQLite(t), opts, nil)
	live := e.bearerWS(e.bob)
	live.join("board-1", -1)

	// A peer that never reads never answers pings.
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	silent, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.alice}}})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.CloseNow()
	e.waitConns(rtCounts{Total: 2, WebSocket: 2, ByBoard: map[string]int{"board-1": 1}})
	e.waitConns(rtCounts{Total: 1, WebSocket: 1, ByBoard: map[string]int{"board-1": 1}})
	// The live one answered several pings meanwhile and is still there.
	pingPong(t, live)
}

func TestWSHandlerClose(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	ws := e.bearerWS(e.bob)
	ws.join("board-1", -1)
	s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
	s.preamble()
	e.api.Close()
	ws.wantClose(websocket.StatusGoingAway)
	// Bob's join over the WebSocket may reach the stream as user_joined
	// and presence after it opened: the fan-out runs on its own goroutine.
	s.wantEndAfterEphemeral()
	if _, resp, err := e.tryDialWS("", "Authorization", "Bearer "+e.bob); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v, want 503", err)
	}
	if _, r := e.tryOpenSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob); r == nil || r.Status != http.StatusServiceUnavailable {
		t.Errorf("SSE after Close: %+v, want 503", r)
	}
}
