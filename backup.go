package taskboard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBackupUnsupported is returned by Backup on PostgreSQL, whose own
// tools (pg_dump) make its backups.
var ErrBackupUnsupported = errors.New("taskboard: backups of PostgreSQL are made with pg_dump")

// Backup writes a consistent copy of a SQLite database to path, while
// writers go on: SQLite's VACUUM INTO reads one snapshot of the database
// (a read transaction, which in WAL mode blocks no writer) and writes it
// compacted. The copy is a complete database that Open serves as it was at
// that moment: every board's log gapless and its positions contiguous.
//
// The file is made readable by its owner only (0600); it is written under
// a temporary name beside path and renamed when complete, so path is
// either absent or a whole copy. An existing path is an error.
func (b *Board) Backup(ctx context.Context, path string) error {
	if !b.sqlite {
		return ErrBackupUnsupported
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("taskboard: backup to %s: %w", path, os.ErrExist)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return fmt.Errorf("taskboard: backup to %s: %w", path, err)
	}
	name := tmp.Name()
	// CreateTemp makes the file 0600; VACUUM INTO fills the empty file
	// and keeps its mode.
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("taskboard: backup to %s: %w", path, err)
	}
	if _, err := b.db.ExecContext(ctx, "VACUUM INTO ?", name); err != nil {
		os.Remove(name)
		return fmt.Errorf("taskboard: backup to %s: %w", path, wrapDBError(err))
	}
	if err := syncFile(name); err != nil {
		os.Remove(name)
		return fmt.Errorf("taskboard: backup to %s: %w", path, err)
	}
	// Link, unlike Rename, refuses to replace a path made meanwhile; where
	// the file system has no hard links, Rename does.
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			os.Remove(name)
			return fmt.Errorf("taskboard: backup to %s: %w", path, err)
		}
		if err := os.Rename(name, path); err != nil {
			os.Remove(name)
			return fmt.Errorf("taskboard: backup to %s: %w", path, err)
		}
		return nil
	}
	return os.Remove(name)
}

// syncFile flushes a file to stable storage.
func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
