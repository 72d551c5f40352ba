package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// runCmd runs a command in this process and returns its stdout.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), err
}

// TestExportImportCommands exports a board to a file, imports it and a
// Trello board as another user, and refuses an oversized or malformed
// document without creating anything.
func TestExportImportCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		store, err := taskboard.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer store.Close()
		if ok, err := demo.Seed(ctx, store); err != nil || !ok {
			t.Fatalf("demo.Seed: %v, %v", ok, err)
		}
		bob := taskboard.Actor{UserID: demo.Bob}
		dir := t.TempDir()
		file := filepath.Join(dir, "board.json")
		if _, err := runCmd(t, "export", "--db", dsn, "--board", demo.Board, "--out", file); err != nil {
			t.Fatalf("export: %v", err)
		}
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("export file: got %v, %v; want mode 0600", fi, err)
		}
		if _, err := runCmd(t, "export", "--db", dsn, "--board", "no-such-board"); err == nil {
			t.Error("export of an unknown board succeeded")
		}
		out, err := runCmd(t, "import", "--db", dsn, "--user", demo.Bob, file)
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		id := strings.TrimSpace(out)
		snap, err := store.Snapshot(ctx, bob, id)
		if err != nil || snap.Board.Name != "Sprint 12" || len(snap.Lists) != 3 || len(snap.Tasks) != 4 || snap.Seq != 1 {
			t.Fatalf("imported board %q: got %+v, %v", id, snap, err)
		}
		out, err = runCmd(t, "import", "--db", dsn, "--user", demo.Bob, "../../testdata/trello-board.json")
		if err != nil {
			t.Fatalf("import of a Trello board: %v", err)
		}
		if snap, err := store.Snapshot(ctx, bob, strings.TrimSpace(out)); err != nil || snap.Board.Name != "Product launch" || len(snap.Tasks) != 6 {
			t.Fatalf("imported Trello board: got %+v, %v", snap, err)
		}

		boards, _ := store.Boards(ctx, bob)
		if _, err := runCmd(t, "import", "--db", dsn, "--user", demo.Bob, "--max-import-bytes", "100", file); err == nil || !strings.Contains(err.Error(), "max-import-bytes") {
			t.Errorf("import over --max-import-bytes: got %v", err)
		}
		bad := filepath.Join(dir, "bad.json")
		os.WriteFile(bad, []byte(`{"format":"taskboard/1","board":{"name":""}}`), 0o600)
		if _, err := runCmd(t, "import", "--db", dsn, "--user", demo.Bob, bad); err == nil || !strings.Contains(err.Error(), "board.name") {
			t.Errorf("import of a board without a name: got %v, want an error naming board.name", err)
		}
		if after, _ := store.Boards(ctx, bob); len(after) != len(boards) {
			t.Errorf("boards after refused imports: got %d, want %d", len(after), len(boards))
		}
	})
}

// TestBackupCommands takes backups of a running server's SQLite database
// while it takes writes: on the command line, and on the server's schedule,
// which keeps the newest --backup-keep in a 0700 folder. Each copy opens
// and serves the demo board.
func TestBackupCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "board.db")
	backups := filepath.Join(dir, "backups")
	addr := freeAddr(t)
	s := startServer(t, dir, addr, nil, "serve", "--addr", addr, "--db", db, "--demo", "--log-level", "warn",
		"--write-rate", "-1", "--backup-dir", backups, "--backup-every", "100ms", "--backup-keep", "2")
	token := s.demoTokens()["user-alice"]

	if out, err := runCmd(t, "health", "--url", s.url+"/ready"); err != nil {
		t.Errorf("health of a running server: %v (%s)", err, out)
	}
	if _, err := runCmd(t, "health", "--url", "http://"+freeAddr(t)+"/ready", "--timeout", "2s"); err == nil {
		t.Error("health of no server succeeded")
	}

	// Writes go on during the backups.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wrote := make(chan struct{}) // closed when a first write has committed
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for i := 0; ctx.Err() == nil; i++ {
			body := `{"title":"load","listId":"list-todo","position":0}`
			req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/tasks", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
				if first && res.StatusCode == http.StatusCreated {
					first = false
					close(wrote)
				}
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	select {
	case <-wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("no write committed within 30 s")
	}

	out := filepath.Join(dir, "manual.db")
	if _, err := runCmd(t, "backup", "--db", db, "--out", out); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if _, err := runCmd(t, "backup", "--db", db, "--out", out); err == nil {
		t.Error("backup onto an existing file succeeded")
	}
	if _, err := runCmd(t, "backup", "--db", "postgres://x@127.0.0.1/none", "--out", filepath.Join(dir, "pg.db")); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("backup of PostgreSQL: got %v, want a pointer to pg_dump", err)
	}

	// The schedule rotates: wait until it has taken more than it keeps.
	seen := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("scheduled backups: saw %d within 30 s", len(seen))
		}
		entries, _ := os.ReadDir(backups)
		kept := 0
		for _, e := range entries {
			// Others are a copy being written, under a temporary name.
			if strings.HasPrefix(e.Name(), "taskboard-") && strings.HasSuffix(e.Name(), ".db") {
				seen[e.Name()] = true
				kept++
			}
		}
		if kept > 3 { // two kept, and the newest before the oldest goes
			t.Fatalf("backup folder holds %d backups, want at most 2 kept", kept)
		}
		time.Sleep(20 * time.Millisecond) // polling the folder, not synchronising
	}
	if fi, err := os.Stat(backups); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup folder: got %v, %v; want mode 0700", fi, err)
	}
	cancel()
	wg.Wait()
	s.terminate(30 * time.Second)

	entries, _ := os.ReadDir(backups)
	copies := []string{out}
	for _, e := range entries {
		copies = append(copies, filepath.Join(backups, e.Name()))
	}
	if len(copies) != 3 {
		t.Errorf("after the server stopped: got %d scheduled backups, want 2", len(copies)-1)
	}
	for _, c := range copies {
		if fi, err := os.Stat(c); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup %s: got %v, %v; want mode 0600", c, fi, err)
		}
		store, err := taskboard.Open(context.Background(), c, nil)
		if err != nil {
			t.Fatalf("open backup %s: %v", c, err)
		}
		doc, err := store.Export(context.Background(), taskboard.Actor{UserID: demo.Alice}, demo.Board)
		store.Close()
		if err != nil || len(doc.Lists) != 3 {
			t.Errorf("backup %s: got %v; want the demo board", c, err)
			continue
		}
		data, _ := json.Marshal(doc)
		if !bytes.Contains(data, []byte(`"load"`)) {
			t.Errorf("backup %s holds none of the writes made before it", c)
		}
	}
}
