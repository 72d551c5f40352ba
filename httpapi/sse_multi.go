package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

// maxStreamBoards is how many boards one stream follows at most.
const maxStreamBoards = 100

// errTooManyBoards is the answer to a request naming more boards than a
// stream follows.
var errTooManyBoards = errors.New("too many boards")

// boardsParam reads ?boards=: "*" (every board of the caller) or 1..100
// board ids, comma-separated.
func boardsParam(r *http.Request) (ids []string, all bool, err error) {
	v := r.URL.Query().Get("boards")
	if v == "*" {
		return nil, true, nil
	}
	if strings.TrimSpace(v) == "" {
		return nil, false, errors.New("boards is required: board ids, comma-separated, or *")
	}
	seen := make(map[string]bool)
	for _, id := range strings.Split(v, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			return nil, false, errors.New("boards: empty board id")
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > maxStreamBoards {
		return nil, false, errTooManyBoards
	}
	return ids, false, nil
}

// parseCursor reads a composite cursor, "board-1:12,board-2:7".
func parseCursor(what, v string) (map[string]int64, error) {
	c := make(map[string]int64)
	v = strings.TrimSpace(v)
	if v == "" {
		return c, nil
	}
	for _, part := range strings.Split(v, ",") {
		i := strings.LastIndexByte(part, ':')
		if i <= 0 {
			return nil, errors.New(what + ": want board:seq pairs, comma-separated")
		}
		seq, err := strconv.ParseInt(strings.TrimSpace(part[i+1:]), 10, 64)
		if err != nil || seq < 0 {
			return nil, errors.New(what + ": a seq must be a non-negative integer")
		}
		c[strings.TrimSpace(part[:i])] = seq
	}
	return c, nil
}

// multiCursor returns the cursor a multi-board request resumes from:
// Last-Event-ID when present, else ?after=; nil for none.
func multiCursor(r *http.Request) (map[string]int64, error) {
	if v := strings.TrimSpace(r.Header.Get("Last-Event-ID")); v != "" {
		return parseCursor("Last-Event-ID", v)
	}
	if q := r.URL.Query(); q.Has("after") {
		return parseCursor("after", q.Get("after"))
	}
	return nil, nil
}

// formatCursor writes a composite cursor, boards in a stable order.
func formatCursor(c map[string]int64) string {
	ids := make([]string, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(c[id], 10))
	}
	return b.String()
}

// writeBadRequest answers 400 with a message.
func writeBadRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: msg})
}

// multiConnected is the first frame of a multi-board stream.
type multiConnected struct {
	Type string           `json:"type"`
	Seqs map[string]int64 `json:"seqs"`
}

// boardNotice is the data of following and limit frames.
type boardNotice struct {
	Type    string `json:"type"`
	BoardID string `json:"boardId"`
	Seq     *int64 `json:"seq,omitempty"`
}

// announcement is a board new to the caller, heard of through
// taskboard.Board.WatchBoards.
type announcement struct {
	boardID, userID string
	seq             int64
}

// after is the seq after which an announced board is followed: a created
// board's or an added member's seq, or 0 for an imported board, whose
// every event is new to the caller.
func (a announcement) after() int64 {
	if a.userID == "" {
		return 0
	}
	return a.seq
}

// boardWatch queues the boards new to one user (created, imported, or
// added to as a member), heard of through taskboard.Board.WatchBoards,
// for a stream that follows every board of theirs. The queue's reader
// owns it and calls stop.
type boardWatch struct {
	stop  func()
	kick  chan struct{}
	mu    sync.Mutex
	queue []announcement
}

// watchBoards starts watching for the boards new to user userID. An
// imported board (no user) is queued too: whether the user may see it is
// for the reader to check.
func (h *Handler) watchBoards(userID string) (*boardWatch, error) {
	w := &boardWatch{kick: make(chan struct{}, 1)}
	stop, err := h.store.WatchBoards(func(boardID, uid string, seq int64) {
		if uid != "" && uid != userID {
			return
		}
		w.mu.Lock()
		w.queue = append(w.queue, announcement{boardID, uid, seq})
		w.mu.Unlock()
		select {
		case w.kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	w.stop = stop
	return w, nil
}

// ready is ready to receive when announcements are queued; nil (never
// ready) for a nil watch.
func (w *boardWatch) ready() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.kick
}

// take returns and clears the queued announcements.
func (w *boardWatch) take() []announcement {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue = nil
	return q
}

// callerBoards lists the ids of every board of the caller, or
// errTooManyBoards beyond maxStreamBoards.
func (h *Handler) callerBoards(ctx context.Context, actor taskboard.Actor) ([]string, error) {
	boards, err := h.store.Boards(ctx, actor)
	if err != nil {
		return nil, err
	}
	if len(boards) > maxStreamBoards {
		return nil, errTooManyBoards
	}
	ids := make([]string, len(boards))
	for i, b := range boards {
		ids[i] = b.ID
	}
	return ids, nil
}

// isMember reports whether user userID is a member of board boardID; a
// failed lookup counts as no.
func (h *Handler) isMember(ctx context.Context, userID, boardID string) bool {
	ok, err := h.store.IsMember(ctx, userID, boardID)
	return err == nil && ok
}

// boardFeed is one board of a multi-board stream: a push subscription,
// read by the stream's goroutine when its Ready says it may have news, so
// that a quiet board costs no goroutine.
type boardFeed struct {
	id  string
	req seam.Push[taskboard.Event]
	sub *taskboard.Subscription
}

// multiFollow is a multi-board stream's (or long poll's) set of followed
// boards: one push subscription per board, read by one goroutine.
type multiFollow struct {
	h     *Handler
	actor taskboard.Actor
	st    *stream
	ctx   context.Context
	// kick says that boards are ready (see take).
	kick chan struct{}

	mu    sync.Mutex
	ready map[*boardFeed]bool
	// taken is take's result, reused from one call to the next.
	taken []*boardFeed

	// The reader's: the followed boards, and the seq last delivered per
	// board.
	subs   map[string]*boardFeed
	cursor map[string]int64
	// text is cursor as frames carry it; setSeq and drop keep it current.
	text *cursorText
}

func newMultiFollow(ctx context.Context, h *Handler, actor taskboard.Actor, st *stream) *multiFollow {
	return &multiFollow{
		h: h, actor: actor, st: st, ctx: ctx,
		kick:   make(chan struct{}, 1),
		ready:  make(map[*boardFeed]bool),
		subs:   make(map[string]*boardFeed),
		cursor: make(map[string]int64),
		text:   newCursorText(),
	}
}

// setSeq records the seq last delivered for a board.
func (m *multiFollow) setSeq(boardID string, seq int64) {
	if _, ok := m.cursor[boardID]; !ok {
		m.text.invalidate()
	}
	m.cursor[boardID] = seq
	m.text.set(boardID, seq)
}

// wake marks a board ready; it never blocks.
func (m *multiFollow) wake(bf *boardFeed) {
	m.mu.Lock()
	m.ready[bf] = true
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// take returns the followed boards that may have news. The slice is valid
// until the next call.
func (m *multiFollow) take() []*boardFeed {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.taken[:0]
	for bf := range m.ready {
		if m.subs[bf.id] == bf {
			out = append(out, bf)
		}
	}
	clear(m.ready)
	m.taken = out
	return out
}

// subscribe follows a board after seq after (-1: from now) and returns the
// seq it starts from, or the subscription's error.
func (m *multiFollow) subscribe(boardID string, after int64) (int64, error) {
	bf := &boardFeed{id: boardID}
	bf.req.Ready = func() { m.wake(bf) }
	sub, err := m.h.store.Subscribe(seam.WithPush(m.ctx, &bf.req), m.actor, boardID, after)
	if err != nil {
		return 0, err
	}
	bf.sub = sub
	if old := m.subs[boardID]; old != nil {
		old.sub.Close()
		m.h.rt.unfollow(m.st, boardID)
	}
	m.subs[boardID] = bf
	seq := bf.req.Reader.Last()
	m.setSeq(boardID, seq)
	m.h.rt.follow(m.st, boardID)
	// The events that came before Subscribe returned are the reader's.
	m.wake(bf)
	return seq, nil
}

// next returns a board's next event: ok false when nothing is at hand, or
// the error that ended its subscription.
func (m *multiFollow) next(bf *boardFeed) (ev taskboard.Event, ok bool, err error) {
	r := bf.req.Reader
	if ev, ok := r.TryNext(); ok {
		return ev, true, nil
	}
	if r.Backlog() {
		ev, err := r.Next(m.ctx)
		if err != nil {
			return ev, false, err
		}
		return ev, true, nil
	}
	if err := r.Err(); err != nil {
		return taskboard.Event{}, false, err
	}
	return taskboard.Event{}, false, nil
}

// drop stops following a board.
func (m *multiFollow) drop(boardID string) {
	if bf, ok := m.subs[boardID]; ok {
		delete(m.subs, boardID)
		m.h.rt.unfollow(m.st, boardID)
		bf.sub.Close()
	}
	delete(m.cursor, boardID)
	m.text.invalidate()
}

// close ends every subscription.
func (m *multiFollow) close() {
	for id, bf := range m.subs {
		bf.sub.Close()
		m.h.rt.unfollow(m.st, id)
	}
	m.subs = nil
}

// start follows the requested boards: from the cursor where it names them,
// else from now. It returns the resets of boards the caller can no longer
// see (resuming), and taskboard.ErrNotFound when no board is visible, or
// on a fresh start when any is not.
func (m *multiFollow) start(ids []string, cursor map[string]int64) (resets []taskboard.ResetError, err error) {
	for _, id := range ids {
		after := int64(-1)
		seq, resuming := cursor[id]
		if resuming {
			after = seq
		}
		_, err := m.subscribe(id, after)
		var reset *taskboard.ResetError
		switch {
		case err == nil:
		case errors.As(err, &reset):
			// Too old or ahead: the board goes on right after the seq the
			// reset names, so that no write made meanwhile is missed.
			if _, err := m.subscribe(id, reset.Seq); err != nil {
				return nil, err
			}
			resets = append(resets, taskboard.ResetError{BoardID: id, Reason: reset.Reason, Seq: reset.Seq})
		case errors.Is(err, taskboard.ErrNotFound) && cursor != nil:
			resets = append(resets, taskboard.ResetError{BoardID: id, Reason: taskboard.ReasonAccessRevoked, Seq: seq})
		default:
			return nil, err
		}
	}
	if len(m.subs) == 0 {
		return nil, &taskboard.NotFoundError{Entity: "Board"}
	}
	return resets, nil
}

// serveMultiEvents is GET /events?boards=: the feeds of several boards, or
// of every board of the caller (*), on one Server-Sent Events stream with
// composite cursors. The stream is served by this handler's goroutine,
// which reads each board's push subscription when it has news; over
// HTTP/1.1 it takes the connection over (see multiConn).
func (h *Handler) serveMultiEvents(w http.ResponseWriter, r *http.Request, id *Identity) {
	ids, all, err := boardsParam(r)
	if errors.Is(err, errTooManyBoards) {
		writeBadRequest(w, "Too many boards")
		return
	}
	if err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	cursor, err := multiCursor(r)
	if err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	presence, err := presenceParam(r, ids, all)
	if err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	st, err := h.rt.open(transportSSE, id, func(cause error) { cancel(cause) })
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer h.rt.close(st)
	h.rt.markMulti(st)
	actor := id.actor()

	var watch *boardWatch
	if all {
		watch, err = h.watchBoards(id.User.ID)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		defer watch.stop()
		boards, err := h.callerBoards(ctx, actor)
		if errors.Is(err, errTooManyBoards) {
			writeBadRequest(w, "Too many boards")
			return
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		ids = append(ids, boards...)
		if presence != "" && !slices.Contains(ids, presence) {
			if cursor == nil {
				h.writeError(w, r, &taskboard.NotFoundError{Entity: "Board"})
				return
			}
			presence = "" // gone while away: the stream goes on without it
		}
	}

	m := newMultiFollow(ctx, h, actor, st)
	defer m.close()
	resets, err := m.start(ids, cursor)
	if err != nil && !(all && errors.Is(err, taskboard.ErrNotFound)) {
		h.writeError(w, r, err)
		return
	}

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	mc := takeOverMulti(r, rc, hd, func() { cancel(errClientGone) })
	if mc != nil {
		defer mc.close()
	} else {
		w.WriteHeader(http.StatusOK)
	}

	var buf []byte
	pending := 0
	flush := func() bool {
		if len(buf) == 0 {
			return true
		}
		var err error
		if mc != nil {
			err = mc.write(buf)
		} else {
			if err := rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return false
			}
			_, err = w.Write(buf)
			if err == nil {
				err = rc.Flush()
			}
		}
		buf = buf[:0]
		if pending > 0 {
			h.metrics.delivered.WithLabelValues(transportSSE).Add(float64(pending))
			pending = 0
		}
		return err == nil
	}
	reset := func(rs taskboard.ResetError) {
		c := m.cursor
		if _, ok := c[rs.BoardID]; ok {
			m.setSeq(rs.BoardID, rs.Seq)
		} else {
			c = make(map[string]int64, len(m.cursor)+1)
			for k, v := range m.cursor {
				c[k] = v
			}
			c[rs.BoardID] = rs.Seq
		}
		data, _ := json.Marshal(resetMessage{Type: "reset", BoardID: rs.BoardID, Seq: rs.Seq, Reason: rs.Reason})
		buf = appendSSEFrame(buf, formatCursor(c), "reset", data)
		h.rt.countReset(rs.Reason)
	}

	buf = append(buf, sseRetry...)
	seqs := make(map[string]int64, len(m.cursor))
	for b, seq := range m.cursor {
		seqs[b] = seq
	}
	data, _ := json.Marshal(multiConnected{Type: "connected", Seqs: seqs})
	buf = appendSSEFrame(buf, formatCursor(m.cursor), "", data)
	for _, rs := range resets {
		if rs.Reason == taskboard.ReasonAccessRevoked {
			reset(rs)
			continue
		}
		// The board goes on from its current seq.
		m.setSeq(rs.BoardID, rs.Seq)
		reset(rs)
	}
	if !flush() {
		return
	}
	// The stream counts its user present on the presence board, as a
	// single-board stream does, while it follows it.
	var pres streamPresence
	defer pres.leave(h)
	if bf := m.subs[presence]; presence != "" && bf != nil {
		pres.join(ctx, h, presence, id.User, bf.req.ID)
	}
	// The preamble lists every board twice: an idle stream need not keep
	// a buffer of its size.
	buf = nil

	beat := time.NewTicker(h.opts.HeartbeatInterval)
	defer beat.Stop()
	for {
		select {
		case <-m.kick:
			for _, bf := range m.take() {
				for m.subs[bf.id] == bf {
					if len(buf) >= sseMaxBatch && !flush() {
						return
					}
					ev, ok, err := m.next(bf)
					if err != nil {
						if !h.endBoard(m, bf, err, reset) {
							flush()
							return
						}
						if m.subs[bf.id] == nil && pres.boardID == bf.id {
							pres.leave(h) // dropped: access revoked, or deleted
						}
						break
					}
					if !ok {
						break
					}
					if ev.Seq > 0 {
						m.setSeq(bf.id, ev.Seq)
						buf = appendMultiFrame(buf, m.text, m.cursor, ev.Type, ev.Data)
						pending++
					} else if b, ok := appendSSEEvent(buf, ev); ok {
						buf = b
						pending++
					}
				}
			}
		case <-watch.ready():
			for _, a := range watch.take() {
				if _, ok := m.subs[a.boardID]; ok {
					continue
				}
				if len(m.subs) >= maxStreamBoards {
					if h.isMember(ctx, id.User.ID, a.boardID) {
						data, _ := json.Marshal(boardNotice{Type: "limit", BoardID: a.boardID})
						buf = appendSSEFrame(buf, "", "limit", data)
					}
					continue
				}
				if _, err := m.subscribe(a.boardID, a.after()); err != nil {
					var rs *taskboard.ResetError
					if !errors.As(err, &rs) {
						continue // not the caller's, or gone
					}
					if _, err := m.subscribe(a.boardID, rs.Seq); err != nil {
						continue
					}
				}
				seq := m.cursor[a.boardID]
				data, _ := json.Marshal(boardNotice{Type: "following", BoardID: a.boardID, Seq: &seq})
				buf = appendMultiFrame(buf, m.text, m.cursor, "following", data)
			}
		case <-beat.C:
			buf = append(buf, sseHeartbeat...)
		case <-ctx.Done():
			return
		}
		if !flush() {
			return
		}
	}
}

// endBoard handles the end of a board's subscription on a multi-board
// stream: a slow consumer resubscribes where it was; access_revoked and
// board_deleted drop the board after a reset; another reset goes on with
// the board from its current seq. It reports false when the stream must
// end (the client resumes with its cursor).
func (h *Handler) endBoard(m *multiFollow, bf *boardFeed, err error, reset func(taskboard.ResetError)) bool {
	last := bf.req.Reader.Last()
	var rs *taskboard.ResetError
	switch {
	case errors.Is(err, taskboard.ErrSlowConsumer):
		h.metrics.slowDrops.WithLabelValues(transportSSE).Inc()
		_, err := m.subscribe(bf.id, last)
		return err == nil
	case errors.As(err, &rs) && (rs.Reason == taskboard.ReasonAccessRevoked || rs.Reason == taskboard.ReasonBoardDeleted):
		m.drop(bf.id)
		reset(*rs)
		return true
	case errors.As(err, &rs):
		seq, err := m.subscribe(bf.id, rs.Seq)
		if err != nil {
			m.drop(bf.id)
			reset(taskboard.ResetError{BoardID: bf.id, Reason: taskboard.ReasonAccessRevoked, Seq: last})
			return true
		}
		m.setSeq(bf.id, seq)
		reset(taskboard.ResetError{BoardID: bf.id, Reason: rs.Reason, Seq: seq})
		return true
	default:
		return false
	}
}

// presenceParam reads ?presence= of a multi-board stream: the one board of
// boards that the stream counts its user present on ("" for none). It must
// be one of the ids of a list; with * it is checked against the caller's
// boards once they are known.
func presenceParam(r *http.Request, ids []string, all bool) (string, error) {
	q := r.URL.Query()
	if !q.Has("presence") {
		return "", nil
	}
	v := strings.TrimSpace(q.Get("presence"))
	if v == "" {
		return "", errors.New("presence: empty board id")
	}
	if !all && !slices.Contains(ids, v) {
		return "", errors.New("presence: the board must be one of boards")
	}
	return v, nil
}

// streamPresence is the presence of a multi-board stream on its presence
// board.
type streamPresence struct {
	boardID, userID, connID string
}

// join counts user present on boardID through the connection connID, as a
// single-board stream does: user_joined goes to the board's other
// subscribers when they became present.
func (p *streamPresence) join(ctx context.Context, h *Handler, boardID string, user taskboard.User, connID string) {
	if h.rt.join(ctx, boardID, user, connID, connID) {
		*p = streamPresence{boardID: boardID, userID: user.ID, connID: connID}
	}
}

// leave ends the presence, if any: the user leaves after the grace period
// unless another connection of theirs follows the board.
func (p *streamPresence) leave(h *Handler) {
	if p.boardID != "" {
		h.rt.leave(p.boardID, p.userID, p.connID)
		*p = streamPresence{}
	}
}
