package taskboard

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// readTx runs fn in a read-only transaction that sees one consistent state.
func (b *Board) readTx(ctx context.Context, fn func(tx bun.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if !b.sqlite {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := b.db.BeginTx(ctx, opts)
	if err != nil {
		return wrapDBError(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return wrapDBError(err)
	}
	return wrapDBError(tx.Commit())
}

// plainTx runs fn in a write transaction that logs no event, then the
// context's transaction hook (seam.WithTxHook).
func (b *Board) plainTx(ctx context.Context, fn func(tx bun.Tx) error) error {
	if b.sqlite {
		b.writeMu.Lock()
		defer b.writeMu.Unlock()
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return wrapDBError(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return wrapDBError(err)
	}
	if err := runTxHook(ctx, tx); err != nil {
		return wrapDBError(err)
	}
	return wrapDBError(tx.Commit())
}

// change is one write transaction on one board: it holds the board's row
// lock and collects the events the write appends to the board's log.
type change struct {
	tx     bun.Tx
	board  BoardInfo
	actor  Actor
	role   Role // the actor's role on the board
	mutID  *string
	at     time.Time
	events []Event
	// notLogged marks a change whose events must not be stored (the board
	// is being deleted and its log goes with it).
	notLogged bool
	// xid is the PostgreSQL transaction's ID (zero on SQLite), by which a
	// commit whose answer was lost is looked up.
	xid int64
	// startSeq is the board's seq when the change began; orders holds the
	// order index, ord the board's part of it once the change needs it.
	startSeq int64
	orders   *orderCache
	ord      *boardOrder
	// stmts runs the change's frequent statements prepared.
	stmts *stmtCache
}

// emit appends an event to the board's log with the next seq.
func (c *change) emit(ctx context.Context, env Envelope) error {
	c.board.Seq++
	env.Seq = c.board.Seq
	env.BoardID = c.board.ID
	env.ActorID = c.actor.UserID
	env.At = c.at
	env.MutationID = c.mutID
	ev, err := newLoggedEvent(env)
	if err != nil {
		return err
	}
	if !c.notLogged {
		if _, err := c.stmts.exec(ctx, c.tx, "INSERT INTO events (board_id, seq, type, at, mutation_id, data) VALUES (?, ?, ?, ?, ?, ?)",
			c.board.ID, ev.Seq, ev.Type, sqlTime(c.at), c.mutID, string(ev.Data)); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
	}
	c.events = append(c.events, ev)
	return nil
}

// boardLock returns the in-process lock of a board's writers.
func (b *Board) boardLock(boardID string) *sync.Mutex {
	if b.sqlite {
		return &b.writeMu
	}
	return &b.boardMu[lockKey(boardID)%uint32(len(b.boardMu))]
}

// change runs fn in a transaction that holds boardID's lock, after checking
// that the actor is a member (else the error is notFound(entity)). The events
// fn emits are stored in the same transaction with gapless seqs, and
// published after the commit, in seq order.
//
// On SQLite the write may share its transaction with others
// (groupcommit.go), and fn may then run more than once: when another write
// of the transaction fails after changing rows, the transaction is rolled
// back and the rest run again. fn must derive what it does and returns
// from c and its inputs alone, resetting any result it sets.
func (b *Board) change(ctx context.Context, actor Actor, boardID, entity string, fn func(c *change) error) error {
	return b.changeOf(ctx, actor, target{boardID: boardID}, entity, fn)
}

// target names the board a change applies to: by its ID, or as the board
// of a row (table and rowID), which never moves to another board.
type target struct {
	boardID      string
	table, rowID string
	rowEntity    string // the entity reported when the row does not exist
	// resolve, when set, finds the board inside the transaction (SQLite
	// only), loading what the change needs on the way.
	resolve func(ctx context.Context, tx bun.Tx) (string, error)
	// need is the role the change needs; zero means RoleEditor. operator
	// marks a change made by the operator, who needs no membership.
	need     Role
	operator bool
}

// changeRow is change on the board of a row of table.
func (b *Board) changeRow(ctx context.Context, actor Actor, table, rowID, entity string, fn func(c *change) error) error {
	return b.changeOf(ctx, actor, target{table: table, rowID: rowID, rowEntity: entity}, entity, fn)
}

func (b *Board) changeOf(ctx context.Context, actor Actor, tg target, entity string, fn func(c *change) error) error {
	select {
	case <-b.closing:
		return ErrClosed
	default:
	}
	if hasNUL(tg.rowID) {
		return notFound(tg.rowEntity)
	}
	if err := actor.mayWrite(); err != nil {
		return err
	}
	if hasNUL(actor.UserID, tg.boardID) {
		return notFound(entity)
	}
	w := &write{ctx: ctx, actor: actor, tg: tg, entity: entity, fn: fn}
	if b.sqlite {
		// One writer at a time: the group committer runs the write,
		// possibly in one transaction with others.
		return b.commits.run(w)
	}
	if tg.boardID == "" {
		// The lock of the board must be taken before the transaction.
		id, err := b.boardOf(ctx, tg.table, tg.rowID, tg.rowEntity)
		if err != nil {
			return err
		}
		w.tg.boardID = id
	}
	mu := b.boardLock(w.tg.boardID)
	mu.Lock()
	defer mu.Unlock()

	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return wrapDBError(err)
	}
	defer tx.Rollback()
	c, err := b.apply(ctx, tx, w)
	if err != nil {
		b.settleOrder(c, false)
		return err
	}
	if err := tx.Commit(); err != nil {
		// The commit may have happened all the same: a context that ends
		// while COMMIT is on its way cancels the wait for its answer, not
		// the commit. Deliver the events if they are in the database.
		b.settleOrder(c, false)
		b.commitUnknown(c.board.ID, c)
		return wrapDBError(fmt.Errorf("commit: %w", err))
	}
	b.settleOrder(c, true)
	b.published(c)
	return nil
}

// write is one call of changeOf: what to change, for whom.
type write struct {
	ctx    context.Context
	actor  Actor
	tg     target
	entity string
	fn     func(c *change) error
	// done carries the outcome of a write run by the group committer.
	done chan error
}

// apply runs a write in tx, which the caller commits: it finds and locks
// the board, checks that the actor is a member, runs the write's function
// and advances the board's seq past the events it appended. The change it
// returns (nil when it failed before the board was read) holds those
// events and the order index it used, which settleOrder settles.
func (b *Board) apply(ctx context.Context, tx bun.Tx, w *write) (*change, error) {
	tg := w.tg
	var err error
	if tg.boardID == "" && tg.resolve != nil {
		if tg.boardID, err = tg.resolve(ctx, tx); err != nil {
			return nil, wrapDBError(err)
		}
	}
	if tg.boardID == "" {
		err := b.stmts.scan(ctx, tx, "SELECT board_id FROM "+tg.table+" WHERE id = ?", []any{tg.rowID}, &tg.boardID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(tg.rowEntity)
		}
		if err != nil {
			return nil, wrapDBError(err)
		}
	}
	boardID := tg.boardID
	c := &change{tx: tx, actor: w.actor, at: now(), stmts: b.stmts}
	if id := MutationID(ctx); id != "" {
		c.mutID = &id
	}
	var locked struct {
		BoardInfo  `bun:",extend"`
		MemberRole *Role `bun:"member_role,scanonly"`
		XID        int64 `bun:"xid,scanonly"`
	}
	lockQuery := lockBoardSQLite
	if !b.sqlite {
		lockQuery = lockBoardPostgres
	}
	if err := b.stmts.scan(ctx, tx, lockQuery, []any{w.actor.UserID, boardID}, &locked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(w.entity)
		}
		return nil, wrapDBError(fmt.Errorf("lock board: %w", err))
	}
	if !tg.operator {
		if locked.MemberRole == nil {
			return nil, notFound(w.entity)
		}
		c.role = *locked.MemberRole
		if err := c.role.allows(cmp.Or(tg.need, RoleEditor), w.actor.UserID, boardID); err != nil {
			return nil, err
		}
	}
	c.board, c.xid = locked.BoardInfo, locked.XID
	c.startSeq, c.orders = c.board.Seq, &b.orders
	if err := w.fn(c); err != nil {
		return c, wrapDBError(err)
	}
	if c.board.Seq != c.startSeq && !c.notLogged {
		if _, err := b.stmts.exec(ctx, tx, "UPDATE boards SET seq = ? WHERE id = ?", c.board.Seq, boardID); err != nil {
			return c, wrapDBError(fmt.Errorf("advance seq: %w", err))
		}
	}
	// A board's deletion, whose event is not in the log, tells the other
	// instances inside its transaction; logged changes are announced after
	// the commit (publish), the receivers reading the log.
	if tn, ok := b.notifier.(txNotifier); ok && c.notLogged && len(c.events) > 0 {
		last := c.events[len(c.events)-1]
		sig := feedSignal{BoardID: boardID, Seq: last.Seq, Event: &last}
		if err := tn.NotifyTx(ctx, tx, sig); err != nil {
			return c, wrapDBError(err)
		}
	}
	if err := runTxHook(ctx, tx); err != nil {
		return c, wrapDBError(err)
	}
	return c, nil
}

// settleOrder tells the order index whether the change it served
// committed: then the index is valid at the board's new seq; otherwise it
// is dropped and read again by the next change.
func (b *Board) settleOrder(c *change, committed bool) {
	if c != nil && c.ord != nil {
		b.orders.done(c.board.ID, c.ord, committed && !c.notLogged, c.board.Seq)
	}
}

// published hands the events of a committed change to the feed.
func (b *Board) published(c *change) {
	if len(c.events) > 0 {
		b.feed.publish(c.board.ID, c.events)
	}
}

// The queries that lock the board of a change and read it with whether the
// actor's role. On PostgreSQL the row lock gives the transaction an ID
// anyway; reading it costs nothing more.
const (
	lockBoardSQLite = "SELECT b.*, (SELECT m.role FROM board_members AS m WHERE m.board_id = b.id AND m.user_id = ?) AS member_role " +
		"FROM boards AS b WHERE b.id = ?"
	lockBoardPostgres = "SELECT b.*, (SELECT m.role FROM board_members AS m WHERE m.board_id = b.id AND m.user_id = ?) AS member_role, txid_current() AS xid " +
		"FROM boards AS b WHERE b.id = ? FOR UPDATE OF b"
)

// commitUnknown handles a change whose commit failed without saying
// whether it happened. It waits until the database has settled the
// transaction, then lets the board's hub read the logged events back from
// the log, so that subscribers get exactly what committed; a board
// deletion is delivered if the board is gone. The board's lock is still
// held, so no later write of this instance commits in between.
func (b *Board) commitUnknown(boardID string, c *change) {
	if len(c.events) == 0 {
		return
	}
	last := c.events[len(c.events)-1]
	b.opts.Logger.Debug("taskboard: commit outcome unknown; checking the database", "board", boardID, "seq", last.Seq)
	ctx, cancel := context.WithTimeout(context.Background(), commitOutcomeTimeout)
	defer cancel()
	if err := b.awaitOutcome(ctx, c.xid); err != nil {
		b.opts.Logger.Warn("taskboard: wait for the outcome of a commit", "board", boardID, "seq", last.Seq, "err", err)
	}
	if !c.notLogged {
		b.feed.recheck(boardID, last.Seq)
		return
	}
	exists, err := b.db.NewSelect().Model((*BoardInfo)(nil)).Where("id = ?", boardID).Exists(ctx)
	if err != nil {
		b.opts.Logger.Warn("taskboard: check a board deletion whose commit failed", "board", boardID, "err", err)
		return
	}
	if !exists {
		b.feed.publish(boardID, c.events)
	}
}

// commitOutcomeTimeout bounds the wait for the database to settle a
// transaction whose commit answer was lost.
const commitOutcomeTimeout = 30 * time.Second

// awaitOutcome waits until PostgreSQL has committed or aborted the
// transaction xid. A COMMIT whose client stopped waiting still runs to its
// end on the server, and its effects are visible only then. On SQLite
// (xid 0) the outcome is settled when Commit returns.
func (b *Board) awaitOutcome(ctx context.Context, xid int64) error {
	if xid == 0 {
		return nil
	}
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		var status sql.NullString
		if err := b.db.NewRaw("SELECT txid_status(?)", xid).Scan(ctx, &status); err != nil {
			return fmt.Errorf("status of transaction %d: %w", xid, err)
		}
		if status.String != "in progress" {
			return nil // committed, aborted, or too old to matter (NULL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("transaction %d still in progress: %w", xid, ctx.Err())
		case <-b.closing:
			return ErrClosed
		case <-time.After(wait):
		}
	}
}

func isMember(ctx context.Context, db bun.IDB, boardID, userID string) (bool, error) {
	if hasNUL(boardID, userID) {
		return false, nil
	}
	return db.NewSelect().Model((*Member)(nil)).Where("board_id = ? AND user_id = ?", boardID, userID).Exists(ctx)
}

type mutationKey struct{}

// WithMutationID returns a context whose writes record id as the mutationId
// of the events they append, so that a client recognises its own change.
func WithMutationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, mutationKey{}, id)
}

// MutationID returns the mutation id set by WithMutationID, or "".
func MutationID(ctx context.Context) string {
	id, _ := ctx.Value(mutationKey{}).(string)
	return id
}
