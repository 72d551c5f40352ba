package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/taskboard/taskboard"
)

// defaultMaxImportBytes is the largest document import reads by default.
const defaultMaxImportBytes = 16 << 20

// exportBoard writes a board's export document to --out or stdout.
func exportBoard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	db := dbFlag(fs)
	board := fs.String("board", "", "id of the board (required)")
	out := fs.String("out", "", "file to write (default: standard output); made 0600")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *board == "" {
		return fmt.Errorf("export: --board is required")
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	doc, err := store.OperatorExport(ctx, *board)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	data = append(data, '\n')
	if *out == "" {
		_, err := stdout.Write(data)
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("export: %w", err)
	}
	return f.Close()
}

// importBoard makes a new board of --user's from a document (a board
// export or a Trello board export) and prints the new board's id.
func importBoard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	db := dbFlag(fs)
	user := fs.String("user", "", "id of the user who will own the new board (required)")
	limit := fs.Int64("max-import-bytes", defaultMaxImportBytes, "largest document accepted, in bytes")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: taskboard import --db DSN --user ID FILE (- for standard input)")
	}
	var in io.Reader
	if name := fs.Arg(0); name == "-" {
		in = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, *limit+1))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if int64(len(data)) > *limit {
		return fmt.Errorf("import: the document is larger than --max-import-bytes (%d bytes)", *limit)
	}
	doc, err := taskboard.ParseImport(data)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	snap, err := store.Import(ctx, taskboard.Actor{UserID: *user}, doc)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, snap.Board.ID)
	return nil
}

// backup writes a consistent copy of a SQLite database to --out.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", stderr)
	db := dbFlag(fs)
	out := fs.String("out", "", "file to write the copy to (required; must not exist); made 0600")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("backup: --out is required")
	}
	if taskboard.IsPostgres(*db) {
		return fmt.Errorf("backup: %w", taskboard.ErrBackupUnsupported)
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, *out)
	return nil
}

// health asks a server's /ready and fails unless it answers 200: the
// container image's health check, which has no curl.
func health(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("health", stderr)
	u := fs.String("url", "http://127.0.0.1:3000/ready", "address to check")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d: %s", *u, res.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	return nil
}

// backupSchedule takes a backup of store into dir every interval and keeps
// the newest keep of them, until ctx ends.
type backupSchedule struct {
	store    *taskboard.Board
	dir      string
	interval time.Duration
	keep     int
	logger   *slog.Logger
}

// backupPrefix and backupSuffix frame the names of scheduled backups,
// which sort by time: taskboard-20261206T063000Z.db.
const (
	backupPrefix = "taskboard-"
	backupSuffix = ".db"
)

// prepare makes the backup folder, readable by its owner only (0700).
func (s *backupSchedule) prepare() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("--backup-dir: %w", err)
	}
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fmt.Errorf("--backup-dir: %w", err)
	}
	return nil
}

// run takes the backups until ctx ends.
func (s *backupSchedule) run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if path, err := s.once(ctx); err != nil {
				s.logger.Error("scheduled backup failed", "err", err)
			} else {
				s.logger.Info("backup taken", "file", path)
			}
		}
	}
}

// once takes one backup and removes the oldest beyond keep.
func (s *backupSchedule) once(ctx context.Context) (string, error) {
	name := backupPrefix + time.Now().UTC().Format("20060102T150405.000Z") + backupSuffix
	path := filepath.Join(s.dir, name)
	if err := s.store.Backup(ctx, path); err != nil {
		return "", err
	}
	if s.keep <= 0 {
		return path, nil
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return path, fmt.Errorf("list backups: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, backupPrefix) && strings.HasSuffix(n, backupSuffix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var errs []error
	for len(names) > s.keep {
		if err := os.Remove(filepath.Join(s.dir, names[0])); err != nil {
			errs = append(errs, err)
		}
		names = names[1:]
	}
	return path, errors.Join(errs...)
}
