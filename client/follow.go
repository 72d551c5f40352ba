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
	"sort"
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

// EventFollowing is the Type of the Event with which a FollowBoards stream
// starts following a board that is not in its cursor: the board's
// snapshot (Snapshot), whose seq is Seq; the board's events after it
// follow.
const EventFollowing = "following"

// EventLimit is the Type of the Event that says a board the caller was
// added to, or created, is not followed by an AllBoards stream because it
// already follows MaxBoards boards (only BoardID and Data are set).
const EventLimit = "limit"

// Event is one event a stream delivers: a logged event (Seq >= 1,
// Envelope set), an ephemeral one (Seq 0: user_joined, user_typing,
// presence..., only Data set), a reset (Type EventReset, Reset set), a
// board the stream starts following (Type EventFollowing, Snapshot set) or
// a board it cannot follow (Type EventLimit). Every Event carries the
// BoardID it is about.
type Event struct {
	Type    string
	BoardID string
	Seq     int64
	// Envelope is a logged event, decoded.
	Envelope *taskboard.Envelope
	// Data is the event's JSON object as the server sent it (for a reset
	// or an EventFollowing, as the client made it, with the snapshot's
	// seq).
	Data json.RawMessage
	// Reset is set on a reset: the caller's state of the board is to be
	// replaced by Reset.Snapshot; events that follow come after its seq.
	Reset *Reset
	// Snapshot is the board as of Seq, on an EventFollowing and on a reset
	// with a snapshot (then the same as Reset.Snapshot).
	Snapshot *taskboard.Snapshot
}

// Reset says that the board's events could not be resumed from where
// the caller was, why, and what the board now is.
type Reset struct {
	// Reason is "history_truncated", "ahead", "access_revoked" or
	// "board_deleted".
	Reason string
	// Snapshot is the board as of Snapshot.Seq; nil when Err is set.
	Snapshot *taskboard.Snapshot
	// Err is set when the stream no longer follows the board (the caller
	// lost access to it, or it was deleted): it wraps ErrNotFound and the
	// reason's sentinel (taskboard.ErrAccessRevoked,
	// taskboard.ErrBoardDeleted). The event's Seq is 0 then.
	Err error
}

// Transport is how a stream receives events.
type Transport int

const (
	// SSE is Server-Sent Events (the default): GET /boards/{boardId}/events
	// for Follow, GET /events?boards= for FollowBoards.
	SSE Transport = iota
	// WebSocket is GET /ws with a join per board.
	WebSocket
	// LongPoll is long polling, GET /poll?boards= (for Follow too, with
	// its one board): a request per answer, each after the cursor, held
	// by the server for half the idle timeout (at most 25 s). Under
	// AllBoards, a board the caller joins or creates is picked up by the
	// next poll.
	LongPoll
)

// FollowOption configures Follow and FollowBoards.
type FollowOption func(*followConfig)

type followConfig struct {
	transport Transport
	tickets   bool
	idle      time.Duration
	buffer    int
	presence  string
}

// Over chooses the transport (default SSE).
func Over(t Transport) FollowOption { return func(f *followConfig) { f.transport = t } }

// WithTickets authenticates each connection with a fresh ticket
// (POST /realtime/tickets with the client's credentials, then ?ticket=)
// instead of sending the bearer token on the stream. Long polls send the
// bearer token all the same: the server takes tickets on SSE and WebSocket
// only.
func WithTickets() FollowOption { return func(f *followConfig) { f.tickets = true } }

// WithIdleTimeout reconnects a stream that has sent nothing, heartbeats
// included, for d (default 45s, three of the server's heartbeats). Over
// LongPoll, polls are held for d/2 (1..25 s).
func WithIdleTimeout(d time.Duration) FollowOption { return func(f *followConfig) { f.idle = d } }

// WithBuffer sets the capacity of the events channel (default 64).
func WithBuffer(n int) FollowOption { return func(f *followConfig) { f.buffer = n } }

// WithPresence names the board where a FollowBoards stream counts the
// caller present, as a page showing that board does (user_joined, the
// presence list); "" is nowhere. Without it a FollowBoards stream is
// present nowhere: a service following boards is not a viewer. Over SSE
// it is ?presence= of GET /events; over a WebSocket every other board is
// joined with "presence": false (and a join of * carries the board as its
// "presence"); long polls join no presence. Under named boards the board
// must be one of them (else the stream ends at once with an error
// wrapping ErrInvalid); under AllBoards, a board the caller is not a
// member of ends a fresh SSE stream with ErrNotFound and is ignored over a
// WebSocket. A board the stream stops following (a reset with Reset.Err)
// leaves it present nowhere. Follow ignores it: a single-board stream
// counts the caller present on its board.
func WithPresence(boardID string) FollowOption {
	return func(f *followConfig) { f.presence = boardID }
}

// Stream is a running Follow or FollowBoards. Its goroutine owns and
// closes Events; read Events until it is closed, then Err says why it
// ended.
type Stream struct {
	events chan Event
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// Events delivers the stream's events, each logged event exactly once and
// in seq order per board. It is closed when the stream ends.
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

// Follow delivers the events of boardID after seq after (FromNow: from the
// board's next event), reconnecting with exponential backoff and full
// jitter and resuming exactly after the last event delivered. A reset (the
// resume point is no longer in the log, or ahead of it) fetches the
// board's snapshot, delivers it as an Event of type EventReset and goes on
// after the snapshot's seq. The stream ends when ctx ends, on Close, or
// when the board cannot be followed any more: after a board_deleted or
// access_revoked reset (delivered as an EventReset with Reset.Err), or an
// answer 400, 401, 403 or 404 (see Err).
//
// Over SSE, Follow reads GET /boards/{boardId}/events, which also makes
// the caller present on the board, as a page showing it is.
func (c *Client) Follow(ctx context.Context, boardID string, after int64, opts ...FollowOption) *Stream {
	f := &follower{c: c, single: true, cur: Cursor{}, pending: map[string]bool{}}
	if after >= 0 {
		f.cur[boardID] = after
	} else {
		f.pending[boardID] = true
	}
	return f.start(ctx, opts, nil)
}

// FollowBoards delivers the events of several boards on one connection:
// boards are 1..MaxBoards board ids, or the single entry AllBoards for
// every board of the caller. Each board of cursor (see Cursor) is resumed
// exactly after its seq; each board not in it, and under AllBoards each
// board the caller is added to, creates or imports while following (and
// those they joined while a persisted cursor was put away), starts with
// an EventFollowing carrying its snapshot, then its events after the
// snapshot's seq. Boards of cursor that are not in boards are ignored;
// FollowBoards copies cursor before it returns.
//
// Every board's logged events are delivered exactly once and in seq order,
// across reconnects (exponential backoff with full jitter, as Follow). A
// history_truncated or ahead reset of one board fetches that board's
// snapshot and delivers it as an EventReset; the others go on. A board the
// caller can no longer see, or that was deleted, is delivered as an
// EventReset with Reset.Err set and is no longer followed; the stream goes
// on for the others, and ends (Err: that error) when it followed named
// boards and none is left. It also ends when ctx ends, on Close, or on an
// answer 400, 401, 403 or 404 (on a fresh stream, any named board the
// caller cannot see is 404).
//
// Over SSE, FollowBoards reads GET /events?boards=..., resuming with the
// composite cursor. Over a WebSocket it joins each board on one connection
// (boards beyond the server's limit per connection end the stream);
// AllBoards sends one join of every board ("*") with the composite cursor,
// and the server joins the boards the caller gets while connected. Over
// LongPoll it polls GET /poll?boards= after the cursor; a board deleted
// between two polls goes with its log, so it ends as access_revoked. On
// every transport the stream counts the caller present on no board unless
// WithPresence names one. A caller on more
// than MaxBoards boards ends an AllBoards stream with an error. Bad boards
// (none, more than MaxBoards, an empty id, AllBoards among ids) end it at
// once with an error wrapping ErrInvalid.
func (c *Client) FollowBoards(ctx context.Context, boards []string, cursor Cursor, opts ...FollowOption) *Stream {
	f := &follower{c: c, cur: Cursor{}, pending: map[string]bool{}}
	var bad error
	switch {
	case len(boards) == 1 && boards[0] == AllBoards:
		f.all = true
		f.cur = cursor.clone()
	case len(boards) == 0:
		bad = fmt.Errorf("client: FollowBoards: no boards: %w", ErrInvalid)
	default:
		for _, id := range boards {
			switch {
			case id == AllBoards:
				bad = fmt.Errorf("client: FollowBoards: %s among board ids: %w", AllBoards, ErrInvalid)
			case strings.TrimSpace(id) == "" || strings.Contains(id, ","):
				bad = fmt.Errorf("client: FollowBoards: board id %q: %w", id, ErrInvalid)
			}
			if seq, ok := cursor[id]; ok {
				f.cur[id] = seq
			} else {
				f.pending[id] = true
			}
		}
		if bad == nil && len(f.cur)+len(f.pending) > MaxBoards {
			bad = fmt.Errorf("client: FollowBoards: %d boards, at most %d: %w", len(f.cur)+len(f.pending), MaxBoards, ErrInvalid)
		}
	}
	for id, seq := range f.cur {
		if seq < 0 {
			bad = fmt.Errorf("client: FollowBoards: cursor seq %d for board %s: %w", seq, id, ErrInvalid)
		}
	}
	var cfg followConfig
	for _, o := range opts {
		o(&cfg)
	}
	switch pres := cfg.presence; {
	case pres == "" || bad != nil:
	case strings.TrimSpace(pres) != pres || strings.Contains(pres, ","):
		bad = fmt.Errorf("client: FollowBoards: presence board id %q: %w", pres, ErrInvalid)
	case !f.all && !f.followed(pres):
		bad = fmt.Errorf("client: FollowBoards: presence board %s is not one of boards: %w", pres, ErrInvalid)
	default:
		f.presence = pres
	}
	return f.start(ctx, opts, bad)
}

// start runs f on a new Stream; a non-nil bad ends the stream at once.
func (f *follower) start(ctx context.Context, opts []FollowOption, bad error) *Stream {
	f.cfg = followConfig{idle: 45 * time.Second, buffer: 64}
	for _, o := range opts {
		o(&f.cfg)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{events: make(chan Event, f.cfg.buffer), cancel: cancel, done: make(chan struct{})}
	f.s = s
	go func() {
		defer close(s.done)
		defer close(s.events)
		err := bad
		if err == nil {
			err = f.run(ctx)
		}
		switch {
		case bad != nil:
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

// follower is the state of one Stream's goroutine, which alone uses it.
type follower struct {
	c   *Client
	cfg followConfig
	s   *Stream
	// single: Follow's one board, over GET /boards/{boardId}/events, with
	// no EventFollowing. all: AllBoards.
	single, all bool
	// cur holds the followed boards whose position is known: the seq of
	// the last event delivered. pending holds the named boards that start
	// when the server says from where (Follow's FromNow, FollowBoards'
	// boards not in the cursor).
	cur     Cursor
	pending map[string]bool
	// presence is the board where a FollowBoards stream counts the caller
	// present, "" for none (Follow leaves it to the server's default).
	presence string
}

// followed reports whether the stream follows boardID.
func (f *follower) followed(boardID string) bool {
	_, ok := f.cur[boardID]
	return ok || f.pending[boardID]
}

// boards returns the followed boards, sorted.
func (f *follower) boards() []string {
	ids := make([]string, 0, len(f.cur)+len(f.pending))
	for id := range f.cur {
		ids = append(ids, id)
	}
	for id := range f.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
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
	switch f.cfg.transport {
	case WebSocket:
		return f.connectWS(ctx)
	case LongPoll:
		return f.connectPoll(ctx)
	}
	return f.connectSSE(ctx)
}

// credential returns the query and header that authenticate a stream.
func (f *follower) credential(ctx context.Context) (url.Values, http.Header, error) {
	q, h := url.Values{}, http.Header{}
	if f.cfg.tickets && f.cfg.transport != LongPoll {
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

// logged delivers a logged event of a followed board unless it was
// delivered already. A gap makes the connection start again from the
// cursor.
func (f *follower) logged(ctx context.Context, typ string, data []byte) error {
	var env taskboard.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("client: decode %s event: %w", typ, err)
	}
	last, ok := f.cur[env.BoardID]
	if !ok || env.Seq <= last {
		// A board not followed, or not started yet: its start covers it.
		return nil
	}
	if env.Seq != last+1 {
		return fmt.Errorf("client: board %s: event %d after %d: %w", env.BoardID, env.Seq, last, errReconnect)
	}
	if err := f.deliver(ctx, Event{Type: env.Type, BoardID: env.BoardID, Seq: env.Seq, Envelope: &env, Data: data}); err != nil {
		return err
	}
	f.cur[env.BoardID] = env.Seq
	return nil
}

// started handles the server's word that boardID is followed from seq
// (connected, joined, following). A board whose position is known keeps
// it. Follow's pending board starts at seq; any other board new to the
// stream (a named one not in the cursor, or one AllBoards picks up)
// starts with its snapshot, delivered as an EventFollowing.
func (f *follower) started(ctx context.Context, boardID string, seq int64) error {
	if _, ok := f.cur[boardID]; ok || !f.pending[boardID] && !f.all {
		return nil
	}
	if f.single {
		delete(f.pending, boardID)
		f.cur[boardID] = seq
		return nil
	}
	snap, err := f.snapshot(ctx, boardID)
	if err != nil {
		if terminal(err) {
			return f.drop(ctx, boardID, taskboard.ReasonAccessRevoked)
		}
		return err
	}
	data, _ := json.Marshal(map[string]any{"type": EventFollowing, "boardId": boardID, "seq": snap.Seq})
	if err := f.deliver(ctx, Event{Type: EventFollowing, BoardID: boardID, Seq: snap.Seq, Data: data, Snapshot: snap}); err != nil {
		return err
	}
	delete(f.pending, boardID)
	f.cur[boardID] = snap.Seq
	return nil
}

// snapshot fetches a board's snapshot, retrying with backoff until it
// succeeds, ctx ends or the answer is terminal.
func (f *follower) snapshot(ctx context.Context, boardID string) (*taskboard.Snapshot, error) {
	for attempt := 0; ; attempt++ {
		snap, err := f.c.Snapshot(ctx, boardID)
		if err == nil || terminal(err) {
			return snap, err
		}
		if err := sleep(ctx, f.c.jitter(attempt)); err != nil {
			return nil, err
		}
	}
}

// reset handles a reset of a followed board: access_revoked and
// board_deleted drop it; another reason fetches the board's snapshot,
// delivers it and moves the board's cursor to its seq (a board whose
// snapshot the caller can no longer read is dropped).
func (f *follower) reset(ctx context.Context, boardID, reason string) error {
	if reason == taskboard.ReasonAccessRevoked || reason == taskboard.ReasonBoardDeleted {
		return f.drop(ctx, boardID, reason)
	}
	snap, err := f.snapshot(ctx, boardID)
	if err != nil {
		if terminal(err) {
			return f.drop(ctx, boardID, taskboard.ReasonAccessRevoked)
		}
		return err
	}
	data, _ := json.Marshal(map[string]any{"type": EventReset, "boardId": boardID, "seq": snap.Seq, "reason": reason})
	if err := f.deliver(ctx, Event{Type: EventReset, BoardID: boardID, Seq: snap.Seq, Data: data,
		Reset: &Reset{Reason: reason, Snapshot: snap}, Snapshot: snap}); err != nil {
		return err
	}
	delete(f.pending, boardID)
	f.cur[boardID] = snap.Seq
	return nil
}

// drop stops following a board the caller can no longer see, and tells
// them with an EventReset whose Reset.Err says why. A stream of named
// boards with none left ends with that error.
func (f *follower) drop(ctx context.Context, boardID, reason string) error {
	delete(f.cur, boardID)
	delete(f.pending, boardID)
	if f.presence == boardID {
		f.presence = ""
	}
	err := fmt.Errorf("client: board %s (%s): %w%w", boardID, reason, reasonErr(reason), ErrNotFound)
	data, _ := json.Marshal(map[string]any{"type": EventReset, "boardId": boardID, "reason": reason})
	if err := f.deliver(ctx, Event{Type: EventReset, BoardID: boardID, Data: data, Reset: &Reset{Reason: reason, Err: err}}); err != nil {
		return err
	}
	if !f.all && len(f.cur)+len(f.pending) == 0 {
		return &terminalError{err}
	}
	return nil
}

// reasonErr returns the root package's sentinel of a reset reason, or an
// error that wraps nothing.
func reasonErr(reason string) error {
	switch reason {
	case taskboard.ReasonAccessRevoked:
		return fmt.Errorf("%w: ", taskboard.ErrAccessRevoked)
	case taskboard.ReasonBoardDeleted:
		return fmt.Errorf("%w: ", taskboard.ErrBoardDeleted)
	case taskboard.ReasonHistoryTruncated:
		return fmt.Errorf("%w: ", taskboard.ErrHistoryTruncated)
	case taskboard.ReasonAhead:
		return fmt.Errorf("%w: ", taskboard.ErrAhead)
	}
	return errors.New("")
}

// sseRequest returns the path, query and Last-Event-ID of the next SSE
// connection: GET /boards/{boardId}/events for Follow, GET /events?boards=
// with the composite cursor for FollowBoards.
func (f *follower) sseRequest(q url.Values) (path, lastEventID string) {
	if f.single {
		id := f.boards()[0]
		if seq, ok := f.cur[id]; ok {
			lastEventID = strconv.FormatInt(seq, 10)
		}
		return "/boards/" + p(id) + "/events", lastEventID
	}
	if f.all {
		q.Set("boards", AllBoards)
	} else {
		q.Set("boards", strings.Join(f.boards(), ","))
	}
	// The server refuses a presence board that is not one of boards; a
	// dropped presence board leaves the stream present nowhere.
	if f.presence != "" && (f.all || f.followed(f.presence)) {
		q.Set("presence", f.presence)
	}
	return "/events", f.cur.String()
}

// sseHead is what a frame's data says of itself.
type sseHead struct {
	Type    string           `json:"type"`
	BoardID string           `json:"boardId"`
	Seq     int64            `json:"seq"`
	Seqs    map[string]int64 `json:"seqs"`
	Reason  string           `json:"reason"`
}

// connectSSE reads one SSE connection.
func (f *follower) connectSSE(ctx context.Context) (bool, error) {
	q, h, err := f.credential(ctx)
	if err != nil {
		return false, err
	}
	path, lastEventID := f.sseRequest(q)
	if lastEventID != "" {
		h.Set("Last-Event-ID", lastEventID)
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
		var head sseHead
		if err := json.Unmarshal(data, &head); err != nil {
			return progressed, fmt.Errorf("client: decode SSE frame: %w", err)
		}
		if typ == "" {
			typ = head.Type
		}
		if head.BoardID == "" && f.single {
			head.BoardID = f.boards()[0]
		}
		if head.Type == "connected" {
			progressed = true
		}
		if err := f.sseFrame(ctx, typ, head, data); err != nil {
			return progressed, err
		}
		typ, data = "", nil
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return progressed, fmt.Errorf("client: GET %s: %w", path, err)
	}
	return progressed, errReconnect
}

// sseFrame handles one SSE frame.
func (f *follower) sseFrame(ctx context.Context, typ string, head sseHead, data []byte) error {
	switch {
	case head.Type == "connected" && f.single:
		return f.started(ctx, head.BoardID, head.Seq)
	case head.Type == "connected":
		// A followed board the server leaves out is one the caller can no
		// longer see (AllBoards leaves it out silently; named boards also
		// get a reset, then ignored).
		for _, id := range f.boards() {
			if _, ok := head.Seqs[id]; !ok {
				if err := f.drop(ctx, id, taskboard.ReasonAccessRevoked); err != nil {
					return err
				}
			}
		}
		ids := make([]string, 0, len(head.Seqs))
		for id := range head.Seqs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if err := f.started(ctx, id, head.Seqs[id]); err != nil {
				return err
			}
		}
		return nil
	case typ == EventReset:
		if !f.followed(head.BoardID) {
			return nil
		}
		if err := f.reset(ctx, head.BoardID, head.Reason); err != nil {
			return err
		}
		if f.single {
			// GET /boards/{boardId}/events ends after a reset.
			return errReconnect
		}
		return nil
	case typ == EventFollowing:
		return f.started(ctx, head.BoardID, head.Seq)
	case typ == EventLimit:
		return f.deliver(ctx, Event{Type: EventLimit, BoardID: head.BoardID, Data: data})
	case head.Seq > 0:
		return f.logged(ctx, typ, data)
	default:
		return f.deliver(ctx, Event{Type: head.Type, BoardID: head.BoardID, Data: data})
	}
}
