package taskboard_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// pushReader reads a push subscription (see seam.Push) the way the HTTP
// transports do: on Ready it takes what TryNext gives on the caller's
// goroutine, and starts a goroutine that calls Next only while Backlog
// reports events to read from the log.
type pushReader struct {
	sub     seam.Reader[taskboard.Event]
	running atomic.Int32 // 0 idle, 1 running, 2 running and asked again
	closer  *taskboard.Subscription
	ctx     context.Context
	wg      sync.WaitGroup

	mu     sync.Mutex
	seqs   []int64
	inline int // events taken on a Ready call
	final  int64
	done   chan struct{}
	once   sync.Once
}

func (p *pushReader) ready() {
	for {
		switch p.running.Load() {
		case 0:
			if p.running.CompareAndSwap(0, 1) {
				p.run(true)
				return
			}
		case 1:
			if p.running.CompareAndSwap(1, 2) {
				return
			}
		default:
			return
		}
	}
}

func (p *pushReader) take(ev taskboard.Event, inline bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Seq == 0 {
		return
	}
	p.seqs = append(p.seqs, ev.Seq)
	if inline {
		p.inline++
	}
	if ev.Seq == p.final {
		p.once.Do(func() { close(p.done) })
	}
}

func (p *pushReader) run(inline bool) {
	for {
		for {
			ev, ok := p.sub.TryNext()
			if !ok {
				break
			}
			p.take(ev, inline)
		}
		if p.sub.Backlog() || p.sub.Err() != nil {
			if p.sub.Err() != nil && !p.sub.Backlog() {
				return // ended: the test closes it
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				for p.sub.Backlog() {
					ev, err := p.sub.Next(p.ctx)
					if err != nil {
						return
					}
					p.take(ev, false)
				}
				p.run(false)
			}()
			return
		}
		if p.running.CompareAndSwap(1, 0) {
			return
		}
		p.running.Store(1)
	}
}

// TestPushSubscribers follows a board with Ready and TryNext, from points
// in the log and from now, while writers write: each subscriber gets
// every seq once and in order, most of them on the feed's goroutine.
func TestPushSubscribers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		const writers, perWriter = 4, 15
		const total = writers * perWriter
		// Some history to replay.
		if err := write(f, 99, 6, func() {}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		starts := []int64{0, 3, 6, -1, -1, -1, -1, -1}
		readers := make([]*pushReader, len(starts))
		final := int64(6 + total + 1)
		for i, after := range starts {
			p := &pushReader{ctx: ctx, final: final, done: make(chan struct{})}
			p.running.Store(1) // the subscriber reads first
			req := seam.Push[taskboard.Event]{Ready: p.ready}
			sub, err := f.b.Subscribe(seam.WithPush(ctx, &req), taskboard.Actor{UserID: bob}, board1, after)
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			p.sub, p.closer = req.Reader, sub
			readers[i] = p
			p.run(false)
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := write(f, w, perWriter, func() {}); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		last, err := f.b.UpdateBoard(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.BoardUpdate{Name: ptr("done")})
		if err != nil || last.Seq != final {
			t.Fatalf("UpdateBoard: seq %d, %v; want seq %d", last.Seq, err, final)
		}
		inline := 0
		for i, p := range readers {
			select {
			case <-p.done:
			case <-time.After(waitFor):
				t.Fatalf("subscriber %d (after %d) did not get seq %d", i, starts[i], final)
			}
			p.closer.Close()
			p.wg.Wait()
			from := starts[i]
			if from < 0 {
				from = 6
			}
			p.mu.Lock()
			for k, seq := range p.seqs {
				if seq != from+int64(k)+1 {
					t.Fatalf("subscriber %d (after %d): event %d has seq %d, want %d", i, starts[i], k, seq, from+int64(k)+1)
				}
			}
			if n := len(p.seqs); int64(n) != final-from {
				t.Fatalf("subscriber %d: %d events, want %d", i, n, final-from)
			}
			inline += p.inline
			p.mu.Unlock()
		}
		if inline == 0 {
			t.Error("no event was taken on the feed's goroutine")
		}
	})
}
