// Package dbtest gives tests a fresh database on every engine the machine
// has: a SQLite file always, and a PostgreSQL schema of its own when
// TASKBOARD_TEST_POSTGRES holds a PostgreSQL URL.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// EnvPostgres names the environment variable that points the tests at a
// PostgreSQL server.
const EnvPostgres = "TASKBOARD_TEST_POSTGRES"

// Engine is a database engine tests run on.
type Engine struct {
	Name string // "sqlite" or "postgres"
	// DSN returns the DSN of a fresh, empty database for t, removed when t
	// ends.
	DSN func(t testing.TB) string
}

// Engines returns the engines to test on. PostgreSQL is included only when
// TASKBOARD_TEST_POSTGRES is set; without it the caller's PostgreSQL runs
// are reported as skipped by Each.
func Engines() []Engine {
	return []Engine{{Name: "sqlite", DSN: SQLite}, {Name: "postgres", DSN: Postgres}}
}

// Each runs fn as a subtest on every engine.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) {
			fn(t, e.DSN(t))
		})
	}
}

// SQLite returns the path of a SQLite file in t's temporary directory.
func SQLite(t testing.TB) string {
	return filepath.Join(t.TempDir(), "taskboard.db")
}

var schemaSeq atomic.Int64

// Postgres creates a schema of its own for t and returns a DSN whose
// search_path selects it; the schema is dropped when t ends. It skips t when
// TASKBOARD_TEST_POSTGRES is unset.
func Postgres(t testing.TB) string {
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	schema := fmt.Sprintf("tbtest_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return WithSchema(base, schema)
}

// WithSchema returns dsn with its search_path set to schema.
func WithSchema(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// UnreachablePostgres returns a PostgreSQL database at a local port where
// nothing listens (it was free a moment ago), closed when t ends: every
// query fails to connect. It needs no PostgreSQL server.
func UnreachablePostgres(t testing.TB) *bun.DB {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	sqldb, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:"+strconv.Itoa(port)+"/test?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}
