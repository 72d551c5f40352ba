package httpapi

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

// A pusher delivers a subscription's events to a connection without a
// goroutine of its own while the board is quiet. The feed calls ready when
// events are queued; ready then takes them with TryNext and writes their
// frames with a connWriter, which never waits for the client, on the
// feed's own goroutine. Only when the events must be read from the log
// (a replay, or a gap) does a goroutine of the pusher's call Next, and only
// until it has caught up.
//
// One reader at a time takes the subscription's events: whoever moves
// state from pushIdle to pushRunning, or the goroutine that made the
// pusher, which starts in pushRunning (the zero state) and hands over when
// its own reading is done. A ready call during a run sets pushAgain, so
// the run looks again before it goes idle.
type pusher struct {
	sub seam.Reader[taskboard.Event]
	// ctx bounds the reads of the log.
	ctx context.Context
	// emit writes one event's frame; flush sends what emit buffered. flush
	// fails when the connection's writer failed.
	emit  func(ev taskboard.Event)
	flush func() error
	// wait returns when the connection's writer has written what it was
	// given, so that a replay never runs far ahead of the client.
	wait func() error
	// ended handles the end of the subscription, after its last event.
	ended func(err error)

	state atomic.Int32
	// group runs the pusher's goroutines: the connection's.
	group *goGroup
}

const (
	pushRunning int32 = iota
	pushIdle
	pushAgain
)

// pushMaxBatch bounds how many events one write carries.
const pushMaxBatch = 256

// ready is the subscription's Ready function (see seam.Push).
func (p *pusher) ready() {
	for {
		switch p.state.Load() {
		case pushIdle:
			if p.state.CompareAndSwap(pushIdle, pushRunning) {
				p.run()
				return
			}
		case pushRunning:
			if p.state.CompareAndSwap(pushRunning, pushAgain) {
				return
			}
		default:
			return
		}
	}
}

// run writes the events at hand, then goes idle, or hands over to a
// goroutine when the log must be read or the subscription ended. The
// caller is the reader (state pushRunning or pushAgain).
func (p *pusher) run() {
	for {
		if p.writeAtHand() != nil {
			return // the connection is failing and ends the stream
		}
		if p.sub.Backlog() || p.sub.Err() != nil {
			p.group.Go(p.catchUp) // refused once the connection is closing
			return
		}
		if p.state.CompareAndSwap(pushRunning, pushIdle) {
			return
		}
		p.state.Store(pushRunning) // a ready call came during the run
	}
}

// writeAtHand writes the events TryNext gives, pushMaxBatch to a write.
func (p *pusher) writeAtHand() error {
	n := 0
	for {
		ev, ok := p.sub.TryNext()
		if !ok {
			break
		}
		p.emit(ev)
		if n++; n == pushMaxBatch {
			if err := p.flush(); err != nil {
				return err
			}
			n = 0
		}
	}
	return p.flush()
}

// catchUp reads the subscription's backlog from the log and writes it,
// keeping pace with the client, then returns to run; or, when the
// subscription ended, hands its end to ended. The caller is the reader.
func (p *pusher) catchUp() {
	for p.sub.Backlog() {
		ev, err := p.sub.Next(p.ctx)
		if err != nil {
			break
		}
		p.emit(ev)
		if p.flush() != nil || p.wait() != nil {
			return
		}
	}
	if err := p.sub.Err(); err != nil {
		// Events queued before the end still go out.
		if p.writeAtHand() == nil {
			p.ended(err)
		}
		return
	}
	if p.ctx.Err() != nil {
		return
	}
	p.run()
}

// goGroup runs and counts a connection's goroutines. Once Close is called
// it starts none any more, so that waiting for them never races with a
// goroutine of the feed's starting one.
type goGroup struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Go runs f on a goroutine of the group; it reports false, and does not
// run f, once the group is closed.
func (g *goGroup) Go(f func()) bool {
	if !g.Enter() {
		return false
	}
	go func() {
		defer g.Done()
		f()
	}()
	return true
}

// Enter counts the calling goroutine in the group until it calls Done; it
// reports false once the group is closed.
func (g *goGroup) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

// Done ends a goroutine of the group.
func (g *goGroup) Done() { g.wg.Done() }

// CloseAndWait refuses new goroutines and waits for the group's.
func (g *goGroup) CloseAndWait() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// frameCache keeps the last frames encoded from feed events, so that an
// event fanned out to thousands of connections is encoded once per
// transport. An event is known by its Data: every subscription of a board
// receives the same slice.
type frameCache struct {
	slots [64]atomic.Pointer[cachedFrame]
}

type cachedFrame struct {
	data  *byte
	n     int
	seq   int64
	frame []byte
}

// get returns the frame of ev, building it with build on a miss.
func (c *frameCache) get(ev taskboard.Event, build func(taskboard.Event) []byte) []byte {
	if len(ev.Data) == 0 {
		return build(ev)
	}
	key := &ev.Data[0]
	slot := &c.slots[(uint64(ev.Seq)^uint64(len(ev.Data)))%uint64(len(c.slots))]
	if cf := slot.Load(); cf != nil && cf.data == key && cf.n == len(ev.Data) && cf.seq == ev.Seq {
		return cf.frame
	}
	frame := build(ev)
	slot.Store(&cachedFrame{data: key, n: len(ev.Data), seq: ev.Seq, frame: frame})
	return frame
}

// frameBatch gathers the frames of one write. A single frame is written as
// it is, shared with the other connections; more are copied into a pooled
// buffer.
type frameBatch struct {
	first []byte
	buf   *[]byte
	n     int // frames
}

var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// add appends a frame to the batch.
func (b *frameBatch) add(frame []byte) {
	b.n++
	switch {
	case b.first == nil && b.buf == nil:
		b.first = frame
	case b.buf == nil:
		b.buf = batchBuffers.Get().(*[]byte)
		*b.buf = append(append((*b.buf)[:0], b.first...), frame...)
		b.first = nil
	default:
		*b.buf = append(*b.buf, frame...)
	}
}

// bytes returns the batch's bytes.
func (b *frameBatch) bytes() []byte {
	if b.buf != nil {
		return *b.buf
	}
	return b.first
}

// reset empties the batch, returning its buffer to the pool.
func (b *frameBatch) reset() {
	if b.buf != nil {
		if cap(*b.buf) <= 256<<10 {
			batchBuffers.Put(b.buf)
		}
		b.buf = nil
	}
	b.first = nil
	b.n = 0
}
