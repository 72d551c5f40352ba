package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/taskboard/taskboard"
)

// errClientGone ends a stream whose client closed the connection.
var errClientGone = errors.New("httpapi: client closed the connection")

// sseEndChunk ends a chunked response body.
const sseEndChunk = "0\r\n\r\n"

// pushSSE serves the stream on a connection taken over from net/http after
// the subscription started: it writes the response head itself (a chunked
// body, one chunk per write) and from then on the stream's only goroutine
// is a reader that notices the client leaving. The events are written by
// the stream's pusher, on the feed's goroutines; heartbeats by a timer.
// pushSSE runs the replay, if any, on the handler's goroutine and returns.
func (s *sseStream) pushSSE(conn net.Conn, seq int64, hd http.Header) {
	h := s.h
	// Nothing of the request is kept: its ResponseWriter holds the
	// connection's buffers.
	s.w, s.rc = nil, nil
	if !s.group.Enter() {
		return // ended already
	}
	defer s.group.Done()
	// The server's deadlines were for the request.
	_ = conn.SetDeadline(time.Time{})
	s.conn = conn
	s.cw = newConnWriter(conn, sseWriteTimeout, h.store.Options().SubscriberBuffer, s.finish)
	p := &pusher{
		sub:   s.req.Reader,
		ctx:   s.ctx,
		emit:  s.emit,
		flush: s.flushBatch,
		wait:  func() error { return s.cw.Wait(s.ctx.Done()) },
		ended: s.ended,
		group: &s.group,
	}
	s.push.Store(p) // this goroutine is its reader, to the catchUp at the end

	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hd.Set("Transfer-Encoding", "chunked")
	hd.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = hd.Write(&head)
	head.WriteString("\r\n")
	head.Write(appendChunk(nil, appendConnected([]byte(sseRetry), seq)))
	if s.cw.Write(head.Bytes(), 0) != nil {
		return // the writer's failure ends the stream
	}

	s.group.Go(s.read)
	if h.rt.join(s.ctx, s.boardID, s.user, s.req.ID, s.req.ID) {
		s.present = true
	}
	t := time.AfterFunc(time.Hour, s.heartbeat)
	t.Stop()
	s.beat = t
	if s.ctx.Err() != nil {
		s.finish(context.Cause(s.ctx))
		return
	}
	t.Reset(h.opts.HeartbeatInterval)
	p.catchUp()
}

// ready is the subscription's Ready function.
func (s *sseStream) ready() {
	if p := s.push.Load(); p != nil {
		p.ready()
	}
}

// stop ends the stream for the stream registry.
func (s *sseStream) stop(cause error) {
	s.cancel(cause)
	if s.push.Load() != nil {
		s.finish(cause)
	}
}

// read waits for the client to close the connection; an SSE client sends
// nothing after its request.
func (s *sseStream) read() {
	buf := make([]byte, 64)
	for {
		if _, err := s.conn.Read(buf); err != nil {
			s.finish(errClientGone)
			return
		}
	}
}

// heartbeat writes the heartbeat comment and sets the next one.
func (s *sseStream) heartbeat() {
	if s.ctx.Err() != nil {
		return
	}
	if s.cw.Write([]byte(sseHeartbeatChunk), 0) == nil {
		s.beat.Reset(s.h.opts.HeartbeatInterval)
	}
}

// sseHeartbeatChunk is the heartbeat comment as a chunk.
var sseHeartbeatChunk = string(appendChunk(nil, []byte(sseHeartbeat)))

// emit adds an event's frame to the batch: logged events with their seq as
// id, ephemeral ones without.
func (s *sseStream) emit(ev taskboard.Event) {
	if frame := s.h.sseFrames.get(ev, sseChunk); frame != nil {
		s.batch.add(frame)
	}
}

// sseChunk encodes an event as one SSE frame in one chunk; nil for an event
// SSE does not carry.
func sseChunk(ev taskboard.Event) []byte {
	frame, ok := appendSSEEvent(nil, ev)
	if !ok {
		return nil
	}
	return appendChunk(nil, frame)
}

// appendChunk appends data as one chunk of a chunked body.
func appendChunk(buf, data []byte) []byte {
	buf = strconv.AppendInt(buf, int64(len(data)), 16)
	buf = append(buf, '\r', '\n')
	buf = append(buf, data...)
	return append(buf, '\r', '\n')
}

// flushBatch writes the batch.
func (s *sseStream) flushBatch() error {
	if s.batch.n == 0 {
		return nil
	}
	err := s.cw.Write(s.batch.bytes(), s.batch.n)
	if err == nil {
		s.h.metrics.deliveredSSE.Add(float64(s.batch.n))
	}
	s.batch.reset()
	return err
}

// ended handles the end of the subscription: a reset frame, or nothing
// (the client reconnects with Last-Event-ID).
func (s *sseStream) ended(err error) {
	if frame := s.appendEnd(nil, err); frame != nil {
		_ = s.cw.Write(appendChunk(nil, frame), 0)
	}
	s.finish(err)
}

// finish ends the stream once, whoever notices first: the reader, the
// writer, the pusher or the stream registry. The teardown runs on a
// goroutine of its own, as finish may be called from the feed's.
func (s *sseStream) finish(cause error) {
	if !s.ending.CompareAndSwap(false, true) {
		return
	}
	s.cancel(cause)
	if errors.Is(cause, errWriteBacklog) {
		s.h.metrics.slowDrops.WithLabelValues(transportSSE).Inc()
	}
	go s.teardown()
}

// teardown ends the response, closes the connection and releases what the
// stream held.
func (s *sseStream) teardown() {
	h := s.h
	s.sub.Close()
	// Let the client see the end of the body, if it is still there.
	if s.cw.Write([]byte(sseEndChunk), 0) == nil {
		done := make(chan struct{})
		t := time.AfterFunc(sseWriteTimeout, func() { close(done) })
		_ = s.cw.Wait(done)
		t.Stop()
	}
	s.cw.Break(errClientGone)
	_ = s.conn.Close()
	s.group.CloseAndWait()
	if s.beat != nil {
		s.beat.Stop()
	}
	if s.present {
		h.rt.leave(s.boardID, s.user.ID, s.req.ID)
	}
	h.rt.unfollow(s.st, s.boardID)
	h.rt.close(s.st)
}
