package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// nextOfType reads messages until one of type typ.
func (ws *rtWS) nextOfType(typ string) rtMsg {
	ws.t.Helper()
	for {
		if m := ws.mustNext(); m.Type == typ {
			return m
		}
	}
}

// nextEvent reads SSE frames until one of event type typ.
func (s *rtSSE) nextEvent(typ string) rtFrame {
	s.t.Helper()
	for {
		if f := s.mustNext(); f.Event == typ {
			return f
		}
	}
}

// quiet fails if ws receives a message of one of types within d.
func (ws *rtWS) quiet(d time.Duration, types ...string) {
	ws.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case data, ok := <-ws.msgs:
			if !ok {
				ws.t.Fatalf("websocket ended: %v", ws.err)
			}
			m := rtDecode(ws.t, data)
			for _, typ := range types {
				if m.Type == typ {
					ws.t.Fatalf("got %s, want no %v within %v", m.raw, types, d)
				}
			}
		case <-timer.C:
			return
		}
	}
}

// presence returns GET /boards/board-1/presence as a map of user to entry.
func (e *rtEnv) presence(token string) map[string]taskboard.PresenceEntry {
	e.t.Helper()
	var body struct {
		Data []taskboard.PresenceEntry `json:"data"`
	}
	e.get(token, "/boards/board-1/presence").want(e.t, http.StatusOK, &body)
	out := make(map[string]taskboard.PresenceEntry)
	for _, p := range body.Data {
		out[p.ID] = p
	}
	return out
}

func TestTyping(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	alice := e.bearerWS(e.alice)
	alice.join("board-1", -1)
	bob := e.bearerWS(e.bob)
	bob.join("board-1", -1)
	bobSSE := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
	bobSSE.preamble()

	check := func(m rtMsg, typ, taskID string) {
		t.Helper()
		if m.Type != typ || m.BoardID != "board-1" || m.TaskID != taskID || m.User == nil ||
			m.User.ID != demo.Alice || m.User.Name != "Alice" || m.Seq != 0 {
			t.Fatalf("got %s, want %s of %s by Alice", m.raw, typ, taskID)
		}
	}
	checkSSE := func(f rtFrame, typ, taskID string) {
		t.Helper()
		if f.HasID {
			t.Errorf("SSE %s frame has an id: %+v", typ, f)
		}
		check(rtDecode(t, []byte(f.Data)), typ, taskID)
	}

	// typing reaches the board's other connections on both transports,
	// then lapses by itself.
	start := time.Now()
	alice.send(`{"type":"typing","boardId":"board-1","taskId":"task-1"}`)
	check(bob.nextOfType(taskboard.EventUserTyping), taskboard.EventUserTyping, "task-1")
	checkSSE(bobSSE.nextEvent(taskboard.EventUserTyping), taskboard.EventUserTyping, "task-1")
	check(bob.nextOfType(taskboard.EventUserStoppedTyping), taskboard.EventUserStoppedTyping, "task-1")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("typing lapsed after %v, want TypingTimeout (300ms)", d)
	}
	checkSSE(bobSSE.nextEvent(taskboard.EventUserStoppedTyping), taskboard.EventUserStoppedTyping, "task-1")

	// stop_typing; typing in another task stops the first.
	alice.send(`{"type":"typing","boardId":"board-1","taskId":"task-2"}`)
	alice.send(`{"type":"typing","boardId":"board-1","taskId":"task-3"}`)
	alice.send(`{"type":"stop_typing","boardId":"board-1","taskId":"task-3"}`)
	for _, want := range []struct{ typ, task string }{
		{taskboard.EventUserTyping, "task-2"}, {taskboard.EventUserStoppedTyping, "task-2"},
		{taskboard.EventUserTyping, "task-3"}, {taskboard.EventUserStoppedTyping, "task-3"},
	} {
		check(bob.mustNext(), want.typ, want.task)
	}

	// Never echoed to the sender.
	for _, m := range pingPong(t, alice) {
		if m.Type == taskboard.EventUserTyping || m.Type == taskboard.EventUserStoppedTyping {
			t.Errorf("the sender got its own %s", m.raw)
		}
	}
	// No lapse after an explicit stop.
	bob.quiet(400*time.Millisecond, taskboard.EventUserStoppedTyping)

	// Leaving while typing stops the indicator.
	alice.send(`{"type":"typing","boardId":"board-1","taskId":"task-4"}`)
	check(bob.nextOfType(taskboard.EventUserTyping), taskboard.EventUserTyping, "task-4")
	alice.send(`{"type":"leave","boardId":"board-1"}`)
	check(bob.nextOfType(taskboard.EventUserStoppedTyping), taskboard.EventUserStoppedTyping, "task-4")
}

func TestPresence(t *testing.T) {
	dbtest.Each(t, testPresence)
}

func testPresence(t *testing.T, dsn string) {
	opts := rtOptions()
	opts.PresenceGrace = 400 * time.Millisecond
	e := newRTEnv(t, dsn, opts, nil)
	bob := e.bearerWS(e.bob)
	bob.join("board-1", -1)

	// Tab 1: a WebSocket. Alice gets the full list, Bob the change.
	tab1 := e.bearerWS(e.alice)
	tab1.send(`{"type":"join","boardId":"board-1"}`)
	tab1.expect("joined")
	p := tab1.expect("presence")
	if len(p.Users) != 2 || p.Users[0].ID != demo.Bob || p.Users[1].ID != demo.Alice ||
		p.Users[1].Name != "Alice" || p.Users[1].Connections != 1 || p.Users[0].Since.After(p.Users[1].Since) {
		t.Fatalf("presence list: got %s, want Bob then Alice, one connection each", p.raw)
	}
	if m := bob.expect(taskboard.EventUserJoined); m.BoardID != "board-1" || m.User == nil || m.User.ID != demo.Alice || m.User.Name != "Alice" {
		t.Fatalf("got %s, want user_joined of Alice", m.raw)
	}
	since := p.Users[1].Since

	// Tab 2: an SSE stream. Present once, with two connections.
	tab2 := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.alice)
	tab2.preamble()
	rtWaitFor(t, "Alice with two connections", func() bool { return e.presence(e.bob)[demo.Alice].Connections == 2 })
	if got := e.presence(e.bob); len(got) != 2 || !got[demo.Alice].Since.Equal(since) || got[demo.Bob].Connections != 1 {
		t.Errorf("presence with two tabs: %+v", got)
	}

	tab1.close()
	rtWaitFor(t, "Alice with one connection", func() bool { return e.presence(e.bob)[demo.Alice].Connections == 1 })
	closed := time.Now()
	tab2.close()
	if m := bob.mustNext(); m.Type != taskboard.EventUserLeft || m.User == nil || m.User.ID != demo.Alice {
		t.Fatalf("got %s, want user_left of Alice (and no user_joined for the second tab)", m.raw)
	}
	if d := time.Since(closed); d < opts.PresenceGrace {
		t.Errorf("user_left %v after the last tab closed, want the grace period (%v)", d, opts.PresenceGrace)
	}
	if got := e.presence(e.bob); len(got) != 1 {
		t.Errorf("presence after Alice left: %+v, want Bob alone", got)
	}

	// A reconnect within the grace period: neither user_left nor user_joined.
	tab3 := e.bearerWS(e.alice)
	tab3.join("board-1", -1)
	bob.expect(taskboard.EventUserJoined)
	since = e.presence(e.bob)[demo.Alice].Since
	tab4 := e.bearerWS(e.alice) // connected, not following yet
	pingPong(t, tab4)
	tab3.close()
	// Gone, but within the grace period: still listed, without connections.
	rtWaitFor(t, "Alice in her grace period", func() bool {
		p, ok := e.presence(e.bob)[demo.Alice]
		return ok && p.Connections == 0
	})
	tab4.join("board-1", -1)
	bob.quiet(2*opts.PresenceGrace, taskboard.EventUserLeft, taskboard.EventUserJoined)
	if got := e.presence(e.bob)[demo.Alice]; got.Connections != 1 || !got.Since.Equal(since) {
		t.Errorf("after a reconnect: %+v, want one connection since %v", got, since)
	}
	tab4.close()
	bob.expect(taskboard.EventUserLeft)

	e.get(e.carol, "/boards/board-1/presence").want(t, http.StatusNotFound, nil)
	e.get(e.bob, "/boards/nope/presence").want(t, http.StatusNotFound, nil)
}

func TestPresenceInMemory(t *testing.T) {
	var mu sync.Mutex
	var left []string
	gone := make(chan struct{}, 10)
	// On SQLite the store's presence is the in-memory one.
	store, err := taskboard.Open(context.Background(), dbtest.SQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := store.NewPresence(50*time.Millisecond, func(boardID string, u taskboard.User) {
		mu.Lock()
		left = append(left, boardID+"/"+u.ID)
		mu.Unlock()
		gone <- struct{}{}
	})
	ctx := context.Background()
	ann := taskboard.User{ID: "ann", Name: "Ann"}
	if joined, err := p.Join(ctx, "b", ann, "c1"); !joined || err != nil {
		t.Fatalf("first Join: %v, %v, want true, nil", joined, err)
	}
	if joined, _ := p.Join(ctx, "b", ann, "c2"); joined {
		t.Error("second connection: joined, want not")
	}
	p.Leave(ctx, "b", "ann", "c1")
	p.Leave(ctx, "b", "ann", "c2")
	if joined, _ := p.Join(ctx, "b", ann, "c3"); joined {
		t.Error("rejoin within grace: joined, want not")
	}
	p.Leave(ctx, "b", "ann", "c3")
	select {
	case <-gone:
	case <-time.After(rtWait):
		t.Fatal("no left callback")
	}
	list, _ := p.List(ctx, "b")
	mu.Lock()
	if len(list) != 0 || len(left) != 1 || left[0] != "b/ann" {
		t.Errorf("after the grace period: list %v, left %v", list, left)
	}
	mu.Unlock()

	// Close drops pending leaves.
	p.Join(ctx, "b", ann, "c4")
	p.Leave(ctx, "b", "ann", "c4")
	p.Close()
	if _, err := p.Join(ctx, "b", ann, "c5"); err == nil {
		t.Error("Join after Close: no error")
	}
	select {
	case <-gone:
		t.Error("left called after Close")
	case <-time.After(100 * time.Millisecond):
	}
}
