package httpapi

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// errWriteBacklog ends a connection whose client does not take its events
// as fast as they come.
var errWriteBacklog = errors.New("httpapi: client does not keep up with its stream")

// connBacklogBytes bounds the bytes waiting for a slow client, whatever
// its event limit.
const connBacklogBytes = 8 << 20

// connWriter writes a hijacked connection's bytes without ever making its
// caller wait for the client. Write hands bytes to the kernel at once when
// its socket buffer has room, so that an event reaches thousands of
// streams from the fan-out's own goroutine; bytes the socket does not take
// wait in a backlog that a goroutine of the writer's, started only then,
// writes out. A connection that falls connBacklogLimit bytes behind, or
// whose write fails or takes longer than the timeout, fails: Write returns
// the error from then on, and onFail is called once.
//
// A connection falls behind when more than maxEvents events would wait
// (the store's Options.SubscriberBuffer, as for a subscription; a batch
// is taken whole when nothing waits), or more than connBacklogBytes bytes.
type connWriter struct {
	conn      net.Conn
	raw       syscall.RawConn // nil: every write goes through the goroutine
	timeout   time.Duration
	maxEvents int
	onFail    func(error)

	mu      sync.Mutex
	backlog []byte
	events  int // events in the backlog and in the write under way
	// partial is how many bytes at the head of the backlog finish a write
	// the socket took only part of: dropping the backlog keeps them, so
	// that the client never gets part of a frame.
	partial  int
	flushing bool          // the flush goroutine runs
	idle     chan struct{} // closed when the backlog empties; nil if none waits
	err      error         // why Write fails
	broken   bool          // nothing more can be written, not even by WriteFinal
}

// newConnWriter returns the writer of conn. timeout bounds how long a
// client may take to accept bytes once its socket buffer is full.
func newConnWriter(conn net.Conn, timeout time.Duration, maxEvents int, onFail func(error)) *connWriter {
	w := &connWriter{conn: conn, timeout: timeout, maxEvents: maxEvents, onFail: onFail}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w.raw = raw
		}
	}
	return w
}

// Write writes p, or queues what the socket does not take at once. It
// never blocks on the client. events is how many events p carries.
func (w *connWriter) Write(p []byte, events int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if len(w.backlog)+len(p) > connBacklogBytes || (w.maxEvents > 0 && events > 0 && w.events > 0 && w.events+events > w.maxEvents) {
		// The client is too far behind: what waits is dropped, whole
		// frames only, so that WriteFinal can still say goodbye.
		w.failLocked(errWriteBacklog, false)
		return errWriteBacklog
	}
	w.queueLocked(p, events)
	return nil
}

// WriteFinal writes the last bytes of the connection, such as a close
// frame, even after Write failed because the client fell behind. Write
// fails from then on.
func (w *connWriter) WriteFinal(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken {
		return w.err
	}
	if w.err == nil {
		w.err = errConnClosing
	}
	w.queueLocked(p, 0)
	return nil
}

// errConnClosing is what Write returns after WriteFinal.
var errConnClosing = errors.New("httpapi: connection closing")

// queueLocked writes p, directly when nothing waits, and queues the rest;
// called with w.mu held.
func (w *connWriter) queueLocked(p []byte, events int) {
	if !w.flushing && w.raw != nil {
		n, err := w.writeNow(p)
		if err != nil {
			w.failLocked(err, true)
			return
		}
		p = p[n:]
		if len(p) == 0 {
			return
		}
		if n > 0 {
			w.partial = len(p)
		}
	}
	w.backlog = append(w.backlog, p...)
	w.events += events
	if !w.flushing {
		w.flushing = true
		go w.flush()
	}
}

// writeNow writes what the socket takes of p without waiting.
func (w *connWriter) writeNow(p []byte) (int, error) {
	var n int
	var werr error
	err := w.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, err := syscall.Write(int(fd), p[n:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return true // full: the rest goes to the backlog
			case err != nil:
				werr = err
				return true
			}
			n += m
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// flush writes the backlog out until it is empty, with blocking writes.
func (w *connWriter) flush() {
	var buf []byte
	inFlight := 0 // events in buf
	for {
		w.mu.Lock()
		w.events -= inFlight
		if w.broken || len(w.backlog) == 0 {
			w.flushing = false
			if w.idle != nil {
				close(w.idle)
				w.idle = nil
			}
			w.mu.Unlock()
			// Direct writes must not meet the expired deadline.
			_ = w.conn.SetWriteDeadline(time.Time{})
			return
		}
		buf, w.backlog = w.backlog, buf[:0]
		w.partial = 0
		inFlight = w.events
		w.mu.Unlock()
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		if _, err := w.conn.Write(buf); err != nil {
			w.mu.Lock()
			w.failLocked(err, true)
			w.mu.Unlock()
		}
	}
}

// Wait returns when the backlog is written out, the connection broke or
// done is closed, and returns the writer's error.
func (w *connWriter) Wait(done <-chan struct{}) error {
	w.mu.Lock()
	if w.broken || !w.flushing {
		err := w.err
		w.mu.Unlock()
		return err
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
	case <-done:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Drained reports whether everything given to the writer was written.
func (w *connWriter) Drained() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.broken && !w.flushing
}

// Break stops the writer for good, as a failed write would; onFail is not
// called.
func (w *connWriter) Break(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	w.broken = true
	w.backlog = nil
	if w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

// failLocked records the writer's first error and reports it; broken
// means the connection itself failed. Called with w.mu held.
func (w *connWriter) failLocked(err error, broken bool) {
	w.backlog = w.backlog[:w.partial]
	if broken {
		w.broken = true
		if w.idle != nil {
			close(w.idle)
			w.idle = nil
		}
	}
	if w.err != nil {
		return
	}
	w.err = err
	if w.onFail != nil {
		// onFail must not wait for w.mu: it runs on its own.
		go w.onFail(err)
	}
}
