package taskboard

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// txNotifier is implemented by notifiers that can send a signal inside the
// transaction that makes it true, so that it is delivered exactly when the
// transaction commits and never for one that rolls back. Only a board's
// deletion, whose event cannot be read back from the log, goes this way:
// on PostgreSQL a NOTIFY inside a transaction takes the database's global
// notification lock at commit, which would serialise every write.
type txNotifier interface {
	NotifyTx(ctx context.Context, tx bun.Tx, s feedSignal) error
}

// maxNotifyPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit.
const maxNotifyPayload = 7900

// batchInterval is the shortest time between two batches of signals of
// logged changes that one instance sends.
const batchInterval = 2 * time.Millisecond

// checkInterval is how often an instance compares the seq of every board it
// has subscribers for with the database: the safety net for a signal that
// never came (its sender died between the commit and the batch, or its
// batch failed).
const checkInterval = time.Second

// pgNotifier carries feed signals between instances that share one
// PostgreSQL database, through LISTEN/NOTIFY on a channel named after the
// database schema. Logged changes are announced after their commit, outside
// any write transaction: each instance queues the highest committed seq of
// each board it wrote and a single goroutine sends them in batches, one
// transaction of notifications per few milliseconds, so that writers never
// wait for PostgreSQL's global notification lock. The receivers read the events from the log.
// Ephemeral events travel in the payload, and a board's deletion in its
// transaction. Its listener holds one connection of the pool; when that
// connection drops it reconnects with backoff and tells the feed to catch
// up from the log, so nothing logged is lost meanwhile; and every
// checkInterval it has the feed compare its boards' seqs with the database,
// which catches a signal that was never sent.
type pgNotifier struct {
	db       *bun.DB
	instance string
	logger   *slog.Logger

	// The batch of logged changes to announce: board ID to highest seq.
	batchMu sync.Mutex
	pending map[string]int64
	kick    chan struct{}
	// held, a test hook, drops logged changes' signals, as an instance that
	// dies after its commits would.
	held          atomic.Bool
	checkInterval time.Duration

	mu        sync.Mutex
	channel   string // empty until first read from the database
	connected bool
	lastErr   error

	reconnects atomic.Int64
	lagCount   atomic.Int64
	lagMicros  atomic.Int64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newPGNotifier returns a notifier over db, a PostgreSQL database opened
// with pgx's database/sql driver.
func newPGNotifier(db *bun.DB, logger *slog.Logger) *pgNotifier {
	return &pgNotifier{
		db: db, instance: newID(), logger: logger,
		pending: make(map[string]int64), kick: make(chan struct{}, 1),
		checkInterval: checkInterval,
	}
}

// notifyMessage is the JSON payload of a notification.
type notifyMessage struct {
	Instance string `json:"i"`
	BoardID  string `json:"b"`
	Seq      int64  `json:"s,omitempty"`
	SentAt   int64  `json:"t"` // Unix microseconds
	// An event that is not in the log (ephemeral, or board_deleted).
	Type   string          `json:"y,omitempty"`
	Data   json.RawMessage `json:"d,omitempty"`
	Origin string          `json:"o,omitempty"`
	// Kind "m" is a board's creation or a new member (feedSignal.Member),
	// User the member.
	Kind string `json:"k,omitempty"`
	User string `json:"u,omitempty"`
}

// channelFor names the notification channel of the current schema.
func channelFor(ctx context.Context, db bun.IDB) (string, error) {
	var schema string
	if err := db.NewRaw("SELECT current_schema()").Scan(ctx, &schema); err != nil {
		return "", fmt.Errorf("read current schema: %w", err)
	}
	ch := "taskboard." + schema
	if len(ch) > 63 {
		ch = ch[:63]
	}
	return ch, nil
}

// channelOf returns the notification channel, reading it through db the
// first time.
func (n *pgNotifier) channelOf(ctx context.Context, db bun.IDB) (string, error) {
	n.mu.Lock()
	ch := n.channel
	n.mu.Unlock()
	if ch != "" {
		return ch, nil
	}
	ch, err := channelFor(ctx, db)
	if err != nil {
		return "", err
	}
	n.mu.Lock()
	n.channel = ch
	n.mu.Unlock()
	return ch, nil
}

// Start runs the listener, the sender of batches and the periodic check
// until Close. It waits briefly for the first attempt to listen, so that a
// fresh instance is ready at once; a database that is down does not block
// startup, the listener keeps trying.
func (n *pgNotifier) Start(ctx context.Context, receive func(feedSignal)) error {
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	tried := make(chan struct{})
	n.wg.Add(3)
	go n.listen(ctx, receive, tried)
	go n.sendBatches(ctx)
	go n.check(ctx, receive)
	select {
	case <-tried:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// listen keeps a LISTEN connection open, reconnecting with backoff. It
// closes tried once the first attempt has listened or failed.
func (n *pgNotifier) listen(ctx context.Context, receive func(feedSignal), tried chan struct{}) {
	defer n.wg.Done()
	var once sync.Once
	firstTried := func() { once.Do(func() { close(tried) }) }
	backoff := 100 * time.Millisecond
	for first := true; ; first = false {
		err := n.listenOnce(ctx, receive, func() {
			firstTried()
			backoff = 100 * time.Millisecond
			if !first {
				// Signals sent while we were away are lost: catch up from
				// the log.
				receive(feedSignal{Resync: true})
			}
		})
		n.setConnected(false, err)
		firstTried()
		if ctx.Err() != nil {
			return
		}
		n.reconnects.Add(1)
		n.logger.Warn("taskboard: notification listener disconnected", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff + rand.N(backoff/2)):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (n *pgNotifier) listenOnce(ctx context.Context, receive func(feedSignal), onListen func()) error {
	conn, err := n.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Close()
	ch, err := n.channelOf(ctx, conn)
	if err != nil {
		return err
	}
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres notifier needs pgx's database/sql driver, got %T", driverConn)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, `LISTEN "`+ch+`"`); err != nil {
			return fmt.Errorf("listen: %w: %w", err, driver.ErrBadConn)
		}
		n.setConnected(true, nil)
		onListen()
		for {
			note, err := pc.WaitForNotification(ctx)
			if err != nil {
				if ctx.Err() != nil {
					// Leave the connection clean for the pool.
					uctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_, uerr := pc.Exec(uctx, "UNLISTEN *")
					cancel()
					if uerr != nil {
						return driver.ErrBadConn
					}
					return ctx.Err()
				}
				return fmt.Errorf("wait for notification: %w: %w", err, driver.ErrBadConn)
			}
			var m notifyMessage
			if err := json.Unmarshal([]byte(note.Payload), &m); err != nil {
				n.logger.Warn("taskboard: bad notification payload", "err", err)
				continue
			}
			if m.Instance == n.instance {
				continue
			}
			if m.SentAt > 0 {
				n.lagCount.Add(1)
				n.lagMicros.Add(max(0, time.Now().UnixMicro()-m.SentAt))
			}
			s := feedSignal{BoardID: m.BoardID, Seq: m.Seq, Member: m.Kind == "m", UserID: m.User}
			if m.Type != "" && !s.Member {
				s.Event = &Event{Seq: m.Seq, Type: m.Type, BoardID: m.BoardID, Data: m.Data, origin: m.Origin}
			}
			receive(s)
		}
	})
}

func (n *pgNotifier) setConnected(ok bool, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.connected, n.lastErr = ok, err
}

func (n *pgNotifier) payload(s feedSignal) (string, error) {
	m := notifyMessage{Instance: n.instance, BoardID: s.BoardID, Seq: s.Seq, SentAt: time.Now().UnixMicro()}
	if s.Member {
		m.Kind, m.User = "m", s.UserID
	}
	if s.Event != nil {
		m.Type, m.Data, m.Origin = s.Event.Type, s.Event.Data, s.Event.origin
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	if len(b) > maxNotifyPayload {
		if s.Event != nil && s.Event.Seq == 0 {
			return "", fmt.Errorf("ephemeral %s event of %d bytes exceeds the notification limit", s.Event.Type, len(b))
		}
		m.Type, m.Data, m.Origin = "", nil, ""
		if b, err = json.Marshal(m); err != nil {
			return "", err
		}
	}
	return string(b), nil
}

// Notify sends a signal outside a transaction: an ephemeral event, a
// board's creation or a new member at once; a logged change (its board's
// highest committed seq) in the next batch.
func (n *pgNotifier) Notify(ctx context.Context, s feedSignal) error {
	switch {
	case s.Member:
	case s.Event == nil:
		n.enqueue(s.BoardID, s.Seq)
		return nil
	case s.Event.Seq != 0:
		// A board's deletion was announced by NotifyTx in its transaction.
		return nil
	}
	p, err := n.payload(s)
	if err != nil {
		return err
	}
	ch, err := n.channelOf(ctx, n.db)
	if err != nil {
		return fmt.Errorf("taskboard: notify: %w", wrapDBError(err))
	}
	if _, err := n.db.ExecContext(ctx, "SELECT pg_notify(?, ?)", ch, p); err != nil {
		return fmt.Errorf("taskboard: notify: %w", wrapDBError(err))
	}
	return nil
}

// NotifyTx sends a signal inside a transaction: a board's deletion, whose
// event is not in the log. The board's changes still waiting in the batch
// go first, in the same transaction, so that the deletion does not
// overtake them.
func (n *pgNotifier) NotifyTx(ctx context.Context, tx bun.Tx, s feedSignal) error {
	ch, err := n.channelOf(ctx, tx)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	n.batchMu.Lock()
	seq, ok := n.pending[s.BoardID]
	n.batchMu.Unlock()
	if ok {
		// Left in the batch as well: a duplicate signal costs nothing, and
		// the transaction may yet roll back.
		p, err := n.payload(feedSignal{BoardID: s.BoardID, Seq: seq})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", ch, p); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
	}
	p, err := n.payload(s)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", ch, p); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// enqueue adds a board's committed seq to the next batch.
func (n *pgNotifier) enqueue(boardID string, seq int64) {
	if n.held.Load() {
		return
	}
	n.batchMu.Lock()
	if seq > n.pending[boardID] {
		n.pending[boardID] = seq
	}
	n.batchMu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// sendBatches sends the queued signals of logged changes, at most one batch
// per batchInterval, until ctx ends; then it sends what is left. A batch
// that fails is queued again and retried with backoff; the receivers'
// periodic check covers the signals of an instance that dies meanwhile.
func (n *pgNotifier) sendBatches(ctx context.Context) {
	defer n.wg.Done()
	const minBackoff = 10 * time.Millisecond
	backoff := minBackoff
	wait := time.NewTimer(0)
	<-wait.C
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := n.sendBatch(fctx); err != nil {
				n.logger.Warn("taskboard: notify other instances on close", "err", err)
			}
			cancel()
			return
		case <-n.kick:
		}
		pause := batchInterval
		if err := n.sendBatch(ctx); err != nil {
			if ctx.Err() == nil {
				n.logger.Warn("taskboard: notify other instances", "err", err, "retry_in", backoff)
			}
			pause, backoff = backoff, min(2*backoff, time.Second)
			select {
			case n.kick <- struct{}{}:
			default:
			}
		} else {
			backoff = minBackoff
		}
		wait.Reset(pause)
		select {
		case <-ctx.Done():
		case <-wait.C:
		}
	}
}

// sendBatch sends the queued signals, one notification per board (the
// form every release understands) in one statement and one transaction,
// so that the batch takes PostgreSQL's notification lock once. What it
// could not send is queued again.
func (n *pgNotifier) sendBatch(ctx context.Context) error {
	n.batchMu.Lock()
	batch := n.pending
	if len(batch) == 0 {
		n.batchMu.Unlock()
		return nil
	}
	n.pending = make(map[string]int64, len(batch))
	n.batchMu.Unlock()

	sentAt := time.Now().UnixMicro()
	payloads := make([]string, 0, len(batch))
	for id, seq := range batch {
		p, err := json.Marshal(notifyMessage{Instance: n.instance, BoardID: id, Seq: seq, SentAt: sentAt})
		if err != nil || len(p) > maxNotifyPayload {
			// Cannot be announced; the receivers' periodic check finds it.
			n.logger.Warn("taskboard: cannot notify a board's change", "board", id, "err", err)
			continue
		}
		payloads = append(payloads, string(p))
	}
	ch, err := n.channelOf(ctx, n.db)
	if err == nil && len(payloads) > 0 {
		_, err = n.db.ExecContext(ctx, "SELECT pg_notify(?, p) FROM unnest(?::text[]) AS p", ch, pgdialect.Array(payloads))
	}
	if err != nil {
		n.batchMu.Lock()
		for id, seq := range batch {
			if seq > n.pending[id] {
				n.pending[id] = seq
			}
		}
		n.batchMu.Unlock()
		return wrapDBError(err)
	}
	return nil
}

// check has the feed compare the seqs of the boards it follows with the
// database every checkInterval, until ctx ends.
func (n *pgNotifier) check(ctx context.Context, receive func(feedSignal)) {
	defer n.wg.Done()
	t := time.NewTicker(n.checkInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			receive(feedSignal{Resync: true, Check: true})
		}
	}
}

// ready returns nil while the listener is connected, else an error that
// matches ErrListenerDown.
func (n *pgNotifier) ready() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.connected {
		return nil
	}
	if n.lastErr != nil {
		return fmt.Errorf("%w: %w", ErrListenerDown, n.lastErr)
	}
	return fmt.Errorf("%w: not connected yet", ErrListenerDown)
}

// addStats adds the listener's counters to s.
func (n *pgNotifier) addStats(s *Stats) {
	s.ListenerReconnects = n.reconnects.Load()
	s.NotificationsReceived = n.lagCount.Load()
	s.NotificationLag = time.Duration(n.lagMicros.Load()) * time.Microsecond
}

// Close stops the listener, returning its connection to the pool, sends
// the signals still queued and stops the periodic check.
func (n *pgNotifier) Close() error {
	if n.cancel != nil {
		n.cancel()
		n.wg.Wait()
	}
	return nil
}
