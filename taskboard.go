package taskboard

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options configures a Board. A nil *Options means all defaults; every zero
// field means the default its comment gives.
type Options struct {
	// Logger receives the package's diagnostics. Nil logs nothing.
	Logger *slog.Logger
	// SQLiteSyncFull makes Open use synchronous=FULL instead of NORMAL:
	// slower writes that also survive a power cut.
	SQLiteSyncFull bool
	// SubscriberBuffer is how many undelivered events a subscription holds
	// before it ends with ErrSlowConsumer. Zero means 1024.
	SubscriberBuffer int
	// HistoryEvents is how many of its newest events each board's log keeps
	// at least. Zero means 10,000.
	HistoryEvents int64
	// HistoryAge is how long each event is kept at least. Zero means 30 days.
	HistoryAge time.Duration
	// MaintenanceInterval is how often retention runs in the background.
	// Zero means one hour; negative means never (call Maintain).
	MaintenanceInterval time.Duration
	// SkipMigrations leaves the schema alone in New; call Migrate yourself.
	SkipMigrations bool
	// QueryObserver, when set, is called after every query the Board
	// sends to the database, with the statement's kind in upper case
	// (SELECT, INSERT, UPDATE, DELETE, BEGIN, COMMIT, ROLLBACK, or the
	// first word of other SQL), how long it took, and its error: nil on
	// success, sql.ErrNoRows for a single-row read that found none. A
	// rollback of a transaction that already ended never reaches the
	// database and is not reported. QueryObserver is called from the
	// goroutine that ran the query, by many goroutines at once, and must
	// return quickly. Nil means queries are not observed.
	// httpapi.Metrics.ObserveQuery turns them into the HTTP API's metrics.
	QueryObserver func(operation string, d time.Duration, err error)
}

func (o *Options) withDefaults() Options {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.SubscriberBuffer <= 0 {
		opts.SubscriberBuffer = 1024
	}
	if opts.HistoryEvents <= 0 {
		opts.HistoryEvents = 10000
	}
	if opts.HistoryAge <= 0 {
		opts.HistoryAge = 30 * 24 * time.Hour
	}
	if opts.MaintenanceInterval == 0 {
		opts.MaintenanceInterval = time.Hour
	}
	return opts
}

// Board is the task board store: users, boards, members, lists, tasks and
// every board's event feed, over one bun database. It is safe for
// concurrent use by many goroutines.
type Board struct {
	db     *bun.DB
	opts   Options
	sqlite bool
	owned  bool // Close closes db

	// writeMu serialises SQLite writers in this process, so that they queue
	// in Go instead of spinning on the database lock.
	writeMu sync.Mutex
	// boardMu serialises the writers of a board in this process, so that its
	// events are published in seq order. The row lock on the board orders
	// writers of different processes.
	boardMu [64]sync.Mutex

	feed *feed
	// notifier carries the feed's signals to the other instances sharing
	// the database: LISTEN/NOTIFY on PostgreSQL; nobody on SQLite.
	notifier notifier

	closeOnce sync.Once
	closing   chan struct{}
	wg        sync.WaitGroup
}

// Open opens the database named by dsn and returns a Board over it, with
// the schema migrated. dsn is a PostgreSQL URL (postgres:// or
// postgresql://) or a SQLite file path, optionally as file:PATH?params.
// SQLite runs in WAL mode with foreign keys on, a busy timeout, immediate
// write transactions and synchronous=NORMAL (FULL with
// Options.SQLiteSyncFull). Close closes the database.
func Open(ctx context.Context, dsn string, opts *Options) (*Board, error) {
	db, err := OpenDB(dsn, opts != nil && opts.SQLiteSyncFull)
	if err != nil {
		return nil, err
	}
	b, err := New(ctx, db, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	b.owned = true
	return b, nil
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OpenDB opens dsn as Open does and returns the *bun.DB, without migrating.
func OpenDB(dsn string, sqliteSyncFull bool) (*bun.DB, error) {
	if dsn == "" {
		return nil, fmt.Errorf("taskboard: open: empty DSN")
	}
	if IsPostgres(dsn) {
		sqldb, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("taskboard: open postgres: %w", err)
		}
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(20)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		return bun.NewDB(sqldb, pgdialect.New()), nil
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, sqliteDSN(dsn, sqliteSyncFull))
	if err != nil {
		return nil, fmt.Errorf("taskboard: open sqlite %s: %w", dsn, err)
	}
	// Readers run in parallel under WAL; writers are serialised anyway.
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	sqldb.SetConnMaxIdleTime(0)
	sqldb.SetConnMaxLifetime(0)
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

var _ = stdlib.GetDefaultDriver // registers the "pgx" database/sql driver

// sqliteDSN adds the pragmas the store relies on to a SQLite path.
func sqliteDSN(dsn string, syncFull bool) string {
	path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if !strings.HasPrefix(dsn, "file:") {
		// A plain path becomes a file: URI, where % and # are syntax.
		path = strings.NewReplacer("%", "%25", "#", "%23").Replace(path)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		q = url.Values{}
	}
	sync := "NORMAL"
	if syncFull {
		sync = "FULL"
	}
	if sqliteshim.DriverName() == "sqlite3" {
		// mattn/go-sqlite3 (the cgosqlite build tag) names its pragmas so.
		q.Set("_journal_mode", "WAL")
		q.Set("_busy_timeout", "10000")
		q.Set("_foreign_keys", "1")
		q.Set("_synchronous", sync)
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous("+sync+")")
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// New returns a Board over an existing database, migrating its schema
// unless Options.SkipMigrations is set. A SQLite database must have foreign
// keys enabled on every connection (Open does this). Close does not close
// db.
//
// On PostgreSQL the Board listens for the changes other instances sharing
// the database make (LISTEN/NOTIFY on a connection of db's pool), so that
// their subscribers see every instance's writes; a database that cannot be
// reached yet does not fail New, the listener keeps trying (see Ready). A
// SQLite database is served by one process: its changes stay in it.
func New(ctx context.Context, db *bun.DB, opts *Options) (*Board, error) {
	o := opts.withDefaults()
	if o.QueryObserver != nil {
		db = db.WithQueryHook(queryObserver{o.QueryObserver})
	}
	b := &Board{
		db:      db,
		opts:    o,
		sqlite:  db.Dialect().Name() == dialect.SQLite,
		closing: make(chan struct{}),
	}
	if !o.SkipMigrations {
		if err := b.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	if b.sqlite {
		b.notifier = localNotifier{}
	} else {
		// Instances sharing a PostgreSQL database fan out through it.
		b.notifier = newPGNotifier(b.db, o.Logger)
	}
	b.feed = newFeed(b, b.notifier)
	if err := b.notifier.Start(context.Background(), b.feed.receive); err != nil {
		return nil, fmt.Errorf("taskboard: start notifier: %w", err)
	}
	if o.MaintenanceInterval > 0 {
		b.wg.Add(1)
		go b.maintainLoop(o.MaintenanceInterval)
	}
	return b, nil
}

// Options returns the options the Board runs with, defaults filled in.
func (b *Board) Options() Options { return b.opts }

// Close ends every subscription with ErrClosed, stops background work and,
// when the Board was made by Open, closes the database.
func (b *Board) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.closing)
		// Stop hearing other instances first, so nothing new reaches the
		// feed while it shuts down.
		err = b.notifier.Close()
		b.feed.close()
		b.wg.Wait()
		if b.owned {
			err = errors.Join(err, b.db.Close())
		}
	})
	return err
}

// Ready reports whether the Board can serve: it returns nil when the
// database answers and, on PostgreSQL, the listener through which the
// Board hears other instances' changes is connected. A database that does
// not answer is ErrUnavailable; a listener that is down, ErrListenerDown
// (it reconnects by itself and then catches up from the log).
func (b *Board) Ready(ctx context.Context) error {
	if err := b.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if pn, ok := b.notifier.(*pgNotifier); ok {
		return pn.ready()
	}
	return nil
}

// Migrate brings the schema up to date. On PostgreSQL it holds an advisory
// lock while it runs, so instances that start together never race.
func (b *Board) Migrate(ctx context.Context) error {
	migrations := migrate.NewMigrations()
	if err := migrations.Discover(migrationFiles); err != nil {
		return fmt.Errorf("taskboard: load migrations: %w", err)
	}
	migrator := migrate.NewMigrator(b.db, migrations, migrate.WithMarkAppliedOnSuccess(true))
	run := func() error {
		if err := migrator.Init(ctx); err != nil {
			return fmt.Errorf("taskboard: init migrations: %w", err)
		}
		if _, err := migrator.Migrate(ctx); err != nil {
			return fmt.Errorf("taskboard: migrate: %w", err)
		}
		return nil
	}
	if b.sqlite {
		b.writeMu.Lock()
		defer b.writeMu.Unlock()
		// Another process may be migrating the same file: its transaction
		// makes ours fail, and a retry then finds the migration applied.
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := run()
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("taskboard: migrate: %w", wrapDBError(err))
	}
	defer conn.Close()
	// The lock is per database; the schema name keeps schemas apart.
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("taskboard: migrate: %w", wrapDBError(err))
	}
	key := int64(lockKey("taskboard-migrate:" + schema))
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", key); err != nil {
		return fmt.Errorf("taskboard: migrate: lock: %w", wrapDBError(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", key)
	return run()
}

func lockKey(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// newID returns a random identifier (a UUID, as the course uses).
func newID() string { return uuid.NewString() }

// now is the store's clock: UTC, at microsecond precision so that both
// databases return what was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// wrapDBError turns connection failures into ErrUnavailable.
func wrapDBError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if isConnError(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

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
	mutID  *string
	at     time.Time
	events []Event
	// notLogged marks a change whose events must not be stored (the board
	// is being deleted and its log goes with it).
	notLogged bool
	// xid is the PostgreSQL transaction's ID (zero on SQLite), by which a
	// commit whose answer was lost is looked up.
	xid int64
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
		BoardInfo `bun:",extend"`
		IsMember  bool  `bun:"is_member,scanonly"`
		XID       int64 `bun:"xid,scanonly"`
	}
	q := tx.NewSelect().Model(&locked).
		ColumnExpr("board_info.*").
		ColumnExpr("EXISTS (SELECT 1 FROM board_members AS m WHERE m.board_id = board_info.id AND m.user_id = ?) AS is_member", actor.UserID).
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
	if !locked.IsMember {
		return notFound(entity)
	}
	c.board, c.xid = locked.BoardInfo, locked.XID
	startSeq := c.board.Seq
	if err := fn(c); err != nil {
		return wrapDBError(err)
	}
	if c.board.Seq != startSeq && !c.notLogged {
		if _, err := tx.NewUpdate().Model((*BoardInfo)(nil)).Set("seq = ?", c.board.Seq).Where("id = ?", boardID).Exec(ctx); err != nil {
			return wrapDBError(fmt.Errorf("advance seq: %w", err))
		}
	}
	if tn, ok := b.notifier.(txNotifier); ok && len(c.events) > 0 {
		last := c.events[len(c.events)-1]
		sig := feedSignal{BoardID: boardID, Seq: last.Seq}
		if c.notLogged {
			sig.Event = &last
		}
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

func (b *Board) maintainLoop(every time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.closing:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if err := b.Maintain(ctx); err != nil {
				b.opts.Logger.Warn("taskboard: maintenance failed", "err", err)
			}
			cancel()
		}
	}
}
