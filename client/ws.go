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

	"github.com/taskboard/taskboard"
)

// wsMessage is the head of a server message of GET /ws.
type wsMessage struct {
	Type    string `json:"type"`
	BoardID string `json:"boardId"`
	Seq     int64  `json:"seq"`
	Reason  string `json:"reason"`
	Error   string `json:"error"`
}

// connectWS reads one WebSocket connection: it joins each followed board
// after its cursor (a board not started yet, from now), or with AllBoards
// every board at once (a join of * with the composite cursor), and rejoins
// a board after a reset that keeps it, as the connection stays open then.
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

	join := func(boardID string) error {
		m := map[string]any{"type": "join", "boardId": boardID}
		if seq, ok := f.cur[boardID]; ok {
			m["after"] = seq
		}
		if !f.single {
			// The server counts a join present unless told otherwise;
			// FollowBoards is present only on its presence board.
			m["presence"] = boardID == f.presence
		}
		data, _ := json.Marshal(m)
		if err := conn.Write(cctx, websocket.MessageText, data); err != nil {
			return fmt.Errorf("client: GET /ws: join %s: %w", boardID, err)
		}
		return nil
	}
	// As over SSE, a connection that resumes no board is fresh: a board the
	// caller cannot see ends the stream rather than being dropped.
	fresh := len(f.cur) == 0
	if f.all {
		// One join of every board, each after its cursor seq; the server
		// joins the boards the caller gets later and says following.
		m := map[string]any{"type": "join", "boardId": AllBoards}
		if len(f.cur) > 0 {
			m["after"] = f.cur.String()
		}
		if f.presence != "" {
			m["presence"] = f.presence
		}
		data, _ := json.Marshal(m)
		if err := conn.Write(cctx, websocket.MessageText, data); err != nil {
			return false, fmt.Errorf("client: GET /ws: join %s: %w", AllBoards, err)
		}
	}
	for _, id := range f.boards() {
		if f.all {
			break
		}
		if err := join(id); err != nil {
			return false, err
		}
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
		if m.BoardID != "" && m.BoardID != AllBoards && !f.followed(m.BoardID) && !f.all {
			continue
		}
		if m.BoardID == "" && f.single {
			m.BoardID = f.boards()[0]
		}
		switch {
		case m.Type == "pong":
		case m.Type == "error":
			if err := f.wsError(ctx, m, fresh); err != nil {
				return progressed, err
			}
		case m.Type == EventFollowing:
			progressed = true
			if err := f.started(ctx, m.BoardID, m.Seq); err != nil {
				return progressed, err
			}
		case m.Type == EventLimit:
			if err := f.deliver(ctx, Event{Type: EventLimit, BoardID: m.BoardID, Data: data}); err != nil {
				return progressed, err
			}
		case m.Type == "joined":
			progressed = true
			if err := f.started(ctx, m.BoardID, m.Seq); err != nil {
				return progressed, err
			}
		case m.Type == EventReset:
			if !f.followed(m.BoardID) {
				continue
			}
			if err := f.reset(ctx, m.BoardID, m.Reason); err != nil {
				return progressed, err
			}
			// The connection left the board; a board still followed is
			// joined again after its snapshot.
			if f.followed(m.BoardID) {
				if err := join(m.BoardID); err != nil {
					return progressed, err
				}
			}
		case m.Seq > 0:
			if err := f.logged(ctx, m.Type, data); err != nil {
				return progressed, err
			}
		default:
			if err := f.deliver(ctx, Event{Type: m.Type, BoardID: m.BoardID, Data: data}); err != nil {
				return progressed, err
			}
		}
	}
}

// wsError handles an error message of GET /ws. A board the caller cannot
// see ends Follow, and a FollowBoards stream on a fresh connection (one
// that resumed no board: SSE answers such a request 404); on a resuming
// connection FollowBoards drops it, as SSE does. More boards than the
// server lets a connection join end the stream; other errors (the server
// unavailable, too many messages) reconnect.
func (f *follower) wsError(ctx context.Context, m wsMessage, fresh bool) error {
	notFound := &Error{Status: http.StatusNotFound, Message: m.Error, Method: http.MethodGet, Path: "/ws"}
	switch {
	case m.Error == "Unauthorized":
		return &Error{Status: http.StatusUnauthorized, Message: m.Error, Method: http.MethodGet, Path: "/ws"}
	case m.Error == "Board not found" && (f.single || fresh && !f.all):
		return notFound
	case m.Error == "Board not found":
		return f.drop(ctx, m.BoardID, taskboard.ReasonAccessRevoked)
	case m.Error == "Too many subscriptions on this connection" || m.Error == "Too many boards":
		return &terminalError{fmt.Errorf("client: GET /ws: board %s: %s", m.BoardID, m.Error)}
	}
	return fmt.Errorf("client: GET /ws: %s: %w", m.Error, errReconnect)
}
