package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// stmtCache runs the write path's most frequent statements prepared once
// per connection. bun writes a query's arguments into its SQL text, so the
// database parses every bun query anew; on SQLite that parse is a good part
// of a small write. The statements here keep their placeholders and are
// written with ?, which become $1, $2… on PostgreSQL. Their outcome reaches
// Options.QueryObserver as bun's queries do.
//
// On SQLite they are database/sql statements, prepared on each connection
// the first time it runs them. On PostgreSQL they are sent with their
// arguments apart, and pgx prepares and keeps them per connection itself:
// preparing through database/sql would take a second connection from the
// pool while the transaction holds one, and a pool whose every connection
// is in a transaction waiting for that would never get it.
type stmtCache struct {
	db      *bun.DB
	dollar  bool
	observe func(operation string, d time.Duration, err error)

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	pgSQL  map[string]string // queries with $n placeholders, by their ? form
	closed bool
}

func newStmtCache(db *bun.DB, postgres bool, observe func(string, time.Duration, error)) *stmtCache {
	return &stmtCache{db: db, dollar: postgres, observe: observe, stmts: map[string]*sql.Stmt{}, pgSQL: map[string]string{}}
}

// errStmtCacheClosed is the error of a statement asked for after close.
var errStmtCacheClosed = errors.New("prepared statements closed")

// preparer is what runs a statement of the cache: a prepared statement
// of the transaction (SQLite) or the transaction itself (PostgreSQL).
type preparer interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
}

// txQuery runs one query, arguments apart, in a transaction.
type txQuery struct {
	tx    *sql.Tx
	query string
}

func (q txQuery) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return q.tx.ExecContext(ctx, q.query, args...)
}

func (q txQuery) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return q.tx.QueryContext(ctx, q.query, args...)
}

// prepared returns what runs query in tx.
func (s *stmtCache) prepared(ctx context.Context, tx bun.Tx, query string) (preparer, error) {
	if s.dollar {
		s.mu.Lock()
		q, ok := s.pgSQL[query]
		if !ok {
			q = s.dialectSQL(query)
			s.pgSQL[query] = q
		}
		s.mu.Unlock()
		return txQuery{tx.Tx, q}, nil
	}
	s.mu.Lock()
	st, ok := s.stmts[query]
	if !ok && !s.closed {
		var err error
		if st, err = s.db.DB.PrepareContext(ctx, s.dialectSQL(query)); err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("prepare %q: %w", query, err)
		}
		s.stmts[query] = st
	}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errStmtCacheClosed
	}
	// The transaction's statement is closed with the transaction; the
	// connection's prepared statement stays for the next one.
	return tx.Tx.StmtContext(ctx, st), nil
}

// dialectSQL rewrites the ? placeholders of query for the database.
func (s *stmtCache) dialectSQL(query string) string {
	if !s.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// exec runs a statement that returns no rows in tx.
func (s *stmtCache) exec(ctx context.Context, tx bun.Tx, query string, args ...any) (sql.Result, error) {
	start := time.Now()
	st, err := s.prepared(ctx, tx, query)
	var res sql.Result
	if err == nil {
		res, err = st.ExecContext(ctx, args...)
	}
	s.report(query, start, err)
	return res, err
}

// scan runs a query in tx and scans its first row into dest, bun models
// or values, as bun's Scan does; no row is sql.ErrNoRows.
func (s *stmtCache) scan(ctx context.Context, tx bun.Tx, query string, args []any, dest ...any) error {
	start := time.Now()
	err := s.scanRow(ctx, tx, query, args, dest)
	s.report(query, start, err)
	return err
}

func (s *stmtCache) scanRow(ctx context.Context, tx bun.Tx, query string, args, dest []any) error {
	st, err := s.prepared(ctx, tx, query)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := s.db.ScanRow(ctx, rows, dest...); err != nil {
		return err
	}
	return rows.Close()
}

func (s *stmtCache) report(query string, start time.Time, err error) {
	if s.observe == nil {
		return
	}
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	s.observe(strings.ToUpper(op), time.Since(start), err)
}

// close closes every prepared statement; later use fails.
func (s *stmtCache) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var err error
	for _, st := range s.stmts {
		err = errors.Join(err, st.Close())
	}
	clear(s.stmts)
	return err
}

// sqlTime is t as bun writes times into SQL text, so that values written
// through prepared statements compare and sort with the others.
func sqlTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.999999-07:00")
}
