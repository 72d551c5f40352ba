package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// resumingSSE follows board-1 over SSE like EventSource does: when the
// stream breaks it reconnects, to the first of urls that answers, with
// Last-Event-ID. It records every logged seq it receives.
type resumingSSE struct {
	mu   sync.Mutex
	seqs []int64
	last int64
}

func (r *resumingSSE) run(ctx context.Context, urls func() []string, token string) {
	for ctx.Err() == nil {
		for _, base := range urls() {
			r.once(ctx, base, token)
			if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *resumingSSE) once(ctx context.Context, base, token string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/boards/board-1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	r.mu.Lock()
	req.Header.Set("Last-Event-ID", strconv.FormatInt(r.last, 10))
	r.mu.Unlock()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "id: ")
		if !ok {
			continue
		}
		seq, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.seqs = append(r.seqs, seq)
		r.last = seq
		r.mu.Unlock()
	}
}

func (r *resumingSSE) lastSeq() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *resumingSSE) received() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.seqs...)
}

// waitFor polls cond until it holds, for at most within.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// acked is what the writers saw acknowledged.
type acked struct {
	mu      sync.Mutex
	created []string         // ids of tasks whose creation was answered 201
	moved   map[string]int64 // task id → highest version a move returned
	writes  int
}

// writeLoad creates and moves tasks through base until ctx ends, recording
// what the server acknowledged. Failed requests (the server is gone) are
// not acknowledged and are not retried.
func writeLoad(ctx context.Context, base, token string, writer int, a *acked) {
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; ctx.Err() == nil; i++ {
		var method, path, body string
		if i%3 == 0 {
			method, path = "POST", "/tasks"
			body = fmt.Sprintf(`{"title":"w%d-%d","listId":"list-todo","position":%d}`, writer, i, i%4)
		} else {
			list := []string{"list-todo", "list-progress", "list-done"}[(i+writer)%3]
			method, path = "PATCH", "/tasks/task-"+strconv.Itoa(1+writer%4)+"/move"
			body = fmt.Sprintf(`{"listId":"%s","position":%d}`, list, i%5)
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return
		}
		var task struct {
			ID      string `json:"id"`
			Version int64  `json:"version"`
		}
		err = json.NewDecoder(res.Body).Decode(&task)
		res.Body.Close()
		if err != nil || res.StatusCode >= 300 {
			continue
		}
		a.mu.Lock()
		a.writes++
		if method == "POST" {
			a.created = append(a.created, task.ID)
		} else if task.Version > a.moved[task.ID] {
			a.moved[task.ID] = task.Version
		}
		a.mu.Unlock()
	}
}

// checkBoard checks what a restarted server holds: every acknowledged write,
// a gapless log 1..seq, and contiguous positions.
func checkBoard(t *testing.T, s *server, token string, a *acked) int64 {
	t.Helper()
	status, body := s.get(token, "/boards/board-1")
	if status != http.StatusOK {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	var snap struct {
		Seq   int64 `json:"seq"`
		Lists []struct {
			ID       string `json:"id"`
			Position int    `json:"position"`
		} `json:"lists"`
		Tasks []struct {
			ID       string `json:"id"`
			ListID   string `json:"list_id"`
			Position int    `json:"position"`
			Version  int64  `json:"version"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatal(err)
	}
	tasks := map[string]int64{}
	byList := map[string][]int{}
	for _, task := range snap.Tasks {
		tasks[task.ID] = task.Version
		byList[task.ListID] = append(byList[task.ListID], task.Position)
	}
	for list, positions := range byList {
		for i, p := range positions {
			if p != i {
				t.Fatalf("list %s has positions %v, want 0..%d", list, positions, len(positions)-1)
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range a.created {
		if _, ok := tasks[id]; !ok {
			t.Fatalf("acknowledged task %s is missing after the restart", id)
		}
	}
	for id, v := range a.moved {
		if tasks[id] < v {
			t.Fatalf("task %s is at version %d after the restart; a move was acknowledged at %d", id, tasks[id], v)
		}
	}
	if int64(len(a.created)) > snap.Seq {
		t.Fatalf("%d creations were acknowledged but the board's seq is %d", len(a.created), snap.Seq)
	}
	// The log holds 1..seq without a gap.
	var next int64 = 1
	for after := int64(0); after < snap.Seq; {
		status, body := s.get(token, "/boards/board-1/updates?after="+strconv.FormatInt(after, 10))
		var page struct {
			Data []struct {
				Seq int64 `json:"seq"`
			} `json:"data"`
			Seq int64 `json:"seq"`
		}
		if status != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || len(page.Data) == 0 {
			t.Fatalf("updates after %d: %d %s", after, status, body)
		}
		for _, ev := range page.Data {
			if ev.Seq != next {
				t.Fatalf("log has seq %d where %d belongs", ev.Seq, next)
			}
			next++
		}
		after = page.Seq
	}
	return snap.Seq
}

func wantAll(t *testing.T, who string, got []int64, upTo int64) {
	t.Helper()
	if int64(len(got)) != upTo {
		t.Fatalf("%s received %d events, want %d (1..%d once each)", who, len(got), upTo, upTo)
	}
	for i, s := range got {
		if s != int64(i)+1 {
			t.Fatalf("%s: event %d has seq %d, want %d", who, i, s, i+1)
		}
	}
}

// TestKillUnderWriteLoad SIGKILLs the server while writers and a subscriber
// run, restarts it on the same database, and checks that every acknowledged
// write is there, the log is gapless, positions are contiguous, and the
// subscriber resumes without loss.
func TestKillUnderWriteLoad(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dsn := e.DSN(t)
			if e.Name == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "board.db")
			}
			dir := t.TempDir()
			addr := freeAddr(t)
			args := []string{"serve", "--addr", addr, "--db", dsn, "--demo", "--log-level", "warn", "--write-rate", "-1"}
			s := startServer(t, dir, addr, nil, args...)
			token := s.demoTokens()["user-alice"]

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sub := &resumingSSE{}
			subDone := make(chan struct{})
			base := s.url // the same after the restart
			go func() { defer close(subDone); sub.run(ctx, func() []string { return []string{base} }, token) }()

			a := &acked{moved: map[string]int64{}}
			wctx, stopWriters := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() { defer wg.Done(); writeLoad(wctx, s.url, token, w, a) }()
			}
			waitFor(t, "200 acknowledged writes", 60*time.Second, func() bool {
				a.mu.Lock()
				defer a.mu.Unlock()
				return a.writes >= 200
			})
			s.cmd.Process.Kill()
			<-s.exited
			stopWriters()
			wg.Wait()

			s = startServer(t, dir, addr, nil, args...)
			seq := checkBoard(t, s, token, a)
			waitFor(t, "the subscriber to resume up to the last seq", 30*time.Second, func() bool { return sub.lastSeq() >= seq })
			cancel()
			<-subDone
			wantAll(t, "the subscriber", sub.received(), seq)
			t.Logf("%d acknowledged writes before the kill; board seq %d after the restart", a.writes, seq)
		})
	}
}

// TestGracefulShutdown sends SIGTERM with an SSE stream, a WebSocket, a held
// long poll and writers in flight: the stream ends so EventSource
// reconnects, the WebSocket closes with 1001, the poll is answered, and
// every acknowledged write survives.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "board.db")
	addr := freeAddr(t)
	args := []string{"serve", "--addr", addr, "--db", db, "--demo", "--log-level", "warn", "--write-rate", "-1", "--shutdown-timeout", "10s", "--admin-token", "fault-admin-token-0123"}
	s := startServer(t, dir, addr, nil, args...)
	token := s.demoTokens()["user-alice"]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sse := followSSE(t, ctx, s, token, "SSE")
	ws := followWS(t, ctx, s, token, "WebSocket")
	poll := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/boards/board-1/poll?timeout=60", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			poll <- 0
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		poll <- res.StatusCode
	}()
	waitFor(t, "the long poll to be held", 15*time.Second, func() bool {
		_, body := s.getAdmin("/admin/connections")
		return strings.Contains(body, `"longPoll":1`)
	})

	a := &acked{moved: map[string]int64{}}
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); writeLoad(wctx, s.url, token, w, a) }()
	}
	waitFor(t, "50 acknowledged writes", 60*time.Second, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.writes >= 50
	})
	took, err := s.terminate(15 * time.Second)
	stopWriters()
	wg.Wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))

	// The SSE stream ended (the client sees EOF and reconnects).
	for range sse.msgs {
	}
	if code := <-ws.closed; code != websocket.StatusGoingAway {
		t.Errorf("WebSocket closed with %v, want 1001 going away", code)
	}
	if status := <-poll; status != http.StatusOK && status != http.StatusServiceUnavailable {
		t.Errorf("held long poll answered %d, want an answer (200 or 503)", status)
	}
	s = startServer(t, dir, addr, nil, args...)
	checkBoard(t, s, token, a)
}

// getAdmin is GET with the admin token TestGracefulShutdown starts its
// server with.
func (s *server) getAdmin(path string) (int, string) {
	return s.get("fault-admin-token-0123", path)
}

// TestRollingRestart restarts two instances over one PostgreSQL database one
// after the other while writers write through whichever is up: subscribers
// that reconnect with Last-Event-ID lose nothing.
func TestRollingRestart(t *testing.T) {
	dsn := dbtest.Postgres(t)
	dir := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	argsA := []string{"serve", "--addr", addrA, "--db", dsn, "--demo", "--log-level", "warn", "--write-rate", "-1", "--shutdown-timeout", "5s"}
	argsB := []string{"serve", "--addr", addrB, "--db", dsn, "--log-level", "warn", "--write-rate", "-1", "--shutdown-timeout", "5s"}
	a := startServer(t, dir, addrA, nil, argsA...)
	token := a.demoTokens()["user-alice"]
	b := startServer(t, dir, addrB, nil, argsB...)
	// The servers' URLs stay the same across restarts.
	urls := func() []string { return []string{"http://" + addrA, "http://" + addrB} }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	subs := []*resumingSSE{{}, {}}
	var subsDone sync.WaitGroup
	for i, sub := range subs {
		subsDone.Add(1)
		go func() {
			defer subsDone.Done()
			sub.run(ctx, func() []string {
				u := urls()
				if i == 1 {
					u[0], u[1] = u[1], u[0]
				}
				return u
			}, token)
		}()
	}
	var writes atomic.Int64
	// Stopping the writer lets its last request finish: a request cancelled
	// on its way may still commit, after the board's seq is read below.
	wctx, stopWriters := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		client := &http.Client{Timeout: 5 * time.Second}
		for i := 0; wctx.Err() == nil; i++ {
			list := []string{"list-done", "list-todo"}[i%2]
			for _, base := range urls() {
				req, _ := http.NewRequestWithContext(ctx, "PATCH", base+"/tasks/task-1/move", strings.NewReader(`{"listId":"`+list+`","position":0}`))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Idempotency-Key", "move-"+strconv.Itoa(i))
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					writes.Add(1)
					break
				}
			}
		}
	}()
	waitFor(t, "writes before the restarts", 30*time.Second, func() bool { return writes.Load() >= 30 })
	for _, which := range []string{"A", "B"} {
		s, args := a, argsA
		if which == "B" {
			s, args = b, argsB
		}
		if _, err := s.terminate(15 * time.Second); err != nil {
			t.Fatalf("%s exit: %v", which, err)
		}
		n := writes.Load()
		waitFor(t, "writes while "+which+" is down", 30*time.Second, func() bool { return writes.Load() >= n+20 })
		restarted := startServer(t, dir, strings.TrimPrefix(s.url, "http://"), nil, args...)
		if which == "A" {
			a = restarted
		} else {
			b = restarted
		}
		n = writes.Load()
		waitFor(t, "writes after "+which+" is back", 30*time.Second, func() bool { return writes.Load() >= n+20 })
	}
	stopWriters()
	<-writerDone
	seq := a.seq(t, token)
	for i, sub := range subs {
		waitFor(t, "subscriber "+strconv.Itoa(i)+" to catch up to seq "+strconv.FormatInt(seq, 10), 30*time.Second, func() bool { return sub.lastSeq() >= seq })
		cancel()
		wantAll(t, "subscriber "+strconv.Itoa(i), sub.received(), seq)
	}
	subsDone.Wait()
	t.Logf("%d writes across two rolling restarts, board seq %d", writes.Load(), seq)
}

// tcpProxy forwards connections to a target until it is stopped; stopping
// cuts every connection, as a database outage does.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	p.addr = freeAddr(t)
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// TestDatabaseOutage cuts the server off from PostgreSQL for a moment:
// writes answer 503 with a clear error, /ready reports it, and everything
// recovers by itself when the database is back.
func TestDatabaseOutage(t *testing.T) {
	dsn := dbtest.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	dir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dir, addr, nil, "serve", "--addr", addr, "--db", u.String(), "--demo", "--log-level", "error", "--write-rate", "-1")
	token := s.demoTokens()["user-alice"]
	if status, body := s.get("", "/ready"); status != http.StatusOK {
		t.Fatalf("/ready before the outage: %d %s", status, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := &resumingSSE{}
	subDone := make(chan struct{})
	go func() { defer close(subDone); sub.run(ctx, func() []string { return []string{s.url} }, token) }()
	s.move(t, token, 0)

	proxy.stop()
	status, body := s.do(t, token, "PATCH", "/tasks/task-1/move", `{"listId":"list-todo","position":0}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "Service Unavailable") {
		t.Fatalf("write during the outage: %d %s, want 503", status, body)
	}
	waitFor(t, "/ready to report the outage", 15*time.Second, func() bool {
		status, _ := s.get("", "/ready")
		return status == http.StatusServiceUnavailable
	})

	proxy.start()
	waitFor(t, "/ready to recover", 30*time.Second, func() bool {
		status, _ := s.get("", "/ready")
		return status == http.StatusOK
	})
	waitFor(t, "writes to succeed again", 30*time.Second, func() bool {
		status, _ := s.do(t, token, "PATCH", "/tasks/task-2/move", `{"listId":"list-done","position":0}`)
		return status == http.StatusOK
	})
	seq := s.seq(t, token)
	waitFor(t, "the subscriber to catch up", 30*time.Second, func() bool { return sub.lastSeq() >= seq })
	cancel()
	<-subDone
	wantAll(t, "the subscriber", sub.received(), seq)
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Logf("recovered; board seq %d", seq)
	}
}

// TestStreamsOutliveServerTimeouts holds a long poll and an SSE stream past
// the server's read and write timeouts: the poll is answered at its own
// timeout and the stream keeps its heartbeats.
func TestStreamsOutliveServerTimeouts(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dir, addr, nil, "serve", "--addr", addr, "--db", filepath.Join(dir, "board.db"), "--demo",
		"--read-timeout", "1s", "--write-timeout", "1s", "--heartbeat", "200ms", "--log-level", "warn")
	token := s.demoTokens()["user-alice"]

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/boards/board-1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET events: %v %v", err, res)
	}
	defer res.Body.Close()
	start := time.Now()
	beats := make(chan time.Time, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if sc.Text() == ": heartbeat" {
				beats <- time.Now()
			}
		}
		close(beats)
	}()

	status, body := s.get(token, "/boards/board-1/poll?timeout=3")
	if status != http.StatusOK || !strings.Contains(body, `"timeout":true`) {
		t.Fatalf("a 3 s poll behind 1 s server timeouts: %d %q, want 200 with the timeout body", status, body)
	}
	for b := range beats {
		if b.Sub(start) > 3*time.Second {
			return // the stream outlived the timeouts
		}
	}
	t.Fatalf("the SSE stream ended %v after it began, behind 1 s server timeouts", time.Since(start))
}
