package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsMessage is the head of a server message of GET /ws.
type wsMessage struct {
	Type    string `json:"type"`
	BoardID string `json:"boardId"`
	Seq     int64  `json:"seq"`
	Reason  string `json:"reason"`
	Error   string `json:"error"`
}

// connectWS reads one WebSocket connection: it joins the board after the
// cursor and rejoins after a reset, as the connection stays open then.
func (f *follower) connectWS(ctx context.Context) (bool, error) {
	q, h, err := f.credential(ctx)
	if err != nil {
		return false, err
	}
	u := f.c.url("/ws", q)
	u = "ws" + strings.TrimPrefix(u, "http")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, resp, err := websocket.Dial(cctx, u, &websocket.DialOptions{HTTPClient: f.c.hc, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return false, &Error{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode), Method: http.MethodGet, Path: "/ws"}
		}
		return false, fmt.Errorf("client: GET /ws: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(8 << 20)

	// A connection silent for longer than the idle timeout is cut; pings
	// keep a quiet one talking. The pinger ends with cctx.
	idle := time.AfterFunc(f.cfg.idle, cancel)
	defer idle.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.cfg.idle / 3)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
				_ = conn.Write(cctx, websocket.MessageText, []byte(`{"type":"ping"}`))
			}
		}
	}()

	join := func() error {
		m := map[string]any{"type": "join", "boardId": f.cur.boardID}
		if f.cur.seq >= 0 {
			m["after"] = f.cur.seq
		}
		data, _ := json.Marshal(m)
		return conn.Write(cctx, websocket.MessageText, data)
	}
	if err := join(); err != nil {
		return false, fmt.Errorf("client: GET /ws: join: %w", err)
	}
	progressed := false
	for {
		_, data, err := conn.Read(cctx)
		if err != nil {
			if websocket.CloseStatus(err) == 4001 {
				return progressed, &Error{Status: http.StatusUnauthorized, Message: "Unauthorized", Method: http.MethodGet, Path: "/ws"}
			}
			if ctx.Err() != nil {
				return progressed, ctx.Err()
			}
			return progressed, fmt.Errorf("client: GET /ws: %w", err)
		}
		idle.Reset(f.cfg.idle)
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return progressed, fmt.Errorf("client: decode WebSocket message: %w", err)
		}
		if m.BoardID != "" && m.BoardID != f.cur.boardID {
			continue
		}
		switch {
		case m.Type == "pong":
		case m.Type == "error":
			switch m.Error {
			case "Unauthorized":
				return progressed, &Error{Status: http.StatusUnauthorized, Message: m.Error, Method: http.MethodGet, Path: "/ws"}
			case "Board not found":
				return progressed, &Error{Status: http.StatusNotFound, Message: m.Error, Method: http.MethodGet, Path: "/ws"}
			}
			return progressed, fmt.Errorf("client: GET /ws: %s: %w", m.Error, errReconnect)
		case m.Type == "joined":
			progressed = true
			if f.cur.seq < 0 {
				f.cur.seq = m.Seq
			}
		case m.Type == EventReset:
			if err := f.reset(ctx, m.Reason); err != nil {
				return progressed, err
			}
			if err := join(); err != nil {
				return progressed, fmt.Errorf("client: GET /ws: join: %w", err)
			}
		case m.Seq > 0:
			if err := f.logged(ctx, m.Type, data); err != nil {
				return progressed, err
			}
		default:
			if m.BoardID == "" {
				m.BoardID = f.cur.boardID
			}
			if err := f.deliver(ctx, Event{Type: m.Type, BoardID: m.BoardID, Data: data}); err != nil {
				return progressed, err
			}
		}
	}
}
