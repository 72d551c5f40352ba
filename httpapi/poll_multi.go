package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/taskboard/taskboard"
)

// multiPollBody is the answer of GET /poll?boards=.
type multiPollBody struct {
	Data    []json.RawMessage `json:"data"`
	Cursor  string            `json:"cursor"`
	More    bool              `json:"more"`
	Timeout bool              `json:"timeout,omitempty"`
}

// serveMultiPoll is GET /poll?boards=...&after=<cursor>&timeout=: long
// polling of several boards, or every board of the caller (*). What is in
// the logs after the cursor is answered at once; else the request holds a
// subscription per board until one of them has news, or the timeout.
func (h *Handler) serveMultiPoll(w http.ResponseWriter, r *http.Request, id *Identity) {
	ids, all, err := boardsParam(r)
	if errors.Is(err, errTooManyBoards) {
		writeBadRequest(w, "Too many boards")
		return
	}
	if err != nil {
		writeBadRequest(w, err.Error())
		return
	}
	var cursor map[string]int64
	if q := r.URL.Query(); q.Has("after") {
		if cursor, err = parseCursor("after", q.Get("after")); err != nil {
			writeBadRequest(w, err.Error())
			return
		}
	}
	timeout, err := parseTimeout(r.URL.Query().Get("timeout"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx, stop := context.WithCancelCause(r.Context())
	defer stop(nil)
	st, err := h.rt.open(transportLongPoll, id, stop)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer h.rt.close(st)
	h.rt.markMulti(st)
	actor := id.actor()
	if all {
		boards, err := h.store.Boards(ctx, actor)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if len(boards) > maxStreamBoards {
			writeBadRequest(w, "Too many boards")
			return
		}
		for _, b := range boards {
			ids = append(ids, b.ID)
		}
	}

	// Where each board resumes: the cursor's seq, else its current seq.
	// On a fresh poll a board the caller may not see is 404.
	pos := make(map[string]int64, len(ids))
	var resets []json.RawMessage
	for _, b := range ids {
		if seq, ok := cursor[b]; ok {
			pos[b] = seq
			continue
		}
		seq, err := h.store.BoardSeq(ctx, actor, b)
		if err != nil {
			if cursor == nil || !errors.Is(err, taskboard.ErrNotFound) {
				h.writeError(w, r, err)
				return
			}
			continue // gone: not in the cursor, nothing to say
		}
		pos[b] = seq
	}

	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(time.Duration(timeout)*time.Second + pollWriteMargin))
	wait, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
	defer cancel()

	for {
		data, more, err := h.readBoards(ctx, actor, pos, &resets)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if len(pos) == 0 && len(resets) == 0 {
			h.writeError(w, r, &taskboard.NotFoundError{Entity: "Board"})
			return
		}
		if len(data) > 0 || len(resets) > 0 {
			h.metrics.delivered.WithLabelValues(transportLongPoll).Add(float64(len(data)))
			writeJSON(w, http.StatusOK, multiPollBody{Data: append(resets, data...), Cursor: formatCursor(pos), More: more})
			return
		}
		if !h.awaitBoards(wait, actor, st, pos) {
			if r.Context().Err() != nil {
				return
			}
			if errors.Is(context.Cause(ctx), errRevoked) {
				h.writeError(w, r, ErrUnauthorized)
				return
			}
			writeJSON(w, http.StatusOK, multiPollBody{Data: []json.RawMessage{}, Cursor: formatCursor(pos), Timeout: true})
			return
		}
	}
}

// readBoards reads the logs of the boards after their positions, at most
// taskboard.MaxPage events in all, advancing pos; a board that cannot go
// on from its position gets a reset in resets (and, for one the caller
// can no longer see, leaves pos).
func (h *Handler) readBoards(ctx context.Context, actor taskboard.Actor, pos map[string]int64, resets *[]json.RawMessage) (data []json.RawMessage, more bool, err error) {
	for b, after := range pos {
		room := taskboard.MaxPage - len(data)
		if room <= 0 {
			return data, true, nil
		}
		page, err := h.store.EventsAfter(ctx, actor, b, after, room)
		var rs *taskboard.ResetError
		switch {
		case err == nil:
		case errors.As(err, &rs):
			h.rt.countReset(rs.Reason)
			m, _ := json.Marshal(resetMessage{Type: "reset", BoardID: b, Seq: rs.Seq, Reason: rs.Reason})
			*resets = append(*resets, m)
			pos[b] = rs.Seq
			continue
		case errors.Is(err, taskboard.ErrNotFound):
			// Deleted, or the caller was removed.
			h.rt.countReset(taskboard.ReasonAccessRevoked)
			m, _ := json.Marshal(resetMessage{Type: "reset", BoardID: b, Seq: after, Reason: taskboard.ReasonAccessRevoked})
			*resets = append(*resets, m)
			delete(pos, b)
			continue
		default:
			return nil, false, err
		}
		for _, ev := range page.Events {
			data = append(data, ev.Data)
		}
		pos[b] = page.Seq
		more = more || page.More
	}
	return data, more, nil
}

// awaitBoards waits until one of the boards has an event after its
// position, or its subscription ends (a reset), and reports true; false
// when ctx is done first.
func (h *Handler) awaitBoards(ctx context.Context, actor taskboard.Actor, st *stream, pos map[string]int64) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newMultiFollow(ctx, h, actor, st)
	defer m.close()
	for b, after := range pos {
		if _, err := m.subscribe(b, after); err != nil {
			return ctx.Err() == nil // a reset: read it
		}
	}
	for {
		select {
		case <-m.kick:
			for _, bf := range m.take() {
				for {
					ev, ok, err := m.next(bf)
					if err != nil || ok && ev.Seq > 0 {
						return ctx.Err() == nil
					}
					if !ok {
						break
					}
				}
			}
		case <-ctx.Done():
			return false
		}
	}
}
