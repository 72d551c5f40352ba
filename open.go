package taskboard

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openDB opens dsn as Open does and returns the *bun.DB, without migrating.
func openDB(dsn string, sqliteSyncFull bool) (*bun.DB, error) {
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
	if err := createPrivate(dsn); err != nil {
		return nil, fmt.Errorf("taskboard: open sqlite %s: %w", dsn, err)
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

// createPrivate creates the SQLite file of dsn, when it does not exist
// yet, readable and writable by its owner only (0600): it holds every
// board and the hashes of every credential. SQLite gives the -wal and -shm
// files it makes beside it the same permissions. An existing file keeps
// its own; an in-memory database has none.
func createPrivate(dsn string) error {
	path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if strings.HasPrefix(dsn, "file:") {
		if q, err := url.ParseQuery(query); err == nil && q.Get("mode") == "memory" {
			return nil
		}
		if p, err := url.PathUnescape(path); err == nil {
			path = p
		}
	}
	if path == "" || path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

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
		q.Add("_pragma", "temp_store(MEMORY)")
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}
