package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// rawWS is a WebSocket client that writes frames as given, to check how
// the server reads the framing itself.
type rawWS struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (e *rtEnv) rawWS(token string) *rawWS {
	e.t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), rtWait)
	defer cancel()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + token}})}
	conn, br, _, err := d.Dial(ctx, u)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { conn.Close() })
	var r io.Reader = conn
	if br != nil {
		// The handshake's reader holds bytes that came with the response.
		r = io.MultiReader(br, conn)
	}
	return &rawWS{t: e.t, conn: conn, r: bufio.NewReader(r)}
}

// frame writes one frame, masked as a client's must be unless masked is false.
func (c *rawWS) frame(op ws.OpCode, fin bool, payload string, masked bool) {
	c.t.Helper()
	f := ws.NewFrame(op, fin, []byte(payload))
	if masked {
		f = ws.MaskFrameInPlace(f)
	}
	if err := ws.WriteFrame(c.conn, f); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// next reads the server's next frame.
func (c *rawWS) next() ws.Frame {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(rtWait))
	f, err := ws.ReadFrame(c.r)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	if f.Header.Masked {
		c.t.Fatal("the server masked a frame")
	}
	return f
}

// nextMessage reads frames until a text frame and returns its type field.
func (c *rawWS) nextMessage() string {
	c.t.Helper()
	for {
		f := c.next()
		if f.Header.OpCode == ws.OpClose {
			code, reason := ws.ParseCloseFrameData(f.Payload)
			c.t.Fatalf("closed with %d %s, want a message", code, reason)
		}
		if f.Header.OpCode != ws.OpText {
			continue
		}
		var m struct{ Type string }
		if err := json.Unmarshal(f.Payload, &m); err != nil {
			c.t.Fatalf("message %q: %v", f.Payload, err)
		}
		return m.Type
	}
}

// wantClose reads frames until the close frame and checks its code, then
// that the server closes the connection.
func (c *rawWS) wantClose(code ws.StatusCode) {
	c.t.Helper()
	for {
		f := c.next()
		if f.Header.OpCode != ws.OpClose {
			continue
		}
		if got, reason := ws.ParseCloseFrameData(f.Payload); got != code {
			c.t.Fatalf("closed with %d %q, want %d", got, reason, code)
		}
		break
	}
	c.frame(ws.OpClose, true, string(ws.NewCloseFrameBody(code, "")), true)
	_ = c.conn.SetReadDeadline(time.Now().Add(rtWait))
	if _, err := c.r.Read(make([]byte, 1)); err == nil {
		c.t.Fatal("the server sent more after its close frame")
	}
}

// TestWSFraming checks the server's reading of RFC 6455 framing with a
// client that writes its frames by hand.
func TestWSFraming(t *testing.T) {
	e := newRTEnvServer(t, dbtest.SQLite(t), nil, nil, rtPlain)

	t.Run("fragments and control frames between them", func(t *testing.T) {
		c := e.rawWS(e.bob)
		c.frame(ws.OpText, false, `{"type":"jo`, true)
		c.frame(ws.OpPing, true, "are you there", true)
		if f := c.next(); f.Header.OpCode != ws.OpPong || string(f.Payload) != "are you there" {
			t.Fatalf("got opcode %v %q, want the pong of the ping", f.Header.OpCode, f.Payload)
		}
		c.frame(ws.OpContinuation, false, `in","boardId":`, true)
		c.frame(ws.OpContinuation, true, `"board-1"}`, true)
		if typ := c.nextMessage(); typ != "joined" {
			t.Fatalf("got %s, want joined", typ)
		}
		// A binary message is read as well.
		c.frame(ws.OpBinary, true, `{"type":"ping"}`, true)
		for typ := c.nextMessage(); typ != "pong"; typ = c.nextMessage() {
		}
	})
	t.Run("client close is echoed", func(t *testing.T) {
		c := e.rawWS(e.bob)
		c.frame(ws.OpClose, true, string(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")), true)
		f := c.next()
		if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusNormalClosure {
			t.Fatalf("got opcode %v code %d, want close 1000", f.Header.OpCode, code)
		}
	})
	for name, tt := range map[string]struct {
		send func(c *rawWS)
		want ws.StatusCode
	}{
		"unmasked frame":     {func(c *rawWS) { c.frame(ws.OpText, true, `{"type":"ping"}`, false) }, ws.StatusProtocolError},
		"continuation alone": {func(c *rawWS) { c.frame(ws.OpContinuation, true, `{}`, true) }, ws.StatusProtocolError},
		"unknown opcode":     {func(c *rawWS) { c.frame(ws.OpCode(3), true, `{}`, true) }, ws.StatusProtocolError},
		"invalid UTF-8":      {func(c *rawWS) { c.frame(ws.OpText, true, "{\"type\":\"\xff\"}", true) }, ws.StatusInvalidFramePayloadData},
		"fragments over 64 KiB": {func(c *rawWS) {
			c.frame(ws.OpText, false, strings.Repeat("x", 40<<10), true)
			c.frame(ws.OpContinuation, true, strings.Repeat("x", 40<<10), true)
		}, ws.StatusMessageTooBig},
		"new message in message": {func(c *rawWS) { c.frame(ws.OpText, false, `{`, true); c.frame(ws.OpText, true, `}`, true) }, ws.StatusProtocolError},
	} {
		t.Run(name, func(t *testing.T) {
			c := e.rawWS(e.bob)
			tt.send(c)
			c.wantClose(tt.want)
		})
	}
	// The server is still fine.
	c := e.rawWS(e.bob)
	c.frame(ws.OpText, true, `{"type":"ping"}`, true)
	if typ := c.nextMessage(); typ != "pong" {
		t.Fatalf("got %s, want pong", typ)
	}
}
