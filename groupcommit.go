package taskboard

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// groupCommitter runs a SQLite Board's writes, one at a time as SQLite
// allows, on a goroutine of its own. The writes that queue up while a
// transaction runs go into the next one together, each in a savepoint of
// its own: a write that fails is rolled back to its savepoint and answered
// at once, alone; the others are answered, and their events published in
// seq order, once the transaction has committed. A commit costs about as
// much for many writes as for one (the WAL frames of the pages they share
// are written once), so throughput grows with the number of writers while
// a lone writer waits for no one.
//
// A write that has started runs to its end whatever its context does:
// cancelling one write must not interrupt the transaction that holds the
// others. A write whose context ends while it waits its turn is not run.
type groupCommitter struct {
	b    *Board
	wake chan struct{} // signals a non-empty queue; capacity 1

	mu      sync.Mutex
	queue   []*write
	stopped bool
}

// maxGroup bounds the writes of one transaction, so that the first of
// them is not answered too late.
const maxGroup = 64

func newGroupCommitter(b *Board) *groupCommitter {
	return &groupCommitter{b: b, wake: make(chan struct{}, 1)}
}

// run queues w and waits for its outcome.
func (g *groupCommitter) run(w *write) error {
	w.done = make(chan error, 1)
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return ErrClosed
	}
	g.queue = append(g.queue, w)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return <-w.done
}

// loop runs the queued writes until the Board closes, then answers the
// writes still queued with ErrClosed. The Board's wait group owns it.
func (g *groupCommitter) loop() {
	defer g.b.wg.Done()
	for {
		select {
		case <-g.wake:
		case <-g.b.closing:
			g.mu.Lock()
			g.stopped = true
			rest := g.queue
			g.queue = nil
			g.mu.Unlock()
			for _, w := range rest {
				w.done <- ErrClosed
			}
			return
		}
		for g.commitNext() {
		}
	}
}

// commitNext commits the writes queued, at most maxGroup of them, under
// the Board's write lock, and reports whether there were any.
func (g *groupCommitter) commitNext() bool {
	g.b.writeMu.Lock()
	defer g.b.writeMu.Unlock()
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	if len(g.queue) == 0 {
		g.queue = nil
	}
	g.mu.Unlock()
	if n == 0 {
		return false
	}
	g.commit(group)
	return true
}

// commit runs group in one transaction and answers each write.
//
// A write that fails without having changed a row (most failures are
// checks: not found, a version that does not match, no right to write) is
// answered at once and the others go on. A write that fails after changing
// rows cannot be undone alone without a savepoint, and a savepoint per
// write costs about as much as a commit here (SQLite copies every page a
// savepoint changes into a statement journal), so then the transaction is
// rolled back, the failed write answered, and the others run again in a
// new one: a change's function may run more than once, and derives its
// outcome from the change and its inputs alone (see changeOf).
func (g *groupCommitter) commit(group []*write) {
	for len(group) > 0 {
		group = g.try(group)
	}
}

// try runs group in one transaction. It answers every write and returns
// nil, or returns the writes to run again after a failed write that had
// changed rows, which it answered.
func (g *groupCommitter) try(group []*write) (again []*write) {
	b := g.b
	bg := context.Background()
	tx, err := b.db.BeginTx(bg, nil)
	if err != nil {
		for _, w := range group {
			w.done <- wrapDBError(err)
		}
		return nil
	}
	defer tx.Rollback()
	var applied []*write
	var changes []*change
	// failAll answers the writes applied so far and rest: the transaction
	// cannot commit.
	failAll := func(rest []*write, err error) {
		for i, w := range applied {
			b.orders.drop(changes[i].board.ID)
			w.done <- err
		}
		for _, w := range rest {
			w.done <- err
		}
	}
	// redo drops what the applied writes did to the order index and returns
	// them with rest, to run again.
	redo := func(rest []*write) []*write {
		for _, c := range changes {
			b.orders.drop(c.board.ID)
		}
		return append(applied, rest...)
	}
	alone := len(group) == 1
	for i, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.done <- err
			continue
		}
		ctx := context.WithoutCancel(w.ctx)
		var before int64
		if !alone {
			if err := b.stmts.scan(bg, tx, "SELECT total_changes()", nil, &before); err != nil {
				failAll(group[i:], wrapDBError(fmt.Errorf("count changes: %w", err)))
				return nil
			}
		}
		c, err := b.apply(ctx, tx, w)
		if err == nil {
			// The next writes of the group see this one's order; if the
			// commit fails, failAll drops it.
			b.settleOrder(c, true)
			applied = append(applied, w)
			changes = append(changes, c)
			continue
		}
		b.settleOrder(c, false)
		w.done <- err
		if alone {
			return nil
		}
		if !refused(err) {
			// A database error may have rolled the whole transaction
			// back (SQLite does so on a full disk, an I/O error…).
			return redo(group[i+1:])
		}
		var after int64
		if cerr := b.stmts.scan(bg, tx, "SELECT total_changes()", nil, &after); cerr != nil {
			return redo(group[i+1:])
		}
		if after != before {
			return redo(group[i+1:])
		}
	}
	if len(applied) == 0 {
		return nil
	}
	if err := tx.Commit(); err != nil {
		failAll(nil, wrapDBError(fmt.Errorf("commit: %w", err)))
		return nil
	}
	for i, w := range applied {
		b.published(changes[i])
		w.done <- nil
	}
	return nil
}

// refused reports whether err is a write's refusal (not found, invalid,
// a version that does not match, a conflict, no right to write) rather
// than a failure of the database.
func refused(err error) bool {
	for _, target := range []error{ErrNotFound, ErrInvalid, ErrPreconditionFailed, ErrConflict, ErrForbidden} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
