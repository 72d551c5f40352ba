package taskboard

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
)

// TxNotifier is implemented by notifiers that can send a signal inside the
// transaction that makes it true, so that it is delivered exactly when the
// transaction commits and never for one that rolls back.
type TxNotifier interface {
	NotifyTx(ctx context.Context, tx bun.Tx, s Signal) error
}

// maxNotifyPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit.
const maxNotifyPayload = 7900

// PostgresNotifier carries feed signals between instances that share one
// PostgreSQL database, through LISTEN/NOTIFY on a channel named after the
// database schema. A logged change notifies only its board and seq (the
// receivers read the events from the log); ephemeral events travel in the
// payload. Its listener holds one connection of the pool; when that
// connection drops it reconnects with backoff and tells the feed to catch up
// from the log, so nothing logged is lost meanwhile.
type PostgresNotifier struct {
	db       *bun.DB
	instance string
	logger   *slog.Logger

	mu        sync.Mutex
	channel   string
	connected bool
	lastErr   error

	reconnects atomic.Int64
	lagCount   atomic.Int64
	lagMicros  atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

// NewPostgresNotifier returns a notifier over db, a PostgreSQL database
// opened with pgx's database/sql driver. logger may be nil.
func NewPostgresNotifier(db *bun.DB, logger *slog.Logger) *PostgresNotifier {
	if logger == nil {
		logger = (&Options{}).withDefaults().Logger
	}
	return &PostgresNotifier{db: db, instance: newID(), logger: logger}
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

// Start runs the listener until Close.
func (n *PostgresNotifier) Start(ctx context.Context, receive func(Signal)) error {
	ch, err := channelFor(ctx, n.db)
	if err != nil {
		return fmt.Errorf("taskboard: postgres notifier: %w", wrapDBError(err))
	}
	n.mu.Lock()
	n.channel = ch
	n.mu.Unlock()
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.done = make(chan struct{})
	ready := make(chan struct{})
	go n.listen(ctx, receive, ready)
	// Wait briefly for the first connection, so that a fresh instance is
	// ready at once; a database that is down does not block startup.
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// listen keeps a LISTEN connection open, reconnecting with backoff.
func (n *PostgresNotifier) listen(ctx context.Context, receive func(Signal), ready chan struct{}) {
	defer close(n.done)
	var once sync.Once
	backoff := 100 * time.Millisecond
	for first := true; ; first = false {
		err := n.listenOnce(ctx, receive, func() {
			once.Do(func() { close(ready) })
			backoff = 100 * time.Millisecond
			if !first {
				// Signals sent while we were away are lost: catch up from
				// the log.
				receive(Signal{Resync: true})
			}
		})
		n.setConnected(false, err)
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

func (n *PostgresNotifier) listenOnce(ctx context.Context, receive func(Signal), onListen func()) error {
	conn, err := n.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres notifier needs pgx's database/sql driver, got %T", driverConn)
		}
		pc := sc.Conn()
		n.mu.Lock()
		ch := n.channel
		n.mu.Unlock()
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
			s := Signal{BoardID: m.BoardID, Seq: m.Seq}
			if m.Type != "" {
				s.Event = &Event{Seq: m.Seq, Type: m.Type, BoardID: m.BoardID, Data: m.Data, origin: m.Origin}
			}
			receive(s)
		}
	})
}

func (n *PostgresNotifier) setConnected(ok bool, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.connected, n.lastErr = ok, err
}

func (n *PostgresNotifier) payload(s Signal) (string, error) {
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
func (n *PostgresNotifier) Notify(ctx context.Context, s Signal) error {
	if s.Event == nil || s.Event.Seq != 0 {
		// Logged changes were announced by NotifyTx in their transaction.
		return nil
	}
	p, err := n.payload(s)
	if err != nil {
		return err
	}
	n.mu.Lock()
	ch := n.channel
	n.mu.Unlock()
	if _, err := n.db.ExecContext(ctx, "SELECT pg_notify(?, ?)", ch, p); err != nil {
		return fmt.Errorf("taskboard: notify: %w", wrapDBError(err))
	}
	return nil
}

// NotifyTx sends a logged change's signal inside its transaction.
func (n *PostgresNotifier) NotifyTx(ctx context.Context, tx bun.Tx, s Signal) error {
	p, err := n.payload(s)
	if err != nil {
		return err
	}
	n.mu.Lock()
	ch := n.channel
	n.mu.Unlock()
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", ch, p); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// Ready returns nil while the listener is connected.
func (n *PostgresNotifier) Ready(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.connected {
		return nil
	}
	if n.lastErr != nil {
		return fmt.Errorf("taskboard: notification listener down: %w", n.lastErr)
	}
	return errors.New("taskboard: notification listener not connected")
}

// NotifierStats are counters of a PostgresNotifier.
type NotifierStats struct {
	Reconnects    int64         // times the listener connection was re-established
	Notifications int64         // notifications received from other instances
	TotalLag      time.Duration // summed delay from NOTIFY to receipt
}

// Stats returns the notifier's counters.
func (n *PostgresNotifier) Stats() NotifierStats {
	return NotifierStats{
		Reconnects:    n.reconnects.Load(),
		Notifications: n.lagCount.Load(),
		TotalLag:      time.Duration(n.lagMicros.Load()) * time.Microsecond,
	}
}

// Close stops the listener and returns its connection to the pool.
func (n *PostgresNotifier) Close() error {
	if n.cancel != nil {
		n.cancel()
		<-n.done
	}
	return nil
}
