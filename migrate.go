package taskboard

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate brings the schema up to date. On PostgreSQL it holds an advisory
// lock while it runs, so instances that start together never race.
func (b *Board) Migrate(ctx context.Context) error {
	migrations := migrate.NewMigrations()
	if err := migrations.Discover(migrationFiles); err != nil {
		return fmt.Errorf("taskboard: load migrations: %w", err)
	}
	// Order keys compare byte by byte: SQLite's BINARY, PostgreSQL's "C".
	data := struct{ RankCollation string }{"BINARY"}
	if !b.sqlite {
		data.RankCollation = `"C"`
	}
	migrator := migrate.NewMigrator(b.db, migrations, migrate.WithMarkAppliedOnSuccess(true), migrate.WithTemplateData(data))
	run := func() error {
		if err := migrator.Init(ctx); err != nil {
			return fmt.Errorf("taskboard: init migrations: %w", err)
		}
		if _, err := migrator.Migrate(ctx); err != nil {
			return fmt.Errorf("taskboard: migrate: %w", err)
		}
		return nil
	}
	if b.sqlite {
		b.writeMu.Lock()
		defer b.writeMu.Unlock()
		// Another process may be migrating the same file: its transaction
		// makes ours fail, and a retry then finds the migration applied.
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := run()
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("taskboard: migrate: %w", wrapDBError(err))
	}
	defer conn.Close()
	// The lock is per database; the schema name keeps schemas apart.
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("taskboard: migrate: %w", wrapDBError(err))
	}
	key := int64(lockKey("taskboard-migrate:" + schema))
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", key); err != nil {
		return fmt.Errorf("taskboard: migrate: lock: %w", wrapDBError(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", key)
	return run()
}

func lockKey(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
