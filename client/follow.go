package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taskboard/taskboard"
)

// FromNow, as Follow's after, starts with the board's next event.
const FromNow int64 = -1

// EventReset is the Type of the Event that reports a reset.
const EventReset = "reset"

// Event is one event Follow delivers: a logged event (Seq >= 1, Envelope
// set), an ephemeral one (Seq 0: user_joined, user_typing, presence...,
// only Data set), or a reset (Type EventReset, Reset set).
type Event struct {
	Type    string
	BoardID string
	Seq     int64
	// Envelope is a logged event, decoded.
	Envelope *taskboard.Envelope
	// Data is the event's JSON object as the server sent it.
	Data json.RawMessage
	// Reset is set on a reset: the caller's state of the board is to be
	// replaced by Reset.Snapshot; events that follow come after its seq.
	Reset *Reset
}

// Reset says that the board's events could not be resumed from where
// the caller was, why, and what the board now is.
type Reset struct {
	// Reason is "history_truncated", "ahead", "access_revoked" or
	// "board_deleted".
	Reason string
	// Snapshot is the board as of Snapshot.Seq.
	Snapshot *taskboard.Snapshot
}

// Transport is how Follow receives events.
type Transport int

const (
	// SSE is GET /boards/{boardId}/events (the default).
	SSE Transport = iota
	// WebSocket is GET /ws with a join per board.
	WebSocket
)

// FollowOption configures Follow.
type FollowOption func(*followConfig)

type followConfig struct {
	transport Transport
	tickets   bool
	idle      time.Duration
	buffer    int
}

// Over chooses the transport (default SSE).
func Over(t Transport) FollowOption { return func(f *followConfig) { f.transport = t } }

// WithTickets authenticates each connection with a fresh ticket
// (POST /realtime/tickets with the client's credentials, then ?ticket=)
// instead of sending the bearer token on the stream.
func WithTickets() FollowOption { return func(f *followConfig) { f.tickets = true } }

// WithIdleTimeout reconnects a stream that has sent nothing, heartbeats
// included, for d (default 45s, three of the server's heartbeats).
func WithIdleTimeout(d time.Duration) FollowOption { return func(f *followConfig) { f.idle = d } }

// WithBuffer sets the capacity of the events channel (default 64).
func WithBuffer(n int) FollowOption { return func(f *followConfig) { f.buffer = n } }

// Stream is a running Follow. Its goroutine owns and closes Events; read
// Events until it is closed, then Err says why it ended.
type Stream struct {
	events chan Event
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// Events delivers the stream's events, each logged event exactly once and
// in seq order. It is closed when the stream ends.
func (s *Stream) Events() <-chan Event { return s.events }

// Err returns why the stream ended once Events is closed: nil after
// Close, the context's error when it ended, or what made resuming
// impossible (such as ErrNotFound, with the reset's sentinel, when the
// caller lost access to the board or it was deleted). Before that it is nil.
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the stream and waits for its goroutine to end.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

// boardCursor is where a stream stands on one board: the seq of the last
// event delivered, or -1 before the first connection when following from
// now. Streams keep one per board, so that following several boards over
// one connection only adds entries.
type boardCursor struct {
	boardID string
	seq     int64
}

// Follow delivers the events of boardID after seq after (FromNow: from the
// board's next event), reconnecting with exponential backoff and full
// jitter and resuming exactly after the last event delivered. A reset (the
// resume point is no longer in the log, or ahead of it) fetches the
// board's snapshot, delivers it as an Event of type EventReset and goes on
// after the snapshot's seq. The stream ends when ctx ends, on Close, or
// when the board cannot be followed any more (401, 403, 404: see Err).
//
// Every Event carries its BoardID, and a Stream keeps its position per
// board.
func (c *Client) Follow(ctx context.Context, boardID string, after int64, opts ...FollowOption) *Stream {
	cfg := followConfig{idle: 45 * time.Second, buffer: 64}
	for _, o := range opts {
		o(&cfg)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{events: make(chan Event, cfg.buffer), cancel: cancel, done: make(chan struct{})}
	f := &follower{c: c, cfg: cfg, s: s, cur: &boardCursor{boardID: boardID, seq: after}}
	go func() {
		defer close(s.done)
		defer close(s.events)
		err := f.run(ctx)
		switch {
		case parent.Err() != nil:
			err = parent.Err()
		case ctx.Err() != nil: // Close
			err = nil
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}()
	return s
}

// follower is the state of one Stream's goroutine.
type follower struct {
	c   *Client
	cfg followConfig
	s   *Stream
	cur *boardCursor
}

// errReconnect ends a connection to open another one at once.
var errReconnect = errors.New("client: reconnect")

// run connects until a terminal error or the end of ctx.
func (f *follower) run(ctx context.Context) error {
	failures := 0
	for {
		progressed, err := f.connect(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if terminal(err) {
			return err
		}
		if progressed {
			failures = 0
		}
		wait := f.c.jitter(failures)
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > wait {
			wait = e.RetryAfter
		}
		failures++
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// terminal reports whether err ends a stream rather than a connection.
func terminal(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
			return true
		}
		return false
	}
	var t *terminalError
	return errors.As(err, &t)
}

// terminalError wraps an error that ends the stream.
type terminalError struct{ err error }

func (t *terminalError) Error() string { return t.err.Error() }
func (t *terminalError) Unwrap() error { return t.err }

// connect opens one connection and reads it until it ends. progressed
// reports whether the server accepted it (sent its first frame).
func (f *follower) connect(ctx context.Context) (progressed bool, err error) {
	if f.cfg.transport == WebSocket {
		return f.connectWS(ctx)
	}
	return f.connectSSE(ctx)
}

// credential returns the query and header that authenticate a stream.
func (f *follower) credential(ctx context.Context) (url.Values, http.Header, error) {
	q, h := url.Values{}, http.Header{}
	if f.cfg.tickets {
		t, err := f.c.CreateTicket(ctx)
		if err != nil {
			return nil, nil, err
		}
		q.Set("ticket", t.Ticket)
	} else if f.c.token != "" {
		h.Set("Authorization", "Bearer "+f.c.token)
	}
	return q, h, nil
}

// deliver hands ev to the caller.
func (f *follower) deliver(ctx context.Context, ev Event) error {
	select {
	case f.s.events <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logged delivers a logged event unless it was delivered already. A gap
// makes the connection start again from the cursor.
func (f *follower) logged(ctx context.Context, typ string, data []byte) error {
	var env taskboard.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("client: decode %s event: %w", typ, err)
	}
	if env.Seq <= f.cur.seq {
		return nil
	}
	if f.cur.seq >= 0 && env.Seq != f.cur.seq+1 {
		return fmt.Errorf("client: board %s: event %d after %d: %w", f.cur.boardID, env.Seq, f.cur.seq, errReconnect)
	}
	if err := f.deliver(ctx, Event{Type: env.Type, BoardID: env.BoardID, Seq: env.Seq, Envelope: &env, Data: data}); err != nil {
		return err
	}
	f.cur.seq = env.Seq
	return nil
}

// reset fetches the board's snapshot, delivers it and moves the cursor to
// its seq. A board the caller can no longer read ends the stream.
func (f *follower) reset(ctx context.Context, reason string) error {
	var snap *taskboard.Snapshot
	for attempt := 0; ; attempt++ {
		var err error
		snap, err = f.c.Snapshot(ctx, f.cur.boardID)
		if err == nil {
			break
		}
		if terminal(err) {
			return &terminalError{fmt.Errorf("client: board %s reset (%s): %w%w", f.cur.boardID, reason, reasonErr(reason), err)}
		}
		if err := sleep(ctx, f.c.jitter(attempt)); err != nil {
			return err
		}
	}
	data, _ := json.Marshal(map[string]any{"type": EventReset, "boardId": f.cur.boardID, "seq": snap.Seq, "reason": reason})
	if err := f.deliver(ctx, Event{Type: EventReset, BoardID: f.cur.boardID, Seq: snap.Seq, Data: data,
		Reset: &Reset{Reason: reason, Snapshot: snap}}); err != nil {
		return err
	}
	f.cur.seq = snap.Seq
	return nil
}

// reasonErr returns the root package's sentinel of a reset reason, or an
// error that wraps nothing.
func reasonErr(reason string) error {
	switch reason {
	case "access_revoked":
		return fmt.Errorf("%w: ", taskboard.ErrAccessRevoked)
	case "board_deleted":
		return fmt.Errorf("%w: ", taskboard.ErrBoardDeleted)
	case "history_truncated":
		return fmt.Errorf("%w: ", taskboard.ErrHistoryTruncated)
	case "ahead":
		return fmt.Errorf("%w: ", taskboard.ErrAhead)
	}
	return errors.New("")
}

// connectSSE reads one SSE connection.
func (f *follower) connectSSE(ctx context.Context) (bool, error) {
	q, h, err := f.credential(ctx)
	if err != nil {
		return false, err
	}
	path := "/boards/" + p(f.cur.boardID) + "/events"
	if f.cur.seq >= 0 {
		h.Set("Last-Event-ID", strconv.FormatInt(f.cur.seq, 10))
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, f.c.url(path, q), nil)
	if err != nil {
		return false, &terminalError{err}
	}
	req.Header = h
	req.Header.Set("Accept", "text/event-stream")
	resp, err := f.c.hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("client: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return false, errorOf(http.MethodGet, path, resp, data)
	}
	// A stream silent for longer than the idle timeout is cut.
	idle := time.AfterFunc(f.cfg.idle, cancel)
	defer idle.Stop()
	progressed := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var typ string
	var data []byte
	for sc.Scan() {
		idle.Reset(f.cfg.idle)
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				typ = value
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
			continue
		}
		if data == nil {
			typ = ""
			continue
		}
		var head struct {
			Type   string `json:"type"`
			Seq    int64  `json:"seq"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return progressed, fmt.Errorf("client: decode SSE frame: %w", err)
		}
		if typ == "" {
			typ = head.Type
		}
		switch {
		case head.Type == "connected":
			progressed = true
			if f.cur.seq < 0 {
				f.cur.seq = head.Seq
			}
		case typ == EventReset:
			if err := f.reset(ctx, head.Reason); err != nil {
				return progressed, err
			}
			// The server ends the stream after a reset.
			return progressed, errReconnect
		case head.Seq > 0:
			if err := f.logged(ctx, typ, data); err != nil {
				return progressed, err
			}
		default:
			var ev struct {
				BoardID string `json:"boardId"`
			}
			_ = json.Unmarshal(data, &ev)
			if ev.BoardID == "" {
				ev.BoardID = f.cur.boardID
			}
			if err := f.deliver(ctx, Event{Type: head.Type, BoardID: ev.BoardID, Data: data}); err != nil {
				return progressed, err
			}
		}
		typ, data = "", nil
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return progressed, fmt.Errorf("client: GET %s: %w", path, err)
	}
	return progressed, errReconnect
}
