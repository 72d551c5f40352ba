package taskboard

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/uptrace/bun"
)

// timeoutError is a net.Error that timed out, outside a *net.OpError.
type timeoutError struct{}

func (timeoutError) Error() string   { return "timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestWrapDBErrorClassifies checks which driver errors become
// ErrUnavailable: by their types and codes, wrapped or not, and never by
// their message.
func TestWrapDBErrorClassifies(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	pgErr := func(severity, code string) error {
		return &pgconn.PgError{Severity: severity, SeverityUnlocalized: severity, Code: code, Message: "m"}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"closed *sql.DB", errDBClosed, true},
		{"connection returned to the pool", sql.ErrConnDone, true},
		{"bad connection", driver.ErrBadConn, true},
		{"pgx connection closed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"unexpected EOF", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"connection refused", refused, true},
		{"connection refused, bare", syscall.ECONNREFUSED, true},
		{"connection reset", os.NewSyscallError("read", syscall.ECONNRESET), true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"no such host", &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, true},
		{"i/o timeout", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), true},
		{"network timeout", timeoutError{}, true},
		{"08006 connection_failure", pgErr("ERROR", "08006"), true},
		{"08P01 protocol_violation", pgErr("ERROR", "08P01"), true},
		{"57P01 admin_shutdown", pgErr("FATAL", "57P01"), true},
		{"57P02 crash_shutdown", pgErr("FATAL", "57P02"), true},
		{"57P03 cannot_connect_now", pgErr("FATAL", "57P03"), true},
		{"57P05 idle_session_timeout", pgErr("FATAL", "57P05"), true},
		{"25P03 idle_in_transaction_session_timeout", pgErr("FATAL", "25P03"), true},
		{"a FATAL error in another language", &pgconn.PgError{Severity: "FATAL-LOCALISED", SeverityUnlocalized: "FATAL", Code: "XX000"}, true},
		{"wrapped twice", fmt.Errorf("lock board: %w", fmt.Errorf("select: %w", pgErr("FATAL", "57P01"))), true},

		{"23505 unique_violation", pgErr("ERROR", "23505"), false},
		{"23503 foreign_key_violation", pgErr("ERROR", "23503"), false},
		{"40001 serialization_failure", pgErr("ERROR", "40001"), false},
		{"40P01 deadlock_detected", pgErr("ERROR", "40P01"), false},
		{"57014 query_canceled", pgErr("ERROR", "57014"), false},
		{"42P01 undefined_table", pgErr("ERROR", "42P01"), false},
		{"no rows", sql.ErrNoRows, false},
		{"a message alone", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), false},
		{"a PostgreSQL message alone", errors.New("FATAL: terminating connection due to administrator command (SQLSTATE 57P01)"), false},
		{"context canceled", fmt.Errorf("query: %w", context.Canceled), false},
		{"context deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"context canceled during a refused dial", errors.Join(context.Canceled, refused), false},
	}
	for _, c := range cases {
		err := wrapDBError(c.err)
		if got := errors.Is(err, ErrUnavailable); got != c.want {
			t.Errorf("%s: wrapDBError(%v) matches ErrUnavailable: %v, want %v", c.name, c.err, got, c.want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: wrapDBError(%v) = %v, which lost the cause", c.name, c.err, err)
		}
	}
	if wrapDBError(nil) != nil {
		t.Errorf("wrapDBError(nil) != nil")
	}
}

// TestDriverErrors checks the classification on the errors the drivers
// really return: statement errors stay what they are, a closed database is
// ErrUnavailable.
func TestDriverErrors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		b, err := Open(ctx, dsn, &Options{MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		for _, q := range []string{"CREATE TABLE probe (id INTEGER PRIMARY KEY)", "INSERT INTO probe (id) VALUES (1)"} {
			if _, err := b.db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for _, q := range []string{
			"INSERT INTO probe (id) VALUES (1)", // unique violation
			"SELECT * FROM no_such_table",
			"SELECT syntax error",
		} {
			_, err := b.db.ExecContext(ctx, q)
			if err == nil {
				t.Fatalf("%s: no error", q)
			}
			if werr := wrapDBError(err); errors.Is(werr, ErrUnavailable) {
				t.Errorf("%s: %v matches ErrUnavailable", q, werr)
			}
		}
		if err := b.db.Close(); err != nil {
			t.Fatal(err)
		}
		var n int
		err = b.db.NewSelect().ColumnExpr("1").Scan(ctx, &n)
		if werr := wrapDBError(err); !errors.Is(werr, ErrUnavailable) {
			t.Errorf("query on a closed database: %v does not match ErrUnavailable", werr)
		}
		if err := b.Ready(ctx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Ready on a closed database: got %v, want ErrUnavailable", err)
		}
	})
}

// TestPostgresUnreachable checks a server that is not there: the
// connection attempt is ErrUnavailable, New still returns a Board, and
// Ready reports the database down.
func TestPostgresUnreachable(t *testing.T) {
	db := dbtest.UnreachablePostgres(t)
	ctx := context.Background()
	var n int
	err := db.NewSelect().ColumnExpr("1").Scan(ctx, &n)
	var connectErr *pgconn.ConnectError
	if !errors.As(err, &connectErr) || !errors.Is(wrapDBError(err), ErrUnavailable) {
		t.Errorf("query on a closed port: got %v, want a *pgconn.ConnectError that matches ErrUnavailable", err)
	}
	b, err := New(ctx, db, &Options{SkipMigrations: true, MaintenanceInterval: -1})
	if err != nil {
		t.Fatalf("New over an unreachable database: %v", err)
	}
	defer b.Close()
	if err := b.Ready(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ready: got %v, want ErrUnavailable", err)
	}
}

// TestPostgresTerminatedConnection checks that a connection the server
// terminates (57P01) is ErrUnavailable.
func TestPostgresTerminatedConnection(t *testing.T) {
	dsn := dbtest.Postgres(t)
	ctx := context.Background()
	b, err := Open(ctx, dsn, &Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conn, err := b.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var done bool
	if err := b.db.QueryRowContext(ctx, "SELECT pg_terminate_backend(?, 10000)", pid).Scan(&done); err != nil || !done {
		t.Fatalf("terminate backend %d: %v, %v", pid, done, err)
	}
	_, err = conn.ExecContext(ctx, "SELECT 1")
	if err == nil {
		t.Fatal("query on a terminated connection: no error")
	}
	if !errors.Is(wrapDBError(err), ErrUnavailable) {
		t.Errorf("query on a terminated connection: %v does not match ErrUnavailable", err)
	}
	t.Logf("query on a terminated connection: %v", err)
}

// TestReady checks Ready on a fresh store and, on PostgreSQL, with the
// listener down; and that the listener's counters are zero on SQLite.
func TestReady(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		b, err := Open(ctx, dsn, &Options{MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.Ready(ctx); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		pn, ok := b.notifier.(*pgNotifier)
		if b.sqlite {
			if ok {
				t.Errorf("a SQLite store listens on PostgreSQL")
			}
			if s := b.Stats(); s.ListenerReconnects != 0 || s.NotificationsReceived != 0 || s.NotificationLag != 0 {
				t.Errorf("listener counters on SQLite: %+v, want zero", s)
			}
			return
		}
		if !ok {
			t.Fatalf("notifier on PostgreSQL: %T, want *pgNotifier", b.notifier)
		}
		cause := errors.New("connection lost")
		pn.setConnected(false, cause)
		err = b.Ready(ctx)
		if !errors.Is(err, ErrListenerDown) || !errors.Is(err, cause) || errors.Is(err, ErrUnavailable) {
			t.Errorf("Ready with the listener down: got %v, want ErrListenerDown with its cause", err)
		}
	})
}

// TestQueryObserver checks that every query of the store reaches
// Options.QueryObserver with its operation and error.
func TestQueryObserver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		type query struct {
			op  string
			err error
		}
		var mu sync.Mutex
		var seen []query
		observe := func(op string, d time.Duration, err error) {
			if d < 0 {
				t.Errorf("%s took %v", op, d)
			}
			mu.Lock()
			seen = append(seen, query{op, err})
			mu.Unlock()
		}
		ctx := context.Background()
		b, err := Open(ctx, dsn, &Options{MaintenanceInterval: -1, QueryObserver: observe})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		mu.Lock()
		if len(seen) == 0 {
			t.Errorf("migrating observed no query")
		}
		seen = nil
		mu.Unlock()

		var n int
		if err := b.db.NewSelect().ColumnExpr("1").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		err = b.plainTx(ctx, func(tx bun.Tx) error {
			_, err := tx.NewUpdate().Model((*User)(nil)).Set("name = ?", "x").Where("id = ?", "nobody").Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var u User
		noRows := b.db.NewSelect().Model(&u).Where("id = ?", "nobody").Scan(ctx)
		if !errors.Is(noRows, sql.ErrNoRows) {
			t.Fatalf("select of a missing user: %v", noRows)
		}
		_, badErr := b.db.NewRaw("select * from no_such_table").Exec(ctx)
		if badErr == nil {
			t.Fatal("select from a missing table: no error")
		}

		mu.Lock()
		defer mu.Unlock()
		want := []query{{"SELECT", nil}, {"BEGIN", nil}, {"UPDATE", nil}, {"COMMIT", nil}, {"SELECT", noRows}, {"SELECT", badErr}}
		if !slices.EqualFunc(seen, want, func(a, b query) bool { return a.op == b.op && errors.Is(a.err, b.err) }) {
			t.Errorf("observed %v, want %v", seen, want)
		}
	})
}
