package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

// Long polling limits, in seconds.
const (
	pollDefaultTimeout = 30
	pollMaxTimeout     = 60
)

// pollWriteMargin is how long a poll's answer may take to write once the
// poll ends.
const pollWriteMargin = 15 * time.Second

// changesBody is the answer of GET /boards/{boardId}/updates?since=.
type changesBody struct {
	Data      []taskboard.Task `json:"data"`
	Deleted   []string         `json:"deleted"`
	Timestamp string           `json:"timestamp"`
}

// pageBody is the answer of GET /boards/{boardId}/updates?after=.
type pageBody struct {
	Data []json.RawMessage `json:"data"`
	Seq  int64             `json:"seq"`
	More bool              `json:"more"`
}

// pollBody is the answer of GET /boards/{boardId}/poll with events.
type pollBody struct {
	Data      []json.RawMessage `json:"data"`
	Seq       int64             `json:"seq"`
	More      bool              `json:"more"`
	Timestamp string            `json:"timestamp"`
}

// pollTimeoutBody is the answer of a long poll that saw no event.
type pollTimeoutBody struct {
	Data    []json.RawMessage `json:"data"`
	Timeout bool              `json:"timeout"`
	Seq     int64             `json:"seq"`
}

// serveUpdates is GET /boards/{boardId}/updates: short polling, by time
// (?since=, the course's form) or by seq (?after=&limit=, the exact form).
func (h *Handler) serveUpdates(w http.ResponseWriter, r *http.Request, id *Identity) {
	boardID := r.PathValue("boardId")
	q := r.URL.Query()
	if q.Has("after") {
		after, err := parseSeq("after", q.Get("after"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		limit, err := parseLimit(q.Get("limit"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		page, err := h.store.EventsAfter(r.Context(), id.actor(), boardID, after, limit)
		if err != nil {
			h.countResetErr(err)
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, pageBody{Data: eventData(page.Events), Seq: page.Seq, More: page.More})
		return
	}
	since, err := parseSince(q.Get("since"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// The timestamp is taken before the read and truncated to the second,
	// so that using it as the next since never misses a change committed
	// while this request ran; a change may come twice.
	stamp := nowUTC().Truncate(time.Second)
	c, err := h.store.ChangesSince(r.Context(), id.actor(), boardID, since)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, changesBody{Data: c.Tasks, Deleted: c.Deleted, Timestamp: stamp.Format(time.RFC3339)})
}

// countResetErr records a reset answered to a polling client.
func (h *Handler) countResetErr(err error) {
	var reset *taskboard.ResetError
	if errors.As(err, &reset) {
		h.rt.countReset(reset.Reason)
	}
}

// servePoll is GET /boards/{boardId}/poll: long polling. The request holds a
// subscription, so that a held poll costs nothing until the board changes.
func (h *Handler) servePoll(w http.ResponseWriter, r *http.Request, id *Identity) {
	boardID := r.PathValue("boardId")
	after, err := seqParam(r, "after")
	if err != nil {
		h.writeError(w, r, err)
		return
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

	var req seam.Push[taskboard.Event]
	sub, err := h.store.Subscribe(seam.WithPush(ctx, &req), id.actor(), boardID, after)
	if err != nil {
		h.countResetErr(err)
		h.writeError(w, r, err)
		return
	}
	defer sub.Close()
	h.rt.follow(st, boardID)
	defer h.rt.unfollow(st, boardID)
	if after < 0 {
		after = req.Reader.Last()
	}

	// The server's read and write timeouts must not cut a held poll.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(time.Duration(timeout)*time.Second + pollWriteMargin))

	wait, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
	defer cancel()
	// drained is a done context: Next with it returns only what the
	// subscription holds already, and exactly drained.Err() when that is
	// nothing; any other error means more is in the log, or the end.
	drained, cancelDrained := context.WithCancel(context.Background())
	cancelDrained()
	var (
		events []taskboard.Event
		more   bool
	)
	for {
		next := wait
		if len(events) > 0 {
			next = drained
		}
		ev, err := req.Reader.Next(next)
		if err != nil {
			var reset *taskboard.ResetError
			switch {
			case len(events) == 0:
				h.endPoll(ctx, w, r, after, err)
				return
			case errors.As(err, &reset):
				h.rt.countReset(reset.Reason)
				h.writeError(w, r, err)
				return
			}
			more = err != drained.Err()
			break
		}
		if ev.Seq == 0 {
			continue // ephemeral events are not polled
		}
		if ev.Type == taskboard.EventBoardDeleted {
			h.rt.countReset(taskboard.ReasonBoardDeleted)
			h.writeError(w, r, &taskboard.ResetError{BoardID: boardID, Reason: taskboard.ReasonBoardDeleted, Seq: ev.Seq})
			return
		}
		if len(events) == taskboard.MaxPage {
			// A page is full and one more event exists: the client
			// polls again after the page, losing nothing.
			more = true
			break
		}
		events = append(events, ev)
	}
	h.metrics.delivered.WithLabelValues(transportLongPoll).Add(float64(len(events)))
	writeJSON(w, http.StatusOK, pollBody{
		Data: eventData(events), Seq: events[len(events)-1].Seq, More: more,
		Timestamp: nowUTC().Format(time.RFC3339),
	})
}

// endPoll answers a held poll that ended without news: a reset, the
// timeout, a revoked credential or the Handler closing.
func (h *Handler) endPoll(ctx context.Context, w http.ResponseWriter, r *http.Request, after int64, err error) {
	var reset *taskboard.ResetError
	cause := context.Cause(ctx)
	switch {
	case errors.As(err, &reset):
		h.rt.countReset(reset.Reason)
		h.writeError(w, r, err)
	case errors.Is(cause, errRevoked):
		h.writeError(w, r, ErrUnauthorized)
	case r.Context().Err() != nil:
		// The client went away.
	case errors.Is(err, context.DeadlineExceeded), isShutdown(cause), errors.Is(err, taskboard.ErrClosed):
		writeJSON(w, http.StatusOK, pollTimeoutBody{Data: []json.RawMessage{}, Timeout: true, Seq: after})
	case errors.Is(err, taskboard.ErrSlowConsumer):
		// Cannot happen before the first event; answer as a timeout so the
		// client polls again from the same point.
		writeJSON(w, http.StatusOK, pollTimeoutBody{Data: []json.RawMessage{}, Timeout: true, Seq: after})
	default:
		h.writeError(w, r, err)
	}
}

// parseLimit reads ?limit=: a positive integer, at most taskboard.MaxPage
// (larger values mean the maximum); empty means the maximum.
func parseLimit(v string) (int, error) {
	if v == "" {
		return taskboard.MaxPage, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fieldInvalid("limit", "must be a positive integer")
	}
	return min(n, taskboard.MaxPage), nil
}

// parseSince reads ?since=: an RFC 3339 time; empty means the zero time
// (everything).
func parseSince(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fieldInvalid("since", "must be an RFC 3339 time")
	}
	return t, nil
}

// parseTimeout reads ?timeout= of a long poll: whole seconds from 1 to 60;
// empty means 30.
func parseTimeout(v string) (int, error) {
	if v == "" {
		return pollDefaultTimeout, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > pollMaxTimeout {
		return 0, fieldInvalid("timeout", "must be an integer from 1 to 60")
	}
	return n, nil
}
