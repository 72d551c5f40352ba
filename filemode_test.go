package taskboard_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/taskboard/taskboard"
)

// TestDatabaseFilesPrivate checks that a new SQLite database, and the
// -wal and -shm files beside it, are readable by their owner only.
func TestDatabaseFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, dsn string }{
		{"plain.db", filepath.Join(dir, "plain.db")},
		{"uri.db", "file:" + filepath.Join(dir, "uri.db") + "?cache=private"},
	} {
		ctx := context.Background()
		store, err := taskboard.Open(ctx, tc.dsn, &taskboard.Options{MaintenanceInterval: -1})
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.dsn, err)
		}
		if _, err := store.CreateUser(ctx, taskboard.UserCreate{Name: "Dana", Email: "dana@example.com"}); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			path := filepath.Join(dir, tc.name+suffix)
			fi, err := os.Stat(path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s: mode %v, want 0600", path, perm)
			}
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
