package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

const (
	// sseRetry tells EventSource to reconnect after two seconds.
	sseRetry = "retry: 2000\n\n"
	// sseHeartbeat is the comment that keeps idle streams open.
	sseHeartbeat = ": heartbeat\n\n"
	// sseWriteTimeout bounds each write of a stream; a client that takes
	// longer to accept one is dropped and resumes with Last-Event-ID.
	sseWriteTimeout = 15 * time.Second
	// sseMaxBatch bounds how many bytes of events go out in one write.
	sseMaxBatch = 256 << 10
)

// appendSSEFrame appends one Server-Sent Events frame to buf: the id and
// event fields when not empty, then data as one data line per line of data,
// then the blank line that ends the frame. No field it writes contains a raw
// CR or LF, whatever its input, so no value can end a frame early or inject
// a field; the client joins the data lines with "\n".
func appendSSEFrame(buf []byte, id, event string, data []byte) []byte {
	if id != "" {
		buf = append(buf, "id: "...)
		buf = appendSSEField(buf, id)
		buf = append(buf, '\n')
	}
	if event != "" {
		buf = append(buf, "event: "...)
		buf = appendSSEField(buf, event)
		buf = append(buf, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		buf = append(buf, "data: "...)
		buf = append(buf, data[:i]...)
		buf = append(buf, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	return append(buf, '\n', '\n')
}

// appendSSEField appends a one-line field value, dropping CR, LF and NUL.
func appendSSEField(buf []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '\r' && c != '\n' && c != 0 {
			buf = append(buf, c)
		}
	}
	return buf
}

// connectedMessage is the first data frame of a stream.
type connectedMessage struct {
	Type string `json:"type"`
	Seq  int64  `json:"seq"`
}

// serveEvents is GET /boards/{boardId}/events: the board's feed as
// Server-Sent Events, resuming after Last-Event-ID, else ?after=, else from
// now. Over HTTP/1.1 the stream takes the connection over (see pushSSE)
// and holds no goroutine while the board is quiet; where the connection
// cannot be taken over (HTTP/2, a ResponseWriter without Hijack) it is
// served by this handler's goroutine.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request, id *Identity) {
	boardID := r.PathValue("boardId")
	after, err := sseResumePoint(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// The stream may outlive the request: its context is its own, holding
	// nothing of the request's.
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &sseStream{h: h, w: w, boardID: boardID, user: id.User, ctx: ctx, cancel: cancel}
	st, err := h.rt.open(transportSSE, id, s.stop)
	if err != nil {
		cancel(nil)
		h.writeError(w, r, err)
		return
	}
	s.st = st
	handedOver := false
	defer func() {
		if !handedOver {
			cancel(nil)
			h.rt.close(st)
		}
	}()

	s.req.Ready = s.ready
	sub, err := h.store.Subscribe(seam.WithPush(ctx, &s.req), id.actor(), boardID, after)
	var reset *taskboard.ResetError
	if err != nil && !errors.As(err, &reset) {
		h.writeError(w, r, err)
		return
	}
	s.rc = http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	hd.Set("Connection", "keep-alive")
	if reset != nil {
		w.WriteHeader(http.StatusOK)
		s.buf = append(s.buf, sseRetry...)
		s.connected(reset.Seq)
		s.end(reset)
		s.flush()
		return
	}
	s.sub = sub
	h.rt.follow(st, boardID)

	// From now, the starting point is the current seq; resuming, the board
	// may be further on.
	seq := s.req.Reader.Last()
	if after >= 0 {
		if cur, err := h.store.BoardSeq(ctx, id.actor(), boardID); err == nil && cur > seq {
			seq = cur
		}
	}
	if conn, _, err := s.rc.Hijack(); err == nil {
		handedOver = true
		s.pushSSE(conn, seq, w.Header())
		return
	}

	defer sub.Close()
	defer h.rt.unfollow(st, boardID)
	stopOnDone := context.AfterFunc(r.Context(), func() { cancel(context.Canceled) })
	defer stopOnDone()
	w.WriteHeader(http.StatusOK)
	s.buf = append(s.buf, sseRetry...)
	s.connected(seq)
	if !s.flush() {
		return
	}
	if h.rt.join(ctx, boardID, id.User, s.req.ID, s.req.ID) {
		defer h.rt.leave(boardID, id.User.ID, s.req.ID)
	}
	s.run(ctx, s.req.Reader)
}

// sseResumePoint returns the seq to resume after: Last-Event-ID, else
// ?after=, else -1 (from now).
func sseResumePoint(r *http.Request) (int64, error) {
	if v := strings.TrimSpace(r.Header.Get("Last-Event-ID")); v != "" {
		return parseSeq("Last-Event-ID", v)
	}
	return seqParam(r, "after")
}

// sseStream is one SSE stream.
type sseStream struct {
	h       *Handler
	st      *stream
	boardID string
	user    taskboard.User
	sub     *taskboard.Subscription
	// req makes sub a push subscription: its ID, Ready and Reader.
	req seam.Push[taskboard.Event]
	// ctx is cancelled when the stream ends.
	ctx    context.Context
	cancel context.CancelCauseFunc

	// A stream served by its handler's goroutine writes through the
	// ResponseWriter.
	w       http.ResponseWriter
	rc      *http.ResponseController
	buf     []byte
	pending int // events in buf
	// deadlineSet is when the write deadline was last renewed.
	deadlineSet time.Time

	// A stream that took its connection over writes through cw, fed by
	// its pusher.
	conn    net.Conn
	cw      *connWriter
	push    atomic.Pointer[pusher]
	batch   frameBatch
	beat    *time.Timer
	present bool
	ending  atomic.Bool
	group   goGroup // the pusher's and the reader's goroutines
}

// run sends the subscription's events until it ends or ctx is done. Events
// that are due at once go out in one write.
func (s *sseStream) run(ctx context.Context, sub seam.Reader[taskboard.Event]) {
	interval := s.h.opts.HeartbeatInterval
	beat := time.Now().Add(interval)
	// drained is a done context: Next with it returns only what is
	// available without waiting.
	drained, cancel := context.WithCancel(context.Background())
	cancel()
	// One deadline context per heartbeat period, not one per event.
	var wait beatWait
	wait.reset(ctx, beat)
	defer wait.cancel()
	for {
		ev, err := sub.Next(wait.ctx)
		switch {
		case err == nil:
			s.add(ev)
			for len(s.buf) < sseMaxBatch {
				ev, err = sub.Next(drained)
				if err != nil {
					if errors.Is(err, context.Canceled) {
						err = nil // nothing more right now
					}
					break
				}
				s.add(ev)
			}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			err = nil
		}
		if now := time.Now(); !now.Before(beat) {
			s.buf = append(s.buf, sseHeartbeat...)
			if beat = beat.Add(interval); beat.Before(now) {
				beat = now.Add(interval)
			}
			wait.reset(ctx, beat)
		}
		if err != nil {
			s.end(err)
			s.flush()
			return
		}
		if !s.flush() {
			return
		}
	}
}

// add appends an event's frame: logged events with their seq as id,
// ephemeral ones without.
func (s *sseStream) add(ev taskboard.Event) {
	var ok bool
	if s.buf, ok = appendSSEEvent(s.buf, ev); ok {
		s.pending++
	}
}

// appendSSEEvent appends an event's frame: logged events with their seq as
// id, ephemeral ones without. It reports false for the events SSE does not
// carry: presence lists go to WebSocket joiners only.
func appendSSEEvent(buf []byte, ev taskboard.Event) ([]byte, bool) {
	switch {
	case ev.Seq > 0:
		return appendSSEFrame(buf, strconv.FormatInt(ev.Seq, 10), ev.Type, ev.Data), true
	case ev.Type == taskboard.EventPresence:
		return buf, false
	default:
		return appendSSEFrame(buf, "", ev.Type, ev.Data), true
	}
}

// connected appends the stream's first data frame.
func (s *sseStream) connected(seq int64) {
	s.buf = appendConnected(s.buf, seq)
}

// appendConnected appends the connected frame of a stream starting at seq.
func appendConnected(buf []byte, seq int64) []byte {
	data, _ := json.Marshal(connectedMessage{Type: "connected", Seq: seq})
	return appendSSEFrame(buf, "", "", data)
}

// end appends what the end of the subscription means to the client.
func (s *sseStream) end(err error) {
	s.buf = s.appendEnd(s.buf, err)
}

// appendEnd appends what the end of the subscription means to the client:
// a reset frame, or nothing (the client reconnects with Last-Event-ID); and
// counts it.
func (s *sseStream) appendEnd(buf []byte, err error) []byte {
	var reset *taskboard.ResetError
	switch {
	case errors.As(err, &reset):
		data, _ := json.Marshal(resetMessage{Type: "reset", Seq: reset.Seq, Reason: reset.Reason})
		buf = appendSSEFrame(buf, strconv.FormatInt(reset.Seq, 10), "reset", data)
		s.h.rt.countReset(reset.Reason)
	case errors.Is(err, taskboard.ErrSlowConsumer):
		s.h.metrics.slowDrops.WithLabelValues(transportSSE).Inc()
	case errors.Is(err, taskboard.ErrClosed), errors.Is(err, context.Canceled):
	default:
		s.h.opts.Logger.Warn("sse stream ended", "err", err)
	}
	return buf
}

// beatWait is the context an SSE stream waits for events with: done at the
// next heartbeat.
type beatWait struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// reset makes the wait end at beat, releasing the previous one.
func (w *beatWait) reset(parent context.Context, beat time.Time) {
	if w.cancel != nil {
		w.cancel()
	}
	w.ctx, w.cancel = context.WithDeadline(parent, beat)
}

// flush writes the buffered frames in one write and flushes them to the
// client. It reports whether the client is still there.
func (s *sseStream) flush() bool {
	if len(s.buf) == 0 {
		return true
	}
	// The server's WriteTimeout would cut a long-lived stream: the stream
	// keeps a rolling deadline of its own instead, renewed when half of it
	// has passed, so that a write never has less than half of it.
	if now := time.Now(); now.Sub(s.deadlineSet) > sseWriteTimeout/2 {
		if err := s.rc.SetWriteDeadline(now.Add(sseWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		s.deadlineSet = now
	}
	_, err := s.w.Write(s.buf)
	if err == nil {
		err = s.rc.Flush()
	}
	s.buf = s.buf[:0]
	if s.pending > 0 {
		s.h.metrics.delivered.WithLabelValues(transportSSE).Add(float64(s.pending))
		s.pending = 0
	}
	return err == nil
}
