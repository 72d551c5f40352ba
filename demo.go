package taskboard

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// The course's demo data: ids and names as the course and the API use them.
const (
	DemoAlice = "user-alice"
	DemoBob   = "user-bob"
	DemoBoard = "board-1"
)

const demoSetting = "demo"

// SeedDemo fills a database that has no users with the course's demo data
// (Alice and Bob, board-1 "Sprint 12" with its three lists and four tasks,
// both users members) and marks it as a demo database. It reports whether it
// seeded: a database with users is left alone.
func (b *Board) SeedDemo(ctx context.Context) (bool, error) {
	seeded := false
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		if has, err := tx.NewSelect().Model((*User)(nil)).Exists(ctx); err != nil || has {
			return err
		}
		t := now()
		str := func(s string) *string { return &s }
		rows := []any{
			&[]User{
				{ID: DemoAlice, Name: "Alice", Email: "alice@example.com", CreatedAt: t},
				{ID: DemoBob, Name: "Bob", Email: "bob@example.com", CreatedAt: t},
			},
			&BoardInfo{ID: DemoBoard, Name: "Sprint 12", CreatedAt: t},
			&[]Member{
				{BoardID: DemoBoard, UserID: DemoAlice, CreatedAt: t},
				{BoardID: DemoBoard, UserID: DemoBob, CreatedAt: t},
			},
			&[]List{
				{ID: "list-todo", BoardID: DemoBoard, Name: "To Do", Position: 0, Version: 1},
				{ID: "list-progress", BoardID: DemoBoard, Name: "In Progress", Position: 1, Version: 1},
				{ID: "list-done", BoardID: DemoBoard, Name: "Done", Position: 2, Version: 1},
			},
			&[]Task{
				{ID: "task-1", ListID: "list-todo", BoardID: DemoBoard, Title: "Design login page", AssigneeID: str(DemoAlice), Position: 0, Version: 1, CreatedAt: t, UpdatedAt: t},
				{ID: "task-2", ListID: "list-todo", BoardID: DemoBoard, Title: "Set up CI pipeline", AssigneeID: str(DemoBob), Position: 1, Version: 1, CreatedAt: t, UpdatedAt: t},
				{ID: "task-3", ListID: "list-progress", BoardID: DemoBoard, Title: "Build API endpoints", AssigneeID: str(DemoAlice), Position: 0, Version: 1, CreatedAt: t, UpdatedAt: t},
				{ID: "task-4", ListID: "list-done", BoardID: DemoBoard, Title: "Write project brief", AssigneeID: str(DemoBob), Position: 0, Version: 1, CreatedAt: t, UpdatedAt: t},
			},
			&setting{Key: demoSetting, Value: "true"},
		}
		for _, r := range rows {
			if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
				return fmt.Errorf("insert %T: %w", r, err)
			}
		}
		seeded = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("taskboard: seed demo data: %w", err)
	}
	return seeded, nil
}

// IsDemo reports whether SeedDemo marked the database as a demo database.
func (b *Board) IsDemo(ctx context.Context) (bool, error) {
	ok, err := b.db.NewSelect().Model((*setting)(nil)).Where("key = ? AND value = 'true'", demoSetting).Exists(ctx)
	return ok, wrapDBError(err)
}
