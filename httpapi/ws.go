package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/taskboard/taskboard"
)

const (
	// wsReadLimit is the largest message a client may send; a larger one
	// closes the connection with 1009.
	wsReadLimit = 64 << 10
	// wsQueueSize bounds the frames waiting for a connection's writer.
	wsQueueSize = 128
	// wsWriteTimeout bounds each write; a client that takes longer to take
	// one frame is dropped.
	wsWriteTimeout = 10 * time.Second
	// wsCloseTimeout bounds the close handshake; past it the connection is
	// dropped without one.
	wsCloseTimeout = 2 * time.Second
	// wsMaxEcho bounds how much of a client's text an error message repeats.
	wsMaxEcho = 64
)

// Close codes of the application.
const (
	// StatusUnauthorized closes a WebSocket without valid credentials, or
	// whose credentials were revoked. Browsers should not retry.
	StatusUnauthorized websocket.StatusCode = 4001
	// StatusSlowConsumer closes a WebSocket that could not keep up with its
	// events. The client rejoins its boards with "after" and loses nothing.
	StatusSlowConsumer websocket.StatusCode = 4008
)

// wsClose is why the server ends a WebSocket.
type wsClose struct {
	code    websocket.StatusCode
	reason  string
	message []byte // sent just before the close frame
	abrupt  bool   // drop the connection without a close handshake
}

func (c *wsClose) Error() string { return fmt.Sprintf("websocket: close %d %s", c.code, c.reason) }

var (
	closeGoingAway    = &wsClose{code: websocket.StatusGoingAway, reason: "going away"}
	closeUnauthorized = &wsClose{code: StatusUnauthorized, reason: "Unauthorized", message: []byte(`{"type":"error","error":"Unauthorized"}`)}
	closeSlowConsumer = &wsClose{code: StatusSlowConsumer, reason: "slow consumer"}
	closeInternal     = &wsClose{code: websocket.StatusInternalError, reason: "internal error"}
	closeDrop         = &wsClose{abrupt: true}
)

// Outbound messages besides the feed's events.
type (
	wsJoined struct {
		Type    string `json:"type"`
		BoardID string `json:"boardId"`
		Seq     int64  `json:"seq"`
	}
	wsPresence struct {
		Type    string                    `json:"type"`
		BoardID string                    `json:"boardId"`
		Users   []taskboard.PresenceEntry `json:"users"`
	}
	wsError struct {
		Type    string `json:"type"`
		Error   string `json:"error"`
		BoardID string `json:"boardId,omitempty"`
	}
	wsPong struct {
		Type string `json:"type"`
	}
)

// wsFrame is one text message waiting for the writer.
type wsFrame struct {
	data  []byte
	event bool // a feed event, counted as a delivery
}

// wsConn is one WebSocket connection. Its goroutines: the handler's
// (serve, which owns the rest and tears down), the reader, the writer, the
// pinger, and a pump per joined board that feeds the board's subscription
// into the writer's queue. All end when ctx is cancelled; serve waits for
// them.
type wsConn struct {
	h       *Handler
	id      *Identity // nil when the client did not authenticate
	st      *stream
	conn    *websocket.Conn
	netConn net.Conn // under conn
	out     chan wsFrame

	ctx    context.Context // cancelled to drop the connection
	cancel context.CancelFunc
	// closing is cancelled, with a *wsClose cause, when the connection
	// must end; serve then closes it.
	closing      context.Context
	requestClose context.CancelCauseFunc
	slow         atomic.Bool

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	boards map[string]*wsBoard
}

// wsBoard is a board a connection joined: its subscription and the pump
// that reads it.
type wsBoard struct {
	id     string
	sub    *taskboard.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the pump returned
	once   sync.Once

	// Guarded by wsConn.mu.
	gone      bool
	present   bool
	typing    *typingState
	typingGen uint64
}

// typingState is the task a connection types in on a board.
type typingState struct {
	taskID string
	timer  *time.Timer
}

// serveWebSocket is GET /ws.
func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !h.originAllowed(r) {
		h.writeError(w, r, errForbiddenOrig)
		return
	}
	id, err := h.auth.Authenticate(r)
	if err != nil {
		if !errors.Is(err, taskboard.ErrUnauthorized) {
			h.writeError(w, r, err)
			return
		}
		id = nil
	} else {
		infoOf(r).userID = id.User.ID
	}
	c := &wsConn{h: h, id: id, out: make(chan wsFrame, wsQueueSize), boards: make(map[string]*wsBoard)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.closing, c.requestClose = context.WithCancelCause(context.Background())
	defer c.cancel()
	defer c.requestClose(nil)
	st, err := h.rt.open(transportWebSocket, id, c.stop)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer h.rt.close(st)
	c.st = st

	// The server's read and write timeouts must not cut the connection.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	// The origin was checked above, by the Handler's own rules.
	hj := &hijacked{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the request
	}
	conn.SetReadLimit(wsReadLimit)
	c.conn, c.netConn = conn, hj.conn
	if id == nil {
		c.requestClose(closeUnauthorized)
	}
	c.serve()
}

// stop ends the connection for the stream registry.
func (c *wsConn) stop(cause error) {
	if errors.Is(cause, errRevoked) {
		c.requestClose(closeUnauthorized)
		return
	}
	c.requestClose(closeGoingAway)
}

// serve runs the connection until it must close, closes it and tears it
// down.
func (c *wsConn) serve() {
	c.wg.Add(3)
	go c.read()
	go c.write()
	go c.ping()

	<-c.closing.Done()
	if cl, ok := context.Cause(c.closing).(*wsClose); ok && !cl.abrupt {
		// Drop the connection if the close handshake does not complete in
		// time.
		drop := time.AfterFunc(wsCloseTimeout, c.drop)
		if cl.message != nil {
			ctx, cancel := context.WithTimeout(c.ctx, wsCloseTimeout)
			_ = c.conn.Write(ctx, websocket.MessageText, cl.message)
			cancel()
		}
		_ = c.conn.Close(cl.code, cl.reason)
		drop.Stop()
	}
	c.drop()
	_ = c.conn.CloseNow()

	c.mu.Lock()
	c.closed = true
	boards := make([]*wsBoard, 0, len(c.boards))
	for _, b := range c.boards {
		boards = append(boards, b)
	}
	c.mu.Unlock()
	for _, b := range boards {
		c.unfollow(b)
	}
	c.wg.Wait()
}

// drop ends the connection at once: it cancels every operation on it and
// closes the network connection under the WebSocket.
func (c *wsConn) drop() {
	c.cancel()
	if c.netConn != nil {
		_ = c.netConn.Close()
	}
}

// hijacked is a ResponseWriter that keeps the connection its Hijack returns,
// so that a WebSocket can be dropped whatever state its close handshake is
// in.
type hijacked struct {
	http.ResponseWriter
	conn net.Conn
}

// Hijack implements http.Hijacker.
func (h *hijacked) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = conn
	return conn, brw, err
}

// Unwrap returns the wrapped ResponseWriter.
func (h *hijacked) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// read reads and handles the client's messages.
func (c *wsConn) read() {
	defer c.wg.Done()
	for {
		_, data, err := c.conn.Read(c.ctx)
		if err != nil {
			// The peer closed, broke the protocol or went silent; a
			// message over the read limit was already answered with 1009.
			c.requestClose(closeDrop)
			return
		}
		if c.id == nil {
			continue // closing as unauthorized
		}
		c.handle(data)
	}
}

// write sends queued frames until the connection closes.
func (c *wsConn) write() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.closing.Done():
			return // what is queued is dropped: the client resumes
		case f := <-c.out:
			ctx, cancel := context.WithTimeout(c.ctx, wsWriteTimeout)
			err := c.conn.Write(ctx, websocket.MessageText, f.data)
			cancel()
			if err != nil {
				c.requestClose(closeDrop)
				return
			}
			if f.event {
				c.h.metrics.delivered.WithLabelValues(transportWebSocket).Inc()
			}
		}
	}
}

// ping pings the peer every PingInterval and drops it when no pong comes
// within PongTimeout.
func (c *wsConn) ping() {
	defer c.wg.Done()
	t := time.NewTicker(c.h.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.closing.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.h.opts.PongTimeout)
		err := c.conn.Ping(ctx)
		cancel()
		if err != nil {
			c.requestClose(closeDrop)
			return
		}
	}
}

// reply queues a message from the reader. A connection whose queue is full
// is a slow consumer.
func (c *wsConn) reply(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		c.h.opts.Logger.Error("encode websocket message", "err", err)
		return
	}
	select {
	case c.out <- wsFrame{data: data}:
	default:
		c.slowConsumer()
	}
}

// slowConsumer closes a connection that cannot keep up with 4008.
func (c *wsConn) slowConsumer() {
	if c.slow.CompareAndSwap(false, true) {
		c.h.metrics.slowDrops.WithLabelValues(transportWebSocket).Inc()
	}
	c.requestClose(closeSlowConsumer)
}

// send queues a frame from a board's pump, waiting for room; the bound is
// the subscription's buffer, whose overflow ends the subscription with
// ErrSlowConsumer. It reports whether the pump should go on.
func (c *wsConn) send(b *wsBoard, f wsFrame) bool {
	select {
	case c.out <- f:
		return true
	case <-b.ctx.Done():
		return false
	case <-b.sub.Done():
		if errors.Is(b.sub.Err(), taskboard.ErrSlowConsumer) {
			c.slowConsumer()
			return false
		}
	}
	select {
	case c.out <- f:
		return true
	case <-b.ctx.Done():
		return false
	}
}

// clientMessage is a decoded client message.
type clientMessage struct {
	Type    string
	BoardID string
	TaskID  string
	After   int64 // -1 when absent
}

// parseClientMessage decodes a client message. It returns the text of the
// error object to answer with when the message is invalid.
func parseClientMessage(data []byte) (clientMessage, string) {
	m := clientMessage{After: -1}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return m, "Invalid JSON"
	}
	str := func(field string) (string, string) {
		v, ok := raw[field]
		if !ok || string(v) == "null" {
			return "", "Missing field: " + field
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", "Invalid field: " + field + " must be a string"
		}
		if s == "" {
			return "", "Missing field: " + field
		}
		return s, ""
	}
	var problem string
	if m.Type, problem = str("type"); problem != "" {
		return m, problem
	}
	switch m.Type {
	case "ping":
		return m, ""
	case "join", "leave", "typing", "stop_typing":
	default:
		t := []rune(m.Type)
		if len(t) > wsMaxEcho {
			t = append(t[:wsMaxEcho], '…')
		}
		return m, "Unknown message type: " + string(t)
	}
	if m.BoardID, problem = str("boardId"); problem != "" {
		return m, problem
	}
	switch m.Type {
	case "join":
		if v, ok := raw["after"]; ok && string(v) != "null" {
			n, ok := nonNegativeInt(v)
			if !ok {
				return m, "Invalid field: after must be a non-negative integer"
			}
			m.After = n
		}
	case "typing", "stop_typing":
		if m.TaskID, problem = str("taskId"); problem != "" {
			return m, problem
		}
	}
	return m, ""
}

// nonNegativeInt decodes a JSON number that is a non-negative integer.
func nonNegativeInt(v json.RawMessage) (int64, bool) {
	var num json.Number
	if len(v) == 0 || v[0] == '"' {
		return 0, false // json.Number would take a numeric string
	}
	if err := json.Unmarshal(v, &num); err != nil {
		return 0, false
	}
	if n, err := num.Int64(); err == nil {
		return n, n >= 0
	}
	f, err := num.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
		return 0, false
	}
	return int64(f), true
}

// handle handles one client message.
func (c *wsConn) handle(data []byte) {
	m, problem := parseClientMessage(data)
	if problem != "" {
		c.reply(wsError{Type: "error", Error: problem, BoardID: m.BoardID})
		return
	}
	switch m.Type {
	case "ping":
		c.reply(wsPong{Type: "pong"})
	case "join":
		c.join(m.BoardID, m.After)
	case "leave":
		c.leave(m.BoardID)
	case "typing":
		c.typing(m.BoardID, m.TaskID, true)
	case "stop_typing":
		c.typing(m.BoardID, m.TaskID, false)
	}
}

// join follows a board after seq after (-1: from now). Joining a board
// again replaces the earlier subscription.
func (c *wsConn) join(boardID string, after int64) {
	c.leave(boardID)
	if max := c.h.opts.MaxSubscriptionsPerConnection; max > 0 {
		c.mu.Lock()
		n := len(c.boards)
		c.mu.Unlock()
		if n >= max {
			c.reply(wsError{Type: "error", Error: "Too many subscriptions on this connection", BoardID: boardID})
			return
		}
	}
	ctx, cancel := context.WithCancel(c.ctx)
	sub, err := c.h.store.Subscribe(ctx, c.id.User.ID, boardID, after, nil)
	if err != nil {
		cancel()
		c.joinFailed(boardID, err)
		return
	}
	// Replay up to the board's seq now, then say joined.
	upTo := sub.Last()
	if after >= 0 {
		if seq, err := c.h.store.BoardSeq(ctx, c.id.User.ID, boardID); err == nil && seq > upTo {
			upTo = seq
		}
	}
	b := &wsBoard{id: boardID, sub: sub, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	c.h.rt.follow(c.st, boardID)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		sub.Close()
		c.h.rt.unfollow(c.st, boardID)
		return
	}
	c.boards[boardID] = b
	c.wg.Add(1)
	c.mu.Unlock()
	go c.pump(b, upTo)
}

// joinFailed answers a join that could not subscribe.
func (c *wsConn) joinFailed(boardID string, err error) {
	var reset *taskboard.ResetError
	switch {
	case errors.As(err, &reset):
		c.h.rt.countReset(reset.Reason)
		c.reply(resetMessage{Type: "reset", BoardID: boardID, Seq: reset.Seq, Reason: reset.Reason})
	case errors.Is(err, taskboard.ErrNotFound):
		c.reply(wsError{Type: "error", Error: "Board not found", BoardID: boardID})
	case c.ctx.Err() != nil:
	case errors.Is(err, taskboard.ErrClosed):
		c.requestClose(closeGoingAway)
	case errors.Is(err, taskboard.ErrUnavailable):
		c.h.opts.Logger.Warn("websocket join", "board", boardID, "err", err)
		c.reply(wsError{Type: "error", Error: "Service Unavailable", BoardID: boardID})
	default:
		c.h.opts.Logger.Error("websocket join", "board", boardID, "err", err)
		c.reply(wsError{Type: "error", Error: "Internal Server Error", BoardID: boardID})
	}
}

// leave stops following a board, and waits until none of its events can
// be queued any more.
func (c *wsConn) leave(boardID string) {
	c.mu.Lock()
	b := c.boards[boardID]
	c.mu.Unlock()
	if b != nil {
		c.unfollow(b)
		<-b.done
	}
}

// pump feeds a joined board's subscription to the writer: the replay up to
// seq upTo, joined, the presence list, then live events.
func (c *wsConn) pump(b *wsBoard, upTo int64) {
	defer c.wg.Done()
	defer close(b.done)
	for b.sub.Last() < upTo {
		ev, err := b.sub.Next(b.ctx)
		if err != nil {
			c.boardEnded(b, err)
			return
		}
		if !c.sendEvent(b, ev) {
			return
		}
	}
	if !c.sendJSON(b, wsJoined{Type: "joined", BoardID: b.id, Seq: upTo}) {
		return
	}

	c.mu.Lock()
	if b.gone {
		c.mu.Unlock()
		return
	}
	joined, err := c.h.rt.presence.Join(b.ctx, b.id, c.id.User, b.sub.ID)
	b.present = err == nil
	c.mu.Unlock()
	if err != nil && b.ctx.Err() == nil {
		c.h.opts.Logger.Warn("presence join", "board", b.id, "user", c.id.User.ID, "err", err)
	}
	if joined {
		c.h.rt.broadcast(taskboard.EventUserJoined, b.id, b.sub.ID, userEvent{
			Type: taskboard.EventUserJoined, BoardID: b.id, User: userRef{ID: c.id.User.ID, Name: c.id.User.Name}})
	}
	users, err := c.h.rt.presence.List(b.ctx, b.id)
	if err != nil {
		if b.ctx.Err() == nil {
			c.h.opts.Logger.Warn("presence list", "board", b.id, "err", err)
		}
		users = []taskboard.PresenceEntry{}
	}
	if !c.sendJSON(b, wsPresence{Type: taskboard.EventPresence, BoardID: b.id, Users: users}) {
		return
	}

	for {
		ev, err := b.sub.Next(b.ctx)
		if err != nil {
			c.boardEnded(b, err)
			return
		}
		if !c.sendEvent(b, ev) {
			return
		}
	}
}

// sendEvent queues a feed event.
func (c *wsConn) sendEvent(b *wsBoard, ev taskboard.Event) bool {
	if ev.Seq == 0 && ev.Type == taskboard.EventPresence {
		return true // presence lists go to joiners directly
	}
	return c.send(b, wsFrame{data: ev.Data, event: true})
}

// sendJSON queues a message of a board's pump.
func (c *wsConn) sendJSON(b *wsBoard, v any) bool {
	data, err := json.Marshal(v)
	if err != nil {
		c.h.opts.Logger.Error("encode websocket message", "err", err)
		return false
	}
	return c.send(b, wsFrame{data: data})
}

// boardEnded handles the end of a joined board's subscription.
func (c *wsConn) boardEnded(b *wsBoard, err error) {
	var reset *taskboard.ResetError
	switch {
	case errors.As(err, &reset):
		// The connection leaves the board and stays open.
		c.unfollow(b)
		c.h.rt.countReset(reset.Reason)
		data, _ := json.Marshal(resetMessage{Type: "reset", BoardID: b.id, Seq: reset.Seq, Reason: reset.Reason})
		select {
		case c.out <- wsFrame{data: data}:
		case <-c.ctx.Done():
		case <-c.closing.Done():
		}
	case errors.Is(err, taskboard.ErrSlowConsumer):
		c.slowConsumer()
	case b.ctx.Err() != nil:
		// Left, or the connection is closing.
	case errors.Is(err, taskboard.ErrClosed):
		c.requestClose(closeGoingAway)
	default:
		c.h.opts.Logger.Error("websocket subscription", "board", b.id, "err", err)
		c.requestClose(closeInternal)
	}
}

// unfollow ends a joined board: its subscription, pump, typing indicator
// and presence. It runs once per board, whoever calls it first.
func (c *wsConn) unfollow(b *wsBoard) {
	b.once.Do(func() {
		b.cancel()
		b.sub.Close()
		c.mu.Lock()
		b.gone = true
		if c.boards[b.id] == b {
			delete(c.boards, b.id)
		}
		if t := b.typing; t != nil {
			b.typing = nil
			t.timer.Stop()
			c.broadcastTyping(b, taskboard.EventUserStoppedTyping, t.taskID)
		}
		present := b.present
		c.mu.Unlock()
		if present {
			c.h.rt.leave(b.id, c.id.User.ID, b.sub.ID)
		}
		c.h.rt.unfollow(c.st, b.id)
	})
}

// typing relays typing (start) or stop_typing to the board's other
// connections; typing lapses by itself after TypingTimeout.
func (c *wsConn) typing(boardID, taskID string, start bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.boards[boardID]
	if b == nil || b.gone {
		c.reply(wsError{Type: "error", Error: "Not joined", BoardID: boardID})
		return
	}
	t := b.typing
	if t != nil && (start || t.taskID == taskID) {
		t.timer.Stop()
		b.typing = nil
		b.typingGen++
		if start && t.taskID != taskID {
			c.broadcastTyping(b, taskboard.EventUserStoppedTyping, t.taskID)
		}
	}
	if !start {
		c.broadcastTyping(b, taskboard.EventUserStoppedTyping, taskID)
		return
	}
	b.typingGen++
	gen := b.typingGen
	b.typing = &typingState{taskID: taskID, timer: time.AfterFunc(c.h.opts.TypingTimeout, func() { c.typingLapsed(b, gen) })}
	c.broadcastTyping(b, taskboard.EventUserTyping, taskID)
}

// typingLapsed ends a typing indicator that was not renewed in time.
func (c *wsConn) typingLapsed(b *wsBoard, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || b.gone || b.typing == nil || b.typingGen != gen {
		return
	}
	task := b.typing.taskID
	b.typing = nil
	c.broadcastTyping(b, taskboard.EventUserStoppedTyping, task)
}

// broadcastTyping sends user_typing or user_stopped_typing to the board's
// other connections; called with c.mu held, so that a connection's typing
// events go out in order.
func (c *wsConn) broadcastTyping(b *wsBoard, typ, taskID string) {
	c.h.rt.broadcast(typ, b.id, b.sub.ID, typingEvent{
		Type: typ, BoardID: b.id, TaskID: taskID, User: userRef{ID: c.id.User.ID, Name: c.id.User.Name}})
}
