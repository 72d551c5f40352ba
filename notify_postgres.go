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
)

// txNotifier is implemented by notifiers that can send a signal inside the
// transaction that makes it true, so that it is delivered exactly when the
// transaction commits and never for one that rolls back.
type txNotifier interface {
	NotifyTx(ctx context.Context, tx bun.Tx, s feedSignal) error
}

// maxNotifyPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit.
const maxNotifyPayload = 7900

// pgNotifier carries feed signals between instances that share one
// PostgreSQL database, through LISTEN/NOTIFY on a channel named after the
// database schema. A logged change notifies only its board and seq (the
// receivers read the events from the log); ephemeral events travel in the
// payload. Its listener holds one connection of the pool; when that
// connection drops it reconnects with backoff and tells the feed to catch up
// from the log, so nothing logged is lost meanwhile.
type pgNotifier struct {
	db       *bun.DB
	instance string
	logger   *slog.Logger

	mu        sync.Mutex
	channel   string // empty until first read from the database
	connected bool
	lastErr   error

	reconnects atomic.Int64
	lagCount   atomic.Int64
	lagMicros  atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

// newPGNotifier returns a notifier over db, a PostgreSQL database opened
// with pgx's database/sql driver.
func newPGNotifier(db *bun.DB, logger *slog.Logger) *pgNotifier {
	return &pgNotifier{db: db, instance: newID(), logger: logger}
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

// Start runs the listener until Close. It waits briefly for the first
// attempt to listen, so that a fresh instance is ready at once; a database
// that is down does not block startup, the listener keeps trying.
func (n *pgNotifier) Start(ctx context.Context, receive func(feedSignal)) error {
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.done = make(chan struct{})
	tried := make(chan struct{})
	go n.listen(ctx, receive, tried)
	select {
	case <-tried:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// listen keeps a LISTEN connection open, reconnecting with backoff. It
// closes tried once the first attempt has listened or failed.
func (n *pgNotifier) listen(ctx context.Context, receive func(feedSignal), tried chan struct{}) {
	defer close(n.done)
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
			s := feedSignal{BoardID: m.BoardID, Seq: m.Seq}
			if m.Type != "" {
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

// Notify sends a signal outside a transaction (ephemeral events).
func (n *pgNotifier) Notify(ctx context.Context, s feedSignal) error {
	if s.Event == nil || s.Event.Seq != 0 {
		// Logged changes were announced by NotifyTx in their transaction.
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

// NotifyTx sends a logged change's signal inside its transaction.
func (n *pgNotifier) NotifyTx(ctx context.Context, tx bun.Tx, s feedSignal) error {
	p, err := n.payload(s)
	if err != nil {
		return err
	}
	ch, err := n.channelOf(ctx, tx)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", ch, p); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
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

// Close stops the listener and returns its connection to the pool.
func (n *pgNotifier) Close() error {
	if n.cancel != nil {
		n.cancel()
		<-n.done
	}
	return nil
}
