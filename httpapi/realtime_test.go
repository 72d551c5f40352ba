package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/demo"
)

// rtWait bounds every wait of the real-time tests.
const rtWait = 15 * time.Second

// rtAdminToken guards /admin/* in the real-time tests.
const rtAdminToken = "rt-admin-token"

// rtEnv is a Handler with short real-time intervals over a seeded demo
// database, behind a real HTTP server whose server-side writes can be
// paused (to make a client slow).
type rtEnv struct {
	t     *testing.T
	store *taskboard.Board
	api   *httpapi.Handler
	srv   *httptest.Server
	gate  *rtGate
	// client sends the tests' HTTP requests; its idle connections are
	// closed with the environment.
	client *http.Client

	testUsers
}

// rtOptions are the Handler options of the real-time tests.
func rtOptions() *httpapi.Options {
	return &httpapi.Options{
		AdminToken:              rtAdminToken,
		HeartbeatInterval:       100 * time.Millisecond,
		PresenceGrace:           200 * time.Millisecond,
		TypingTimeout:           300 * time.Millisecond,
		CredentialCheckInterval: 100 * time.Millisecond,
		SessionRate:             -1,
	}
}

// newRTEnv opens a fresh database at dsn and serves it. Nil options mean
// rtOptions(); nil store options mean no background maintenance.
func newRTEnv(t *testing.T, dsn string, opts *httpapi.Options, sopts *taskboard.Options) *rtEnv {
	t.Helper()
	return newRTEnvServer(t, dsn, opts, sopts, nil)
}

// newRTEnvServer is newRTEnv with a function that configures the HTTP
// server before it starts.
func newRTEnvServer(t *testing.T, dsn string, opts *httpapi.Options, sopts *taskboard.Options, configure func(*http.Server)) *rtEnv {
	t.Helper()
	ctx := context.Background()
	if sopts == nil {
		sopts = &taskboard.Options{}
	}
	if sopts.MaintenanceInterval == 0 {
		sopts.MaintenanceInterval = -1
	}
	store, err := taskboard.Open(ctx, dsn, sopts)
	if err != nil {
		t.Fatalf("taskboard.Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { store.Close() })
	if ok, err := demo.Seed(ctx, store); err != nil || !ok {
		t.Fatalf("demo.Seed: got %v, %v, want true, nil", ok, err)
	}
	if opts == nil {
		opts = rtOptions()
	}
	e := &rtEnv{t: t, store: store, api: httpapi.New(store, opts), gate: &rtGate{}, client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(e.client.CloseIdleConnections)
	e.srv = httptest.NewUnstartedServer(e.api)
	if !rtPlainTCP(configure) {
		e.srv.Listener = &rtGateListener{Listener: e.srv.Listener, gate: e.gate}
	}
	if configure != nil {
		configure(e.srv.Config)
	}
	e.srv.Start()
	// Cleanups run last first: resume writes, close the Handler (ending
	// the streams), then the server, then the store.
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.api.Close)
	t.Cleanup(e.gate.resume)

	e.testUsers = newTestUsers(t, store)
	return e
}

// rtPlain, as the configure function of newRTEnvServer, serves on plain
// TCP connections instead of gated ones: the server's direct, non-blocking
// writes are used only on those (e.gate does nothing then).
func rtPlain(*http.Server) {}

func rtPlainTCP(configure func(*http.Server)) bool {
	return configure != nil && reflect.ValueOf(configure).Pointer() == reflect.ValueOf(rtPlain).Pointer()
}

// rtGate pauses the server's writes to its clients.
type rtGate struct {
	mu      sync.Mutex
	blocked chan struct{} // nil while writes flow
}

func (g *rtGate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blocked == nil {
		g.blocked = make(chan struct{})
	}
}

func (g *rtGate) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blocked != nil {
		close(g.blocked)
		g.blocked = nil
	}
}

type rtGateListener struct {
	net.Listener
	gate *rtGate
}

func (l *rtGateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &rtGateConn{Conn: c, gate: l.gate, closed: make(chan struct{})}, nil
}

// rtGateConn is a server connection whose writes wait while the gate is
// paused, as a real write to a client that does not read waits, until the
// connection is closed.
type rtGateConn struct {
	net.Conn
	gate      *rtGate
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *rtGateConn) Write(p []byte) (int, error) {
	c.gate.mu.Lock()
	ch := c.gate.blocked
	c.gate.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(p)
}

func (c *rtGateConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// rtResp is a response read in full.
type rtResp struct {
	Status int
	Header http.Header
	Body   []byte
	call   string
}

// do sends a request with a body ("" for none) and headers (pairs of name
// and value) and reads the response.
func (e *rtEnv) do(method, path, body string, hdr ...string) *rtResp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &rtResp{Status: resp.StatusCode, Header: resp.Header, Body: b, call: method + " " + path}
}

// get sends an authenticated GET.
func (e *rtEnv) get(token, path string) *rtResp {
	e.t.Helper()
	return e.do(http.MethodGet, path, "", "Authorization", "Bearer "+token)
}

// want fails unless the status is status, and decodes the body into v
// (when not nil).
func (r *rtResp) want(t *testing.T, status int, v any) *rtResp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", r.call, r.Status, status, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatalf("%s: decode %s: %v", r.call, r.Body, err)
		}
	}
	return r
}

// wantReset fails unless the response is 410 with a reset of reason.
func (r *rtResp) wantReset(t *testing.T, reason string) int64 {
	t.Helper()
	var body struct {
		Error  string `json:"error"`
		Seq    *int64 `json:"seq"`
		Reason string `json:"reason"`
	}
	r.want(t, http.StatusGone, &body)
	if body.Error != "reset" || body.Reason != reason || body.Seq == nil {
		t.Fatalf("%s: body %s, want a reset with reason %q", r.call, r.Body, reason)
	}
	return *body.Seq
}

// admin returns the open connections as /admin/connections reports them.
func (e *rtEnv) admin() rtCounts {
	e.t.Helper()
	var c rtCounts
	e.do(http.MethodGet, "/admin/connections", "", "Authorization", "Bearer "+rtAdminToken).want(e.t, http.StatusOK, &c)
	return c
}

type rtCounts struct {
	Total     int            `json:"total"`
	SSE       int            `json:"sse"`
	WebSocket int            `json:"websocket"`
	LongPoll  int            `json:"longPoll"`
	ByBoard   map[string]int `json:"byBoard"`

	MultiBoard        int `json:"multiBoard"`
	MultiBoardFollows int `json:"multiBoardFollows"`
}

// waitFor waits until cond holds, failing after rtWait.
func rtWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(rtWait)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// waitConns waits until /admin/connections reports want.
func (e *rtEnv) waitConns(want rtCounts) {
	e.t.Helper()
	var got rtCounts
	rtWaitFor(e.t, fmt.Sprintf("connections %+v", want), func() bool {
		got = e.admin()
		if len(got.ByBoard) != len(want.ByBoard) || got.Total != want.Total || got.SSE != want.SSE ||
			got.WebSocket != want.WebSocket || got.LongPoll != want.LongPoll ||
			got.MultiBoard != want.MultiBoard || got.MultiBoardFollows != want.MultiBoardFollows {
			return false
		}
		for k, v := range want.ByBoard {
			if got.ByBoard[k] != v {
				return false
			}
		}
		return true
	})
}

// write makes n changes to board-1 as Alice (task_updated events) and
// returns the board's seq after them.
func (e *rtEnv) write(n int, taskID string) int64 {
	e.t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		title := fmt.Sprintf("%s edit %d", taskID, i)
		if _, err := e.store.UpdateTask(ctx, taskboard.Actor{UserID: demo.Alice}, taskID, taskboard.TaskUpdate{Title: &title}); err != nil {
			e.t.Fatalf("UpdateTask(%s): %v", taskID, err)
		}
	}
	return e.seq(demo.Board)
}

// seq returns a board's current seq.
func (e *rtEnv) seq(boardID string) int64 {
	e.t.Helper()
	seq, err := e.store.BoardSeq(context.Background(), taskboard.Actor{UserID: demo.Alice}, boardID)
	if err != nil {
		e.t.Fatalf("BoardSeq(%s): %v", boardID, err)
	}
	return seq
}

// rtMsg is any message of the real-time transports, decoded loosely.
type rtMsg struct {
	Type    string `json:"type"`
	Seq     int64  `json:"seq"`
	BoardID string `json:"boardId"`
	Error   string `json:"error"`
	Reason  string `json:"reason"`
	TaskID  string `json:"taskId"`
	User    *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"user"`
	Users []taskboard.PresenceEntry `json:"users"`
	Task  *taskboard.Task           `json:"task"`

	raw string
}

func rtDecode(t testing.TB, data []byte) rtMsg {
	t.Helper()
	var m rtMsg
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode message %s: %v", data, err)
	}
	m.raw = string(data)
	return m
}

// rtFrame is one SSE frame: fields, or a comment.
type rtFrame struct {
	ID, Event, Data, Retry string
	Comment                string
	HasID                  bool
}

// rtSSE is an SSE client: a goroutine reads frames into frames until the
// stream ends (frames is then closed).
type rtSSE struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	frames chan rtFrame
	done   chan struct{}
}

// openSSE opens an event stream; hdr holds pairs of header name and value.
// It fails unless the status is 200.
func (e *rtEnv) openSSE(path string, hdr ...string) *rtSSE {
	e.t.Helper()
	s, resp := e.tryOpenSSE(path, hdr...)
	if s == nil {
		e.t.Fatalf("GET %s: status %d, want 200; body %s", path, resp.Status, resp.Body)
	}
	return s
}

// tryOpenSSE opens an event stream, or returns the response when it is not
// a stream.
func (e *rtEnv) tryOpenSSE(path string, hdr ...string) (*rtSSE, *rtResp) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		cancel()
		e.t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return nil, &rtResp{Status: resp.StatusCode, Header: resp.Header, Body: b, call: "GET " + path}
	}
	s := &rtSSE{t: e.t, resp: resp, cancel: cancel, frames: make(chan rtFrame, 100000), done: make(chan struct{})}
	go s.read()
	e.t.Cleanup(s.close)
	return s, nil
}

func (s *rtSSE) read() {
	defer close(s.done)
	defer close(s.frames)
	br := bufio.NewReader(s.resp.Body)
	var f rtFrame
	var data []string
	started := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if started {
				f.Data = strings.Join(data, "\n")
				s.frames <- f
			}
			f, data, started = rtFrame{}, nil, false
			continue
		}
		started = true
		if strings.HasPrefix(line, ":") {
			f.Comment = strings.TrimSpace(line[1:])
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			f.ID, f.HasID = value, true
		case "event":
			f.Event = value
		case "data":
			data = append(data, value)
		case "retry":
			f.Retry = value
		}
	}
}

// close ends the stream and waits for the reading goroutine.
func (s *rtSSE) close() {
	s.cancel()
	s.resp.Body.Close()
	<-s.done
}

// next returns the next frame that is not a heartbeat; ok is false when the
// stream ended.
func (s *rtSSE) next() (rtFrame, bool) {
	s.t.Helper()
	timer := time.NewTimer(rtWait)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return rtFrame{}, false
			}
			if f.Comment == "heartbeat" && f.Event == "" && f.Data == "" {
				continue
			}
			return f, true
		case <-timer.C:
			s.t.Fatalf("SSE: no frame within %v", rtWait)
		}
	}
}

// mustNext returns the next frame that is not a heartbeat, failing if the
// stream ended.
func (s *rtSSE) mustNext() rtFrame {
	s.t.Helper()
	f, ok := s.next()
	if !ok {
		s.t.Fatal("SSE: stream ended, want a frame")
	}
	return f
}

// preamble reads retry and connected and returns the connected seq.
func (s *rtSSE) preamble() int64 {
	s.t.Helper()
	f := s.mustNext()
	if f.Retry != "2000" {
		s.t.Fatalf("SSE: first frame %+v, want retry: 2000", f)
	}
	f = s.mustNext()
	m := rtDecode(s.t, []byte(f.Data))
	if m.Type != "connected" || f.HasID || f.Event != "" {
		s.t.Fatalf("SSE: second frame %+v, want data: {\"type\":\"connected\",...}", f)
	}
	return m.Seq
}

// wantEnd fails unless the stream ends (skipping heartbeats).
func (s *rtSSE) wantEnd() {
	s.t.Helper()
	if f, ok := s.next(); ok {
		s.t.Fatalf("SSE: got frame %+v, want the end of the stream", f)
	}
}

// wantEndAfterEphemeral fails unless the stream ends after nothing but
// ephemeral events (presence and typing, which have no id), such as the
// presence of a connection that joined just before the stream opened.
func (s *rtSSE) wantEndAfterEphemeral() {
	s.t.Helper()
	for {
		f, ok := s.next()
		if !ok {
			return
		}
		if f.HasID {
			s.t.Fatalf("SSE: got logged frame %+v, want the end of the stream", f)
		}
	}
}

// rtWS is a WebSocket client: a goroutine reads messages into msgs until
// the connection ends (msgs is then closed and err says how).
type rtWS struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan []byte
	done chan struct{}
	err  error // set before done closes
}

// dialWS opens a WebSocket to /ws with headers (pairs) and fails unless the
// upgrade succeeds.
func (e *rtEnv) dialWS(query string, hdr ...string) *rtWS {
	e.t.Helper()
	ws, resp, err := e.tryDialWS(query, hdr...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial /ws%s: %v (status %d)", query, err, status)
	}
	return ws
}

// bearerWS opens a WebSocket authenticated by token.
func (e *rtEnv) bearerWS(token string) *rtWS {
	e.t.Helper()
	return e.dialWS("", "Authorization", "Bearer "+token)
}

func (e *rtEnv) tryDialWS(query string, hdr ...string) (*rtWS, *http.Response, error) {
	e.t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws" + query
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(-1)
	ws := &rtWS{t: e.t, conn: conn, msgs: make(chan []byte, 100000), done: make(chan struct{})}
	go ws.read()
	e.t.Cleanup(ws.close)
	return ws, resp, nil
}

func (ws *rtWS) read() {
	defer close(ws.done)
	defer close(ws.msgs)
	for {
		_, data, err := ws.conn.Read(context.Background())
		if err != nil {
			ws.err = err
			return
		}
		ws.msgs <- data
	}
}

// close closes the connection normally and waits for the reader.
func (ws *rtWS) close() {
	ws.conn.Close(websocket.StatusNormalClosure, "")
	<-ws.done
}

// send sends a message: a string as is, anything else as JSON.
func (ws *rtWS) send(v any) {
	ws.t.Helper()
	data, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			ws.t.Fatal(err)
		}
		data = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	if err := ws.conn.Write(ctx, websocket.MessageText, []byte(data)); err != nil {
		ws.t.Fatalf("websocket write %s: %v", data, err)
	}
}

// next returns the next message; ok is false when the connection ended.
func (ws *rtWS) next() (rtMsg, bool) {
	ws.t.Helper()
	timer := time.NewTimer(rtWait)
	defer timer.Stop()
	select {
	case data, ok := <-ws.msgs:
		if !ok {
			return rtMsg{}, false
		}
		return rtDecode(ws.t, data), true
	case <-timer.C:
		ws.t.Fatalf("websocket: no message within %v", rtWait)
	}
	return rtMsg{}, false
}

// mustNext returns the next message, failing if the connection ended.
func (ws *rtWS) mustNext() rtMsg {
	ws.t.Helper()
	m, ok := ws.next()
	if !ok {
		ws.t.Fatalf("websocket: connection ended (%v), want a message", ws.err)
	}
	return m
}

// expect returns the next message and fails unless its type is typ.
func (ws *rtWS) expect(typ string) rtMsg {
	ws.t.Helper()
	m := ws.mustNext()
	if m.Type != typ {
		ws.t.Fatalf("websocket: got %s, want a %q message", m.raw, typ)
	}
	return m
}

// join joins a board (after < 0: from now), reads the replay up to joined
// and the presence list, and returns the replayed seqs and the joined seq.
func (ws *rtWS) join(boardID string, after int64) (replayed []int64, joined int64) {
	ws.t.Helper()
	msg := map[string]any{"type": "join", "boardId": boardID}
	if after >= 0 {
		msg["after"] = after
	}
	ws.send(msg)
	for {
		m := ws.mustNext()
		switch {
		case m.Type == "joined":
			if m.BoardID != boardID {
				ws.t.Fatalf("websocket: got %s, want joined of %s", m.raw, boardID)
			}
			p := ws.expect("presence")
			if p.BoardID != boardID || p.Users == nil {
				ws.t.Fatalf("websocket: got %s, want the presence list of %s", p.raw, boardID)
			}
			return replayed, m.Seq
		case m.Seq > 0:
			replayed = append(replayed, m.Seq)
		case m.Type == "error" || m.Type == "reset":
			ws.t.Fatalf("websocket: join %s: got %s", boardID, m.raw)
		}
	}
}

// wantClose waits for the end of the connection and fails unless the
// server closed it with code.
func (ws *rtWS) wantClose(code websocket.StatusCode) {
	ws.t.Helper()
	for {
		m, ok := ws.next()
		if !ok {
			break
		}
		_ = m
	}
	if got := websocket.CloseStatus(ws.err); got != code {
		ws.t.Fatalf("websocket: ended with %v (status %d), want close status %d", ws.err, got, code)
	}
}

// rtSeqs checks that seqs are exactly from+1, from+2, ..., to.
func rtSeqs(t *testing.T, who string, seqs []int64, from, to int64) {
	t.Helper()
	if int64(len(seqs)) != to-from {
		t.Fatalf("%s: got %d events (%v), want seqs %d..%d", who, len(seqs), rtShort(seqs), from+1, to)
	}
	for i, s := range seqs {
		if s != from+1+int64(i) {
			t.Fatalf("%s: event %d has seq %d, want %d (seqs %v)", who, i, s, from+1+int64(i), rtShort(seqs))
		}
	}
}

func rtShort(seqs []int64) string {
	if len(seqs) <= 20 {
		return fmt.Sprint(seqs)
	}
	return fmt.Sprint(seqs[:10], "...", seqs[len(seqs)-10:])
}

// pollResp is a long poll or exact short poll answer.
type pollResp struct {
	Data      []json.RawMessage `json:"data"`
	Seq       int64             `json:"seq"`
	More      bool              `json:"more"`
	Timeout   bool              `json:"timeout"`
	Timestamp string            `json:"timestamp"`
}

// seqs returns the seqs of a poll answer's events.
func (p pollResp) seqs(t *testing.T) []int64 {
	t.Helper()
	var out []int64
	for _, d := range p.Data {
		out = append(out, rtDecode(t, d).Seq)
	}
	return out
}

// poll long-polls board-1 after seq after with a timeout in seconds.
func (e *rtEnv) poll(token string, after int64, timeout int) (*rtResp, pollResp) {
	e.t.Helper()
	r := e.get(token, "/boards/board-1/poll?after="+strconv.FormatInt(after, 10)+"&timeout="+strconv.Itoa(timeout))
	var p pollResp
	if r.Status == http.StatusOK {
		r.want(e.t, http.StatusOK, &p)
	}
	return r, p
}

// sessionCookie signs in with a token and returns the session cookie.
func (e *rtEnv) sessionCookie(token string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, "/sessions", `{"token":"`+token+`"}`)
	r.want(e.t, http.StatusCreated, nil)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == httpapi.SessionCookie {
			return c.Value
		}
	}
	e.t.Fatalf("POST /sessions: no session cookie in %v", r.Header)
	return ""
}

// ticket issues a realtime ticket for a token.
func (e *rtEnv) ticket(token string) string {
	e.t.Helper()
	var body struct {
		Ticket string `json:"ticket"`
	}
	e.do(http.MethodPost, "/realtime/tickets", "", "Authorization", "Bearer "+token).want(e.t, http.StatusCreated, &body)
	return url.QueryEscape(body.Ticket)
}

// async sends an authenticated GET from another goroutine; the response
// (Status 0 and the error as Body when the request failed) arrives on the
// channel.
func (e *rtEnv) async(token, path string) <-chan *rtResp {
	ch := make(chan *rtResp, 1)
	go func() {
		resp := &rtResp{call: "GET " + path}
		defer func() { ch <- resp }()
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		if err != nil {
			resp.Body = []byte(err.Error())
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := e.client.Do(req)
		if err != nil {
			resp.Body = []byte(err.Error())
			return
		}
		defer r.Body.Close()
		resp.Status, resp.Header = r.StatusCode, r.Header
		resp.Body, _ = io.ReadAll(r.Body)
	}()
	return ch
}

// await returns the response of an async request.
func rtAwait(t *testing.T, ch <-chan *rtResp) *rtResp {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(rtWait):
		t.Fatalf("no response within %v", rtWait)
	}
	return nil
}

func rtItoa(n int64) string { return strconv.FormatInt(n, 10) }
