package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// message is the part of an event or message the tests look at.
type message struct {
	Type    string `json:"type"`
	Seq     int64  `json:"seq"`
	BoardID string `json:"boardId"`
	TaskID  string `json:"taskId"`
	User    *struct {
		ID string `json:"id"`
	} `json:"user"`
}

// follower reads a board's messages over SSE or WebSocket into a channel.
type follower struct {
	name string
	msgs chan message
	send func(string)
	// closed receives the WebSocket's close code.
	closed chan websocket.StatusCode
}

// followSSE opens GET /boards/board-1/events on s.
func followSSE(t *testing.T, ctx context.Context, s *server, token, name string) *follower {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/boards/board-1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%s: GET events: %v %v", name, err, res)
	}
	f := &follower{name: name, msgs: make(chan message, 10000)}
	go func() {
		defer res.Body.Close()
		defer close(f.msgs)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var m message
			if json.Unmarshal([]byte(data), &m) == nil && m.Type != "connected" {
				f.msgs <- m
			}
		}
	}()
	return f
}

// followWS opens GET /ws on s and joins board-1 from now.
func followWS(t *testing.T, ctx context.Context, s *server, token, name string) *follower {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, strings.Replace(s.url, "http", "ws", 1)+"/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	f := &follower{name: name, msgs: make(chan message, 10000), closed: make(chan websocket.StatusCode, 1)}
	var mu sync.Mutex
	f.send = func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Errorf("%s: write: %v", name, err)
		}
	}
	f.send(`{"type":"join","boardId":"board-1"}`)
	joined := make(chan struct{})
	go func() {
		defer close(f.msgs)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				f.closed <- websocket.CloseStatus(err)
				return
			}
			var m message
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			switch m.Type {
			case "joined":
				close(joined)
			case "presence", "pong":
			default:
				f.msgs <- m
			}
		}
	}()
	select {
	case <-joined:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: not joined", name)
	}
	return f
}

// next returns the next message of one of the types, skipping others.
func (f *follower) next(t *testing.T, within time.Duration, types ...string) message {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case m, ok := <-f.msgs:
			if !ok {
				t.Fatalf("%s: stream ended", f.name)
			}
			for _, typ := range types {
				if m.Type == typ {
					return m
				}
			}
		case <-timeout:
			t.Fatalf("%s: no %v within %v", f.name, types, within)
		}
	}
}

// seqs collects logged events until the follower has seen seq upTo.
func (f *follower) seqs(t *testing.T, upTo int64) []int64 {
	t.Helper()
	var got []int64
	timeout := time.After(60 * time.Second)
	for len(got) == 0 || got[len(got)-1] < upTo {
		select {
		case m, ok := <-f.msgs:
			if !ok {
				t.Fatalf("%s: stream ended after %d events", f.name, len(got))
			}
			if m.Seq > 0 {
				got = append(got, m.Seq)
			}
		case <-timeout:
			t.Fatalf("%s: saw %d events, the last %v, want up to seq %d", f.name, len(got), got[max(0, len(got)-3):], upTo)
		}
	}
	return got
}

func wantSeqs(t *testing.T, who string, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("%s: got %d events, want seqs %d..%d", who, len(got), from, to)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("%s: event %d has seq %d, want %d", who, i, s, from+int64(i))
		}
	}
}

// do sends a request with a bearer token and a JSON body.
func (s *server) do(t *testing.T, token, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var b strings.Builder
	bufio.NewReader(res.Body).WriteTo(&b)
	return res.StatusCode, b.String()
}

func (s *server) seq(t *testing.T, token string) int64 {
	t.Helper()
	status, body := s.get(token, "/boards/board-1")
	var snap struct {
		Seq int64 `json:"seq"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &snap) != nil {
		t.Fatalf("GET /boards/board-1: %d %s", status, body)
	}
	return snap.Seq
}

// move moves task-1 between two lists so that every call is a change.
func (s *server) move(t *testing.T, token string, i int) {
	t.Helper()
	list := []string{"list-done", "list-todo"}[i%2]
	if status, body := s.do(t, token, "PATCH", "/tasks/task-1/move", `{"listId":"`+list+`","position":0}`); status != http.StatusOK {
		t.Fatalf("move %d: %d %s", i, status, body)
	}
}

// TestTwoInstances runs two server processes over one PostgreSQL schema:
// changes, typing and presence cross from one to the other, concurrent
// writers on both produce one gapless order, a killed listener connection
// loses nothing, and the users of a killed instance leave.
func TestTwoInstances(t *testing.T) {
	dsn := dbtest.Postgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startServer(t, dir, addrA, nil, "serve", "--addr", addrA, "--db", dsn, "--demo", "--presence-grace", "300ms", "--write-rate", "-1")
	tokens := a.demoTokens()
	alice, bob := tokens["user-alice"], tokens["user-bob"]
	b := startServer(t, dir, addrB, nil, "serve", "--addr", addrB, "--db", dsn, "--demo", "--presence-grace", "300ms", "--write-rate", "-1")

	// A change through A reaches SSE and WebSocket clients of B.
	sseB := followSSE(t, ctx, b, bob, "SSE on B")
	wsB := followWS(t, ctx, b, bob, "WebSocket on B")
	a.move(t, alice, 0)
	for _, f := range []*follower{sseB, wsB} {
		if m := f.next(t, 15*time.Second, "task_moved"); m.Seq != 1 || m.BoardID != "board-1" {
			t.Fatalf("%s: got %+v, want task_moved seq 1", f.name, m)
		}
	}

	// Typing on A reaches B's followers, over both transports.
	wsA := followWS(t, ctx, a, alice, "WebSocket on A")
	for _, f := range []*follower{sseB, wsB} {
		f.next(t, 15*time.Second, "user_joined")
	}
	wsA.send(`{"type":"typing","boardId":"board-1","taskId":"task-2"}`)
	for _, f := range []*follower{sseB, wsB} {
		if m := f.next(t, 15*time.Second, "user_typing"); m.TaskID != "task-2" || m.User == nil || m.User.ID != "user-alice" {
			t.Fatalf("%s: got %+v, want Alice typing on task-2", f.name, m)
		}
	}

	// Alice, present on A, is listed by B.
	status, body := b.get(bob, "/boards/board-1/presence")
	if status != http.StatusOK || !strings.Contains(body, `"id":"user-alice"`) {
		t.Fatalf("B's presence: %d %s, want Alice listed", status, body)
	}

	// Writers on A and B at once, with B's listener killed midway.
	sseA := followSSE(t, ctx, a, alice, "SSE on A")
	start := a.seq(t, alice)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const perWriter = 100
	var wg sync.WaitGroup
	for i, s := range []*server{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perWriter {
				task := "task-" + strconv.Itoa(2+i)
				list := []string{"list-done", "list-todo"}[j%2]
				if status, body := s.do(t, alice, "PATCH", "/tasks/"+task+"/move", `{"listId":"`+list+`","position":0}`); status != http.StatusOK {
					t.Errorf("writer %d move %d: %d %s", i, j, status, body)
					return
				}
				if i == 1 && j == perWriter/2 {
					if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
						WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`); err != nil {
						t.Errorf("terminate listeners: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	end := a.seq(t, alice)
	if end-start != 2*perWriter {
		t.Fatalf("board seq went from %d to %d, want %d changes", start, end, 2*perWriter)
	}
	for _, f := range []*follower{sseA, sseB, wsB} {
		got := f.seqs(t, end)
		if f == sseA {
			wantSeqs(t, f.name, got, start+1, end)
		} else {
			wantSeqs(t, f.name, got[len(got)-2*perWriter:], start+1, end)
		}
	}

	// A dies: B reports Alice gone within 30 s.
	killed := time.Now()
	a.cmd.Process.Kill()
	<-a.exited
	m := sseB.next(t, 30*time.Second, "user_left")
	if m.User == nil || m.User.ID != "user-alice" {
		t.Fatalf("SSE on B: got %+v, want user_left of Alice", m)
	}
	status, body = b.get(bob, "/boards/board-1/presence")
	if status != http.StatusOK || strings.Contains(body, "user-alice") {
		t.Fatalf("B's presence after A died: %d %s, want no Alice", status, body)
	}
	t.Logf("Alice left %v after A was killed", time.Since(killed).Round(time.Millisecond))
}
