package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// queryObserver is the bun query hook that reports every query to
// Options.QueryObserver.
type queryObserver struct {
	observe func(operation string, d time.Duration, err error)
}

func (queryObserver) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (h queryObserver) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	if errors.Is(e.Err, sql.ErrTxDone) {
		// Never reached the database: the deferred rollback of a
		// transaction that committed.
		return
	}
	h.observe(queryOperation(e), time.Since(e.StartTime), e.Err)
}

// queryOperation is the kind of a query's statement in upper case, OTHER
// when it has none.
func queryOperation(e *bun.QueryEvent) string {
	op := strings.ToUpper(e.Operation())
	if op == "" {
		op = "OTHER"
	}
	return op
}
