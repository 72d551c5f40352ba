package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// metricValue returns the value of a sample in /metrics, or -1.
func (e *rtEnv) metricValue(sample string) float64 {
	e.t.Helper()
	body := string(e.do(http.MethodGet, "/metrics", "", "Authorization", "Bearer "+rtAdminToken).want(e.t, http.StatusOK, nil).Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		e.t.Fatalf("metric %s: %v", sample, err)
	}
	return v
}

func TestAdminConnections(t *testing.T) {
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)
	ctx := context.Background()
	other, err := e.store.CreateBoard(ctx, taskboard.Actor{UserID: demo.Alice}, "Other")
	if err != nil {
		t.Fatal(err)
	}
	e.waitConns(rtCounts{ByBoard: map[string]int{}})

	s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
	s.preamble()
	alice := e.bearerWS(e.alice)
	alice.join("board-1", -1)
	alice.join(other.ID, -1)
	idle := e.bearerWS(e.bob)
	pingPong(t, idle)
	held := e.async(e.bob, "/boards/board-1/poll?timeout=30")
	e.waitConns(rtCounts{Total: 4, SSE: 1, WebSocket: 2, LongPoll: 1, ByBoard: map[string]int{"board-1": 3, other.ID: 1}})

	for sample, want := range map[string]float64{
		`taskboard_connections{transport="sse"}`:       1,
		`taskboard_connections{transport="websocket"}`: 2,
		`taskboard_connections{transport="longPoll"}`:  1,
		`taskboard_subscriptions`:                      4,
	} {
		if got := e.metricValue(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}

	last := e.write(1, "task-1")
	rtSeqs(t, "SSE", sseEvents(t, s, last), last-1, last)
	rtSeqs(t, "WebSocket", wsEvents(t, alice, last), last-1, last)
	var p pollResp
	rtAwait(t, held).want(t, http.StatusOK, &p)
	for _, tr := range []string{"sse", "websocket", "longPoll"} {
		if got := e.metricValue(`taskboard_deliveries_total{transport="` + tr + `"}`); got < 1 {
			t.Errorf("deliveries by %s: %v, want at least 1", tr, got)
		}
	}
	idle.send(`{"type":"join","boardId":"board-1","after":999}`)
	idle.expect("reset")
	if got := e.metricValue(`taskboard_resets_total{reason="ahead"}`); got != 1 {
		t.Errorf("resets (ahead): %v, want 1", got)
	}

	s.close()
	alice.close()
	idle.close()
	e.waitConns(rtCounts{ByBoard: map[string]int{}})
	if got := e.metricValue(`taskboard_subscriptions`); got != 0 {
		t.Errorf("subscriptions after everyone left: %v, want 0", got)
	}

	e.do(http.MethodGet, "/admin/connections", "").want(t, http.StatusUnauthorized, nil)
	e.do(http.MethodGet, "/admin/connections", "", "Authorization", "Bearer "+e.bob).want(t, http.StatusUnauthorized, nil)
	noAdmin := rtOptions()
	noAdmin.AdminToken = ""
	e2 := newRTEnv(t, dbtest.SQLite(t), noAdmin, nil)
	e2.do(http.MethodGet, "/admin/connections", "", "Authorization", "Bearer "+rtAdminToken).want(t, http.StatusNotFound, nil)
}

func TestRevocationEndsStreams(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		// DELETE /sessions ends the streams of the session at once.
		cookie := httpapi.SessionCookie + "=" + e.sessionCookie(e.bob)
		s := e.openSSE("/boards/board-1/events", "Cookie", cookie)
		s.preamble()
		other := e.openSSE("/boards/board-1/events", "Cookie", httpapi.SessionCookie+"="+e.sessionCookie(e.bob))
		other.preamble()
		e.do(http.MethodDelete, "/sessions", "", "Cookie", cookie).want(t, http.StatusNoContent, nil)
		s.wantEnd()
		if _, r := e.tryOpenSSE("/boards/board-1/events", "Cookie", cookie); r == nil || r.Status != http.StatusUnauthorized {
			t.Errorf("SSE with the ended session: %+v, want 401", r)
		}

		// A token revoked elsewhere (the command line): the periodic check
		// ends the streams it opened, also through a ticket.
		bearer := e.bearerWS(e.alice)
		bearer.join("board-1", -1)
		ticketed := e.dialWS("?ticket=" + e.ticket(e.alice))
		ticketed.join("board-1", -1)
		held := e.async(e.alice, "/boards/board-1/poll?timeout=30")
		bob := e.bearerWS(e.bob)
		bob.join("board-1", -1)
		e.waitConns(rtCounts{Total: 5, SSE: 1, WebSocket: 3, LongPoll: 1, ByBoard: map[string]int{"board-1": 5}})
		if _, err := e.creds.RevokeToken(context.Background(), e.aliceTokenID); err != nil {
			t.Fatal(err)
		}
		for _, ws := range []*rtWS{bearer, ticketed} {
			if m := ws.nextOfType("error"); m.Error != "Unauthorized" {
				t.Errorf("revoked WebSocket: got %s, want Unauthorized", m.raw)
			}
			ws.wantClose(httpapi.StatusUnauthorized)
		}
		rtAwait(t, held).want(t, http.StatusUnauthorized, nil)
		// Others are untouched.
		pingPong(t, bob)
		last := e.write(1, "task-1")
		rtSeqs(t, "the other session's stream", sseEvents(t, other, last), last-1, last)
	})
}

// TestManySubscribers follows board-1 with 100 subscribers across SSE,
// WebSocket and long polling (40, 40 and 20) while 4 writers write: each
// receives every seq once, in order.
//
// On plain TCP connections the server writes events from the fan-out with
// direct, non-blocking writes; on the gated connections of the other
// tests, which are no syscall.Conn, every write goes through the
// connection's backlog goroutine. Both are run.
func TestManySubscribers(t *testing.T) {
	for _, plain := range []bool{true, false} {
		name := "gated"
		if plain {
			name = "plainTCP"
		}
		t.Run(name, func(t *testing.T) { testManySubscribers(t, plain) })
	}
}

func testManySubscribers(t *testing.T, plain bool) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		var configure func(*http.Server)
		if plain {
			configure = rtPlain
		}
		e := newRTEnvServer(t, dsn, nil, nil, configure)
		const (
			nSSE, nWS, nPoll = 40, 40, 20
			writers, each    = 4, 12
			total            = writers * each
		)
		type result struct {
			who  string
			seqs []int64
			err  error
		}
		results := make(chan result, nSSE+nWS+nPoll)
		tokens := []string{e.alice, e.bob}
		for i := 0; i < nSSE; i++ {
			s := e.openSSE("/boards/board-1/events?after=0", "Authorization", "Bearer "+tokens[i%2])
			go func() {
				seqs, err := collectSSE(s, total)
				results <- result{fmt.Sprintf("SSE %d", i), seqs, err}
			}()
		}
		for i := 0; i < nWS; i++ {
			ws := e.bearerWS(tokens[i%2])
			ws.send(`{"type":"join","boardId":"board-1","after":0}`)
			go func() {
				seqs, err := collectWS(ws, total)
				results <- result{fmt.Sprintf("WebSocket %d", i), seqs, err}
			}()
		}
		for i := 0; i < nPoll; i++ {
			token := tokens[i%2]
			go func() {
				seqs, err := e.collectPoll(token, total)
				results <- result{fmt.Sprintf("long poll %d", i), seqs, err}
			}()
		}
		rtWaitFor(t, "the subscribers", func() bool {
			c := e.admin()
			return c.SSE == nSSE && c.WebSocket == nWS && c.ByBoard["board-1"] >= nSSE+nWS
		})
		start := time.Now()
		done := e.writeConcurrently(t, writers, each)
		go func() { <-done; t.Logf("writers done after %v", time.Since(start)) }()
		for i := 0; i < nSSE+nWS+nPoll; i++ {
			r := <-results
			if r.err != nil {
				t.Errorf("%s: %v after %d events", r.who, r.err, len(r.seqs))
				continue
			}
			rtSeqs(t, r.who, r.seqs, 0, total)
		}
		t.Logf("all received after %v", time.Since(start))
		<-done
	})
}

// collectSSE reads the seqs of logged events until total.
func collectSSE(s *rtSSE, total int) ([]int64, error) {
	var seqs []int64
	timer := time.NewTimer(rtWait)
	defer timer.Stop()
	for len(seqs) < total {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return seqs, errors.New("stream ended")
			}
			if f.HasID {
				var m rtMsg
				if err := json.Unmarshal([]byte(f.Data), &m); err != nil {
					return seqs, err
				}
				seqs = append(seqs, m.Seq)
			}
		case <-timer.C:
			return seqs, errors.New("timed out")
		}
	}
	return seqs, nil
}

// collectWS reads the seqs of logged events until total.
func collectWS(ws *rtWS, total int) ([]int64, error) {
	var seqs []int64
	timer := time.NewTimer(rtWait)
	defer timer.Stop()
	for len(seqs) < total {
		select {
		case data, ok := <-ws.msgs:
			if !ok {
				return seqs, fmt.Errorf("connection ended: %w", ws.err)
			}
			var m rtMsg
			if err := json.Unmarshal(data, &m); err != nil {
				return seqs, err
			}
			if m.Type == "error" || m.Type == "reset" {
				return seqs, fmt.Errorf("got %s", data)
			}
			if m.Seq > 0 && m.Type != "joined" {
				seqs = append(seqs, m.Seq)
			}
		case <-timer.C:
			return seqs, errors.New("timed out")
		}
	}
	return seqs, nil
}

// collectPoll long-polls board-1 from seq 0 until total events.
func (e *rtEnv) collectPoll(token string, total int) ([]int64, error) {
	var seqs []int64
	after := int64(0)
	deadline := time.Now().Add(rtWait)
	for len(seqs) < total {
		if time.Now().After(deadline) {
			return seqs, errors.New("timed out")
		}
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/boards/board-1/poll?timeout=10&after="+strconv.FormatInt(after, 10), nil)
		if err != nil {
			return seqs, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := e.client.Do(req)
		if err != nil {
			return seqs, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return seqs, err
		}
		if resp.StatusCode != http.StatusOK {
			return seqs, fmt.Errorf("poll: status %d: %s", resp.StatusCode, body)
		}
		var p pollResp
		if err := json.Unmarshal(body, &p); err != nil {
			return seqs, err
		}
		for _, d := range p.Data {
			var m rtMsg
			if err := json.Unmarshal(d, &m); err != nil {
				return seqs, err
			}
			seqs = append(seqs, m.Seq)
		}
		after = p.Seq
	}
	return seqs, nil
}

// TestRealtimeGoroutines checks that every goroutine of the real-time
// routes ends once the clients left and the Handler, server and store are
// closed.
func TestRealtimeGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	e := newRTEnv(t, dbtest.SQLite(t), nil, nil)

	s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
	s.preamble()
	bob := e.bearerWS(e.bob)
	bob.join("board-1", -1)
	alice := e.bearerWS(e.alice)
	alice.join("board-1", -1)
	alice.send(`{"type":"typing","boardId":"board-1","taskId":"task-1"}`)
	bob.nextOfType(taskboard.EventUserTyping)
	unauth := e.dialWS("")
	unauth.wantClose(httpapi.StatusUnauthorized)
	held := e.async(e.bob, "/boards/board-1/poll?timeout=30")
	e.waitConns(rtCounts{Total: 4, SSE: 1, WebSocket: 2, LongPoll: 1, ByBoard: map[string]int{"board-1": 4}})
	last := e.write(3, "task-2")
	rtSeqs(t, "SSE", sseEvents(t, s, last), last-3, last)
	rtAwait(t, held).want(t, http.StatusOK, nil)

	// Clients leave; then the Handler closes (with one WebSocket still
	// open: it is closed with 1001).
	s.close()
	alice.close()
	e.waitConns(rtCounts{Total: 1, WebSocket: 1, ByBoard: map[string]int{"board-1": 1}})
	e.api.Close()
	bob.wantClose(websocket.StatusGoingAway)
	e.srv.Close()
	e.client.CloseIdleConnections()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(rtWait)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		<-time.After(5 * time.Millisecond)
	}
}
