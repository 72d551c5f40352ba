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
		rec := &eventRecord{BoardID: c.board.ID, Seq: ev.Seq, Type: ev.Type, At: c.at, MutationID: c.mutID, Data: string(ev.Data)}
		if _, err := c.tx.NewInsert().Model(rec).Exec(ctx); err != nil {
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
	if tg.boardID == "" && !b.sqlite {
		// The lock of the board must be taken before the transaction.
		id, err := b.boardOf(ctx, tg.table, tg.rowID, tg.rowEntity)
		if err != nil {
			return err
		}
		tg.boardID = id
	}
	// On SQLite every writer takes the same lock, so the board can be
	// resolved inside the transaction.
	mu := b.boardLock(tg.boardID)
	mu.Lock()
	defer mu.Unlock()

	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return wrapDBError(err)
	}
	defer tx.Rollback()
	if tg.boardID == "" && tg.resolve != nil {
		if tg.boardID, err = tg.resolve(ctx, tx); err != nil {
			return wrapDBError(err)
		}
	}
	if tg.boardID == "" {
		err := tx.NewSelect().Table(tg.table).Column("board_id").Where("id = ?", tg.rowID).Scan(ctx, &tg.boardID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(tg.rowEntity)
		}
		if err != nil {
			return wrapDBError(err)
		}
	}
	boardID := tg.boardID
	c := &change{tx: tx, actor: actor, at: now()}
	if id := MutationID(ctx); id != "" {
		c.mutID = &id
	}
	var locked struct {
		BoardInfo  `bun:",extend"`
		MemberRole *Role `bun:"member_role,scanonly"`
		XID        int64 `bun:"xid,scanonly"`
	}
	q := tx.NewSelect().Model(&locked).
		ColumnExpr("board_info.*").
		ColumnExpr("(SELECT m.role FROM board_members AS m WHERE m.board_id = board_info.id AND m.user_id = ?) AS member_role", actor.UserID).
		Where("board_info.id = ?", boardID)
	if !b.sqlite {
		// The row lock gives the transaction an ID anyway; reading it
		// costs nothing more.
		q = q.ColumnExpr("txid_current() AS xid").For("UPDATE OF board_info")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(entity)
		}
		return wrapDBError(fmt.Errorf("lock board: %w", err))
	}
	if !tg.operator {
		if locked.MemberRole == nil {
			return notFound(entity)
		}
		c.role = *locked.MemberRole
		if err := c.role.allows(cmp.Or(tg.need, RoleEditor), actor.UserID, boardID); err != nil {
			return err
		}
	}
	c.board, c.xid = locked.BoardInfo, locked.XID
	startSeq := c.board.Seq
	c.startSeq, c.orders = startSeq, &b.orders
	committed := false
	defer func() {
		if c.ord != nil {
			b.orders.done(boardID, c.ord, committed && !c.notLogged, c.board.Seq)
		}
	}()
	if err := fn(c); err != nil {
		return wrapDBError(err)
	}
	if c.board.Seq != startSeq && !c.notLogged {
		if _, err := tx.NewUpdate().Model((*BoardInfo)(nil)).Set("seq = ?", c.board.Seq).Where("id = ?", boardID).Exec(ctx); err != nil {
			return wrapDBError(fmt.Errorf("advance seq: %w", err))
		}
	}
	// A board's deletion, whose event is not in the log, tells the other
	// instances inside its transaction; logged changes are announced after
	// the commit (publish), the receivers reading the log.
	if tn, ok := b.notifier.(txNotifier); ok && c.notLogged && len(c.events) > 0 {
		last := c.events[len(c.events)-1]
		sig := feedSignal{BoardID: boardID, Seq: last.Seq, Event: &last}
		if err := tn.NotifyTx(ctx, tx, sig); err != nil {
			return wrapDBError(err)
		}
	}
	if err := runTxHook(ctx, tx); err != nil {
		return wrapDBError(err)
	}
	if err := tx.Commit(); err != nil {
		// The commit may have happened all the same: a context that ends
		// while COMMIT is on its way cancels the wait for its answer, not
		// the commit. Deliver the events if they are in the database.
		b.commitUnknown(boardID, c)
		return wrapDBError(fmt.Errorf("commit: %w", err))
	}
	committed = true
	if len(c.events) > 0 {
		b.feed.publish(boardID, c.events)
	}
	return nil
}

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
