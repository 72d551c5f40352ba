package taskboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

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

	// Webhooks makes the Board deliver the boards' webhooks (see
	// CreateWebhook): each one by a single instance of those sharing the
	// database, which holds a lease on it. Off, the Board manages webhooks
	// but never delivers them: programs that open the store for a moment,
	// such as the command line's subcommands, leave it off.
	Webhooks bool
	// WebhookAllowPrivate lets webhooks reach loopback, private,
	// link-local and the other addresses they may not reach otherwise
	// (webhook.CheckAddr), for receivers on the same machine or network.
	WebhookAllowPrivate bool
	// WebhookDisableAfter is how long a webhook may fail without a single
	// acknowledged delivery before it turns disabled. Zero means 24 hours.
	WebhookDisableAfter time.Duration
	// WebhookTimeout is how long one delivery may take. Zero means 10
	// seconds. The lease on a webhook is one and a half times as long,
	// plus a second: the time another instance waits before it takes over
	// from one that died.
	WebhookTimeout time.Duration
	// WebhookRetryMin is the first wait before a failed delivery is tried
	// again; the waits double up to 10 minutes. Zero means one second.
	WebhookRetryMin time.Duration
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
	if opts.WebhookDisableAfter <= 0 {
		opts.WebhookDisableAfter = 24 * time.Hour
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 10 * time.Second
	}
	if opts.WebhookRetryMin <= 0 {
		opts.WebhookRetryMin = time.Second
	}
	return opts
}

// Board is the task board store: users, boards, members, lists, tasks and
// every board's event feed, over one bun database, with the CRUD methods of
// them all. One Board serves every board of the database; a single
// board's row is a BoardInfo. It is safe for concurrent use by many
// goroutines.
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
	// orders is the order index of the boards written to (order.go).
	orders orderCache
	// rowBoards remembers the board of tasks and lists (lists.go).
	rowBoards rowBoards
	// stmts holds the write path's prepared statements (prepared.go).
	stmts *stmtCache
	// commits runs the writes of a SQLite Board (groupcommit.go).
	commits *groupCommitter

	feed *feed
	// notifier carries the feed's signals to the other instances sharing
	// the database: LISTEN/NOTIFY on PostgreSQL; nobody on SQLite.
	notifier notifier
	// hooks delivers webhooks; nil unless Options.Webhooks.
	hooks *hookRunner

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
	db, err := openDB(dsn, opts != nil && opts.SQLiteSyncFull)
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
	b.stmts = newStmtCache(db, !b.sqlite, o.QueryObserver)
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
	if o.Webhooks {
		// Before the notifier starts: its signals wake the deliverer.
		b.hooks = newHookRunner(b)
	}
	b.feed = newFeed(b, b.notifier)
	if err := b.notifier.Start(context.Background(), b.feed.receive); err != nil {
		b.hooks.close()
		return nil, fmt.Errorf("taskboard: start notifier: %w", err)
	}
	if b.sqlite {
		b.commits = newGroupCommitter(b)
		b.wg.Add(1)
		go b.commits.loop()
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
// when the Board was made by Open, closes the database. Webhook deliveries
// under way get up to 2 seconds to finish; the webhooks this Board
// delivered are then free for another instance at once.
func (b *Board) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.closing)
		// Deliveries end first, writing where they got to.
		b.hooks.close()
		// Stop hearing other instances first, so nothing new reaches the
		// feed while it shuts down.
		err = b.notifier.Close()
		b.feed.close()
		b.wg.Wait()
		err = errors.Join(err, b.stmts.close())
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

// newID returns a random identifier (a UUID, as the course uses).
func newID() string { return uuid.NewString() }

// now is the store's clock: UTC, at microsecond precision so that both
// databases return what was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
