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
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/gobwas/ws"
	"github.com/taskboard/taskboard"
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
	// wsMessageRate and wsMessageBurst bound the messages a connection
	// may send (a token bucket per connection); more are answered with an
	// error and not acted on.
	wsMessageRate  = 20
	wsMessageBurst = 40
	// wsMaxTaskID bounds a typing message's taskId.
	wsMaxTaskID = 200
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

	// msgLimit bounds the client's message rate; used by the reader only.
	msgLimit *rate.Limiter

	mu           sync.Mutex
	closing      bool // no more joins
	boards       map[string]*wsBoard
	all          *wsAll // the join of *, nil when none
	nextSub      uint64
	pingTimer    *time.Timer
	awaitingPong bool
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
	c := &wsConn{h: h, id: id, boards: make(map[string]*wsBoard), readerDone: make(chan struct{}),
		msgLimit: rate.NewLimiter(wsMessageRate, wsMessageBurst)}
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
