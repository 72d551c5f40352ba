package taskboard_test

import (
	"context"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// TestSQLitePragmas checks the settings Open gives every SQLite connection.
func TestSQLitePragmas(t *testing.T) {
	cases := []struct {
		name string
		opts *taskboard.Options
		sync int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"default", nil, 1},
		{"SQLiteSyncFull", &taskboard.Options{SQLiteSyncFull: true}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openStore(t, dbtest.SQLite(t), tc.opts)
			ctx := context.Background()
			// Hold several connections at once so that the pool opens more
			// than one.
			for i := range 3 {
				conn, err := seam.DB(b).Conn(ctx)
				if err != nil {
					t.Fatalf("Conn: %v", err)
				}
				defer conn.Close()
				var journal string
				var fk, busy, sync int
				for _, q := range []struct {
					pragma string
					dest   any
				}{{"journal_mode", &journal}, {"foreign_keys", &fk}, {"busy_timeout", &busy}, {"synchronous", &sync}} {
					if err := conn.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.dest); err != nil {
						t.Fatalf("PRAGMA %s: %v", q.pragma, err)
					}
				}
				if journal != "wal" || fk != 1 || busy < 5000 || sync != tc.sync {
					t.Errorf("connection %d: got journal_mode=%s foreign_keys=%d busy_timeout=%d synchronous=%d, want wal, 1, >=5000, %d",
						i, journal, fk, busy, sync, tc.sync)
				}
			}
		})
	}
}
