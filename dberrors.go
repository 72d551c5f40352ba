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
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// connErrors are the sentinel errors that mean the database cannot be
// reached or the connection broke.
var connErrors = []error{
	sql.ErrConnDone,        // a connection or transaction already returned to the pool
	errDBClosed,            // the *sql.DB was closed
	driver.ErrBadConn,      // the driver found its connection unusable
	pgconn.ErrConnClosed,   // pgx: the connection was closed under the statement
	io.ErrUnexpectedEOF,    // the server closed the connection mid-message
	syscall.ECONNREFUSED,   // nothing listens at the server's address
	syscall.ECONNRESET,     // the server or a middlebox reset the connection
	syscall.EPIPE,          // written to a connection the server closed
	os.ErrDeadlineExceeded, // a socket deadline passed (i/o timeout)
}

// isConnError reports whether err says that the database cannot be
// reached, or that the connection a statement ran on broke: the errors of
// database/sql for a closed pool or connection, failed connection attempts,
// network failures, and the PostgreSQL errors that end a session. It looks
// at the types and codes of the errors in err's chain, never at messages.
//
// On SQLite the database is a file in this process: only database/sql's
// own errors (a closed *sql.DB) apply, whichever of the drivers
// bun/driver/sqliteshim links.
func isConnError(err error) bool {
	for _, target := range connErrors {
		if errors.Is(err, target) {
			return true
		}
	}
	var (
		connectErr *pgconn.ConnectError
		opErr      *net.OpError
		dnsErr     *net.DNSError
		netErr     net.Error
		pgErr      *pgconn.PgError
	)
	switch {
	case errors.As(err, &connectErr), errors.As(err, &opErr), errors.As(err, &dnsErr):
		return true
	case errors.As(err, &netErr) && netErr.Timeout(), pgconn.Timeout(err):
		return true
	case errors.As(err, &pgErr):
		return endsSession(pgErr)
	}
	return false
}

// endsSession reports whether a PostgreSQL error means that the server
// ended, or would not start, the session: the connection exceptions (class
// 08), the operator interventions that terminate connections (57P01
// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P04
// database_dropped, 57P05 idle_session_timeout), and any error of severity
// FATAL or PANIC, after which the server closes the connection (such as
// 25P03, an idle transaction's timeout).
func endsSession(e *pgconn.PgError) bool {
	switch {
	case len(e.Code) == 5 && e.Code[:2] == "08":
		return true
	case e.Code == "57P01", e.Code == "57P02", e.Code == "57P03", e.Code == "57P04", e.Code == "57P05":
		return true
	}
	severity := e.SeverityUnlocalized
	if severity == "" {
		severity = e.Severity
	}
	return severity == "FATAL" || severity == "PANIC"
}

// errDBClosed is the error database/sql returns for use of a closed
// *sql.DB. The package does not export it; a closed pool gives it away.
var errDBClosed = func() error {
	db := sql.OpenDB(unusedConnector{})
	db.Close()
	return db.PingContext(context.Background())
}()

// unusedConnector backs the closed pool that yields errDBClosed; the pool
// never connects.
type unusedConnector struct{}

func (unusedConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("taskboard: unused connector")
}

func (c unusedConnector) Driver() driver.Driver { return unusedDriver{} }

type unusedDriver struct{}

func (unusedDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("taskboard: unused driver")
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation
// (SQLSTATE 23505): a concurrent transaction inserted the same key first.
// On SQLite writers take turns, so a check before the insert settles it.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

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
