package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

const (
	// wsReadLimit is the largest message a client may send; a larger one
	// closes the connection with 1009.
	wsReadLimit = 64 << 10
	// wsWriteTimeout bounds how long a client may take to accept bytes
	// once its socket buffer is full; a slower one is dropped.
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
	StatusUnauthorized = 4001
	// StatusSlowConsumer closes a WebSocket that could not keep up with its
	// events. The client rejoins its boards with "after" and loses nothing.
	StatusSlowConsumer = 4008
)

// wsClose is why the server ends a WebSocket.
type wsClose struct {
	code    ws.StatusCode
	reason  string
	message []byte // sent just before the close frame
	abrupt  bool   // drop the connection without a close handshake
}

func (c *wsClose) Error() string { return fmt.Sprintf("websocket: close %d %s", c.code, c.reason) }

var (
	closeGoingAway    = &wsClose{code: ws.StatusGoingAway, reason: "going away"}
	closeUnauthorized = &wsClose{code: StatusUnauthorized, reason: "Unauthorized", message: []byte(`{"type":"error","error":"Unauthorized"}`)}
	closeSlowConsumer = &wsClose{code: StatusSlowConsumer, reason: "slow consumer"}
	closeInternal     = &wsClose{code: ws.StatusInternalServerError, reason: "internal error"}
	closeProtocol     = &wsClose{code: ws.StatusProtocolError, reason: "protocol error"}
	closeTooBig       = &wsClose{code: ws.StatusMessageTooBig, reason: "message too big"}
	closeBadText      = &wsClose{code: ws.StatusInvalidFramePayloadData, reason: "invalid UTF-8"}
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

// wsPingFrame is the server's ping.
var wsPingFrame = ws.MustCompileFrame(ws.NewPingFrame(nil))

// wsTextFrame encodes data as one unmasked text frame.
func wsTextFrame(data []byte) []byte {
	return ws.MustCompileFrame(ws.NewTextFrame(data))
}

// wsEventFrame encodes a feed event as a text frame.
func wsEventFrame(ev taskboard.Event) []byte { return wsTextFrame(ev.Data) }

// wsConn is one WebSocket connection, written with the RFC 6455 framing
// of github.com/gobwas/ws on the connection taken over from net/http.
//
// Its only long-lived goroutine is the reader, which handles the client's
// messages. Events go out through the pusher of each joined board, on the
// feed's goroutines; pings through a timer. A join runs on a goroutine of
// its own until its replay is written, and the close on another. All of
// them end when the connection closes; the closer waits for them.
type wsConn struct {
	h      *Handler
	id     *Identity // nil when the client did not authenticate
	st     *stream
	connID string // the prefix of its subscription IDs
	conn   net.Conn
	r      io.Reader // the client's bytes
	cw     *connWriter

	// ctx is cancelled when the connection ends.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce  sync.Once
	readerDone chan struct{} // closed when the reader returns
	group      goGroup

	mu           sync.Mutex
	closing      bool // no more joins
	boards       map[string]*wsBoard
	nextSub      uint64
	pingTimer    *time.Timer
	awaitingPong bool
}

// wsBoard is a board a connection joined: its subscription and the pusher
// that writes it.
type wsBoard struct {
	c      *wsConn
	id     string
	subID  string
	ctx    context.Context
	cancel context.CancelFunc
	push   atomic.Pointer[pusher]
	once   sync.Once

	// req makes the board's subscription a push subscription: its ID,
	// Ready and Reader. Used by the goroutine that starts it, then by the
	// pusher.
	req seam.Push[taskboard.Event]

	// Guarded by wsConn.mu.
	sub       *taskboard.Subscription
	gone      bool
	followed  bool
	present   bool
	typing    *typingState
	typingGen uint64

	// writeMu guards stopped, so that once the board is left none of its
	// frames is written any more.
	writeMu sync.Mutex
	stopped bool
	// batch is used by the board's reader only.
	batch frameBatch
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
	id, err := h.authenticate(r)
	if err != nil {
		if !errors.Is(err, ErrUnauthorized) {
			h.writeError(w, r, err)
			return
		}
		id = nil
	} else {
		infoOf(r).userID = id.User.ID
	}
	c := &wsConn{h: h, id: id, boards: make(map[string]*wsBoard), readerDone: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	st, err := h.rt.open(transportWebSocket, id, c.stop)
	if err != nil {
		c.cancel()
		h.writeError(w, r, err)
		return
	}
	c.st = st
	// The origin was checked above, by the Handler's own rules.
	conn, rw, _, err := ws.HTTPUpgrader{}.Upgrade(r, w)
	if err != nil {
		// The upgrader answered the request.
		if conn != nil {
			_ = conn.Close()
		}
		c.cancel()
		h.rt.close(st)
		return
	}
	// The server's deadlines were for the request.
	_ = conn.SetDeadline(time.Time{})
	c.conn, c.r = conn, conn
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		c.r = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	c.cw = newConnWriter(conn, wsWriteTimeout, h.store.Options().SubscriberBuffer, c.writeFailed)
	c.connID = newConnID()
	c.group.Go(c.read)
	if id == nil {
		c.requestClose(closeUnauthorized)
		return
	}
	c.mu.Lock()
	c.pingTimer = time.AfterFunc(h.opts.PingInterval, c.pingTick)
	c.mu.Unlock()
}

// newConnID returns a random connection ID, unique across instances.
func newConnID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ws" + hex.EncodeToString(b[:])
}

// stop ends the connection for the stream registry.
func (c *wsConn) stop(cause error) {
	if errors.Is(cause, errRevoked) {
		c.requestClose(closeUnauthorized)
		return
	}
	c.requestClose(closeGoingAway)
}

// writeFailed handles the failure of the connection's writer.
func (c *wsConn) writeFailed(err error) {
	if errors.Is(err, errWriteBacklog) {
		c.slowConsumer()
		return
	}
	c.requestClose(closeDrop)
}

// slowConsumer closes a connection that cannot keep up with 4008.
func (c *wsConn) slowConsumer() {
	c.closeOnce.Do(func() {
		c.h.metrics.slowDrops.WithLabelValues(transportWebSocket).Inc()
		go c.close(closeSlowConsumer)
	})
}

// requestClose ends the connection with cl, once: later calls do nothing.
func (c *wsConn) requestClose(cl *wsClose) {
	c.closeOnce.Do(func() { go c.close(cl) })
}

// close ends the connection: it leaves every board, says goodbye (unless
// cl is abrupt) and waits for the client's close frame, closes the
// network connection and waits for the connection's goroutines.
func (c *wsConn) close(cl *wsClose) {
	c.mu.Lock()
	c.closing = true
	boards := make([]*wsBoard, 0, len(c.boards))
	for _, b := range c.boards {
		boards = append(boards, b)
	}
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	c.mu.Unlock()
	for _, b := range boards {
		c.unfollow(b)
	}
	if !cl.abrupt {
		if cl.message != nil {
			_ = c.cw.WriteFinal(wsTextFrame(cl.message))
		}
		_ = c.cw.WriteFinal(ws.MustCompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(cl.code, cl.reason))))
		// The client answers with its own close frame once it has read
		// ours; the connection is dropped if that takes too long.
		done := make(chan struct{})
		t := time.AfterFunc(wsCloseTimeout, func() { close(done) })
		select {
		case <-c.readerDone:
		case <-done:
		}
		_ = c.cw.Wait(done)
		t.Stop()
	}
	c.cw.Break(net.ErrClosed)
	c.cancel()
	_ = c.conn.Close()
	c.group.CloseAndWait()
	c.h.rt.close(c.st)
}

// read reads and handles the client's messages until the connection
// closes. After a protocol error it only waits for the client's close
// frame.
func (c *wsConn) read() {
	defer close(c.readerDone)
	var (
		msg        []byte
		msgOp      ws.OpCode
		fragmented bool
		failed     bool // the connection is closing for a protocol error
	)
	fail := func(cl *wsClose) {
		failed = true
		msg, fragmented = nil, false
		c.requestClose(cl)
	}
	for {
		hd, err := ws.ReadHeader(c.r)
		if err != nil {
			// The peer went away or broke the framing.
			c.requestClose(closeDrop)
			return
		}
		if !failed && (hd.Rsv != 0 || !hd.Masked) {
			fail(closeProtocol)
		}
		if hd.OpCode.IsControl() {
			if hd.Length > 125 || !hd.Fin {
				c.requestClose(closeDrop)
				return
			}
			payload := make([]byte, hd.Length)
			if _, err := io.ReadFull(c.r, payload); err != nil {
				c.requestClose(closeDrop)
				return
			}
			ws.Cipher(payload, hd.Mask, 0)
			switch hd.OpCode {
			case ws.OpPing:
				_ = c.cw.Write(ws.MustCompileFrame(ws.NewPongFrame(payload)), 0)
			case ws.OpPong:
				c.pong()
			case ws.OpClose:
				code, _ := ws.ParseCloseFrameData(payload)
				if code < 1000 || code >= 5000 || code.IsProtocolReserved() || code.IsNotUsed() {
					// Echo only a code a close frame may carry.
					code = ws.StatusNormalClosure
				}
				c.requestClose(&wsClose{code: code})
				return
			}
			continue
		}
		if failed {
			if _, err := io.CopyN(io.Discard, c.r, hd.Length); err != nil {
				c.requestClose(closeDrop)
				return
			}
			continue
		}
		switch hd.OpCode {
		case ws.OpContinuation:
			if !fragmented {
				fail(closeProtocol)
			}
		case ws.OpText, ws.OpBinary:
			if fragmented {
				fail(closeProtocol)
			}
			msgOp, fragmented = hd.OpCode, true
		default:
			fail(closeProtocol)
		}
		if !failed && int64(len(msg))+hd.Length > wsReadLimit {
			fail(closeTooBig)
		}
		if failed {
			if _, err := io.CopyN(io.Discard, c.r, hd.Length); err != nil {
				c.requestClose(closeDrop)
				return
			}
			continue
		}
		start := len(msg)
		msg = append(msg, make([]byte, hd.Length)...)
		if _, err := io.ReadFull(c.r, msg[start:]); err != nil {
			c.requestClose(closeDrop)
			return
		}
		ws.Cipher(msg[start:], hd.Mask, 0)
		if !hd.Fin {
			continue
		}
		data := msg
		msg, fragmented = nil, false
		if msgOp == ws.OpText && !utf8.Valid(data) {
			fail(closeBadText)
			continue
		}
		if c.id == nil {
			continue // closing as unauthorized
		}
		c.handle(data)
	}
}

// pingTick pings the client, or drops it when the previous ping got no
// pong within PongTimeout.
func (c *wsConn) pingTick() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.awaitingPong {
		c.mu.Unlock()
		c.requestClose(closeDrop)
		return
	}
	c.awaitingPong = true
	c.pingTimer.Reset(c.h.opts.PongTimeout)
	c.mu.Unlock()
	_ = c.cw.Write(wsPingFrame, 0)
}

// pong records the client's pong and sets the next ping.
func (c *wsConn) pong() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.awaitingPong && !c.closing {
		c.awaitingPong = false
		c.pingTimer.Reset(c.h.opts.PingInterval)
	}
}

// reply writes a message of the connection's own (a pong, an error).
func (c *wsConn) reply(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		c.h.opts.Logger.Error("encode websocket message", "err", err)
		return
	}
	_ = c.cw.Write(wsTextFrame(data), 0)
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
// again replaces the earlier subscription. The subscription starts on a
// goroutine of the board's, which writes the replay, joined and the
// presence list, then hands over to the board's pusher.
func (c *wsConn) join(boardID string, after int64) {
	c.leave(boardID)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if max := c.h.opts.MaxSubscriptionsPerConnection; max > 0 && len(c.boards) >= max {
		c.mu.Unlock()
		c.reply(wsError{Type: "error", Error: "Too many subscriptions on this connection", BoardID: boardID})
		return
	}
	c.nextSub++
	b := &wsBoard{c: c, id: boardID, subID: c.connID + "-" + strconv.FormatUint(c.nextSub, 10)}
	b.ctx, b.cancel = context.WithCancel(c.ctx)
	c.boards[boardID] = b
	c.mu.Unlock()
	if !c.group.Go(func() { c.start(b, after) }) {
		c.unfollow(b) // the connection is closing
	}
}

// start subscribes a joined board and writes its replay up to the board's
// seq now, joined and the presence list; then the board's pusher takes
// over.
func (c *wsConn) start(b *wsBoard, after int64) {
	b.req.ID, b.req.Ready = b.subID, b.ready
	sub, err := c.h.store.Subscribe(seam.WithPush(b.ctx, &b.req), c.id.actor(), b.id, after)
	if err != nil {
		c.mu.Lock()
		gone := b.gone
		b.gone = true
		if c.boards[b.id] == b {
			delete(c.boards, b.id)
		}
		c.mu.Unlock()
		b.cancel()
		if !gone {
			c.joinFailed(b.id, err)
		}
		return
	}
	r := b.req.Reader
	upTo := r.Last()
	if after >= 0 {
		if seq, err := c.h.store.BoardSeq(b.ctx, c.id.actor(), b.id); err == nil && seq > upTo {
			upTo = seq
		}
	}
	c.mu.Lock()
	if b.gone {
		c.mu.Unlock()
		sub.Close()
		return
	}
	b.sub, b.followed = sub, true
	c.h.rt.follow(c.st, b.id)
	c.mu.Unlock()

	p := &pusher{
		sub:   r,
		ctx:   b.ctx,
		emit:  b.emit,
		flush: b.flush,
		wait:  func() error { return c.cw.Wait(b.ctx.Done()) },
		ended: b.ended,
		group: &c.group,
	}
	b.push.Store(p) // this goroutine is its reader, to the catchUp at the end

	for r.Last() < upTo {
		ev, err := r.Next(b.ctx)
		if err != nil {
			if b.flush() == nil {
				b.ended(err)
			}
			return
		}
		b.emit(ev)
		if b.batch.n >= pushMaxBatch {
			if b.flush() != nil || c.cw.Wait(b.ctx.Done()) != nil {
				return
			}
		}
	}
	// The replay is written out before live events count against the
	// connection's backlog.
	if b.flush() != nil || c.cw.Wait(b.ctx.Done()) != nil {
		return
	}
	if b.writeJSON(wsJoined{Type: "joined", BoardID: b.id, Seq: upTo}) != nil {
		return
	}

	c.mu.Lock()
	if b.gone {
		c.mu.Unlock()
		return
	}
	joined, err := c.h.rt.presence.Join(b.ctx, b.id, c.id.User, b.subID)
	b.present = err == nil
	c.mu.Unlock()
	if err != nil && b.ctx.Err() == nil {
		c.h.opts.Logger.Warn("presence join", "board", b.id, "user", c.id.User.ID, "err", err)
	}
	if joined {
		c.h.rt.broadcast(taskboard.EventUserJoined, b.id, b.subID, userEvent{
			Type: taskboard.EventUserJoined, BoardID: b.id, User: userRef{ID: c.id.User.ID, Name: c.id.User.Name}})
	}
	users, err := c.h.rt.presence.List(b.ctx, b.id)
	if err != nil {
		if b.ctx.Err() == nil {
			c.h.opts.Logger.Warn("presence list", "board", b.id, "err", err)
		}
		users = []taskboard.PresenceEntry{}
	}
	if b.writeJSON(wsPresence{Type: taskboard.EventPresence, BoardID: b.id, Users: users}) != nil {
		return
	}
	p.catchUp()
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

// leave stops following a board; none of its frames is written after.
func (c *wsConn) leave(boardID string) {
	c.mu.Lock()
	b := c.boards[boardID]
	c.mu.Unlock()
	if b != nil {
		c.unfollow(b)
	}
}

// ready is the subscription's Ready function.
func (b *wsBoard) ready() {
	if p := b.push.Load(); p != nil {
		p.ready()
	}
}

// emit adds a feed event's frame to the batch.
func (b *wsBoard) emit(ev taskboard.Event) {
	if ev.Seq == 0 && ev.Type == taskboard.EventPresence {
		return // presence lists go to joiners directly
	}
	b.batch.add(b.c.h.wsFrames.get(ev, wsEventFrame))
}

// errBoardLeft stops the writes of a board the connection left.
var errBoardLeft = errors.New("httpapi: board left")

// flush writes the batch, unless the board was left.
func (b *wsBoard) flush() error {
	if b.batch.n == 0 {
		return nil
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	n := b.batch.n
	if b.stopped {
		b.batch.reset()
		return errBoardLeft
	}
	err := b.c.cw.Write(b.batch.bytes(), n)
	b.batch.reset()
	if err == nil {
		b.c.h.metrics.deliveredWS.Add(float64(n))
	}
	return err
}

// writeJSON writes a message of the board's own (joined, presence) after
// its batch.
func (b *wsBoard) writeJSON(v any) error {
	if err := b.flush(); err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode websocket message: %w", err)
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	if b.stopped {
		return errBoardLeft
	}
	return b.c.cw.Write(wsTextFrame(data), 0)
}

// ended handles the end of a joined board's subscription.
func (b *wsBoard) ended(err error) {
	c := b.c
	var reset *taskboard.ResetError
	switch {
	case errors.As(err, &reset):
		// The connection leaves the board and stays open.
		c.unfollow(b)
		c.h.rt.countReset(reset.Reason)
		c.reply(resetMessage{Type: "reset", BoardID: b.id, Seq: reset.Seq, Reason: reset.Reason})
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

// unfollow ends a joined board: its writes, subscription, typing indicator
// and presence. It runs once per board, whoever calls it first.
func (c *wsConn) unfollow(b *wsBoard) {
	b.once.Do(func() {
		b.cancel()
		b.writeMu.Lock()
		b.stopped = true
		b.writeMu.Unlock()
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
		sub, present, followed := b.sub, b.present, b.followed
		c.mu.Unlock()
		if sub != nil {
			sub.Close()
		}
		if present {
			c.h.rt.leave(b.id, c.id.User.ID, b.subID)
		}
		if followed {
			c.h.rt.unfollow(c.st, b.id)
		}
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
	if c.closing || b.gone || b.typing == nil || b.typingGen != gen {
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
	c.h.rt.broadcast(typ, b.id, b.subID, typingEvent{
		Type: typ, BoardID: b.id, TaskID: taskID, User: userRef{ID: c.id.User.ID, Name: c.id.User.Name}})
}
