package taskboard_test

import (
	"context"
	"sync"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// Instances that start together on an empty database all come up: the
// migrations run once, under a lock.
func TestConcurrentStartMigratesOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		const n = 4
		stores := make([]*taskboard.Board, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = taskboard.Open(ctx, dsn, nil)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Open #%d: %v", i, err)
			}
			defer stores[i].Close()
		}
		var applied, distinct int
		if err := seam.DB(stores[0]).NewRaw("SELECT count(*), count(DISTINCT name) FROM bun_migrations").Scan(ctx, &applied, &distinct); err != nil {
			t.Fatalf("count migrations: %v", err)
		}
		if applied == 0 || applied != distinct {
			t.Fatalf("bun_migrations has %d rows for %d migrations, want each applied once", applied, distinct)
		}
	})
}
