// Package demo seeds a store with the course's demo data: users Alice and
// Bob, and board-1 "Sprint 12" with its three lists and four tasks, with
// the IDs and names the course and the API documentation use. The
// taskboard command seeds it on a fresh database, the HTTP API's demo
// sign-in accepts only its users, and the tests use it as their fixture.
package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// The demo data's IDs, as the course and the API use them.
const (
	Alice = "user-alice"
	Bob   = "user-bob"
	Board = "board-1"
)

// markKey is the key of the settings row that marks a demo database.
const markKey = "demo"

// setting is a key/value pair of database-wide state (the settings table of
// the store's schema).
type setting struct {
	bun.BaseModel `bun:"table:settings"`

	Key   string `bun:"key,pk"`
	Value string `bun:"value,notnull"`
}

// errHasUsers stops seeding a database that has users.
var errHasUsers = errors.New("demo: the database has users")

// Seed fills a database that has no users with the demo data (Alice and
// Bob, board-1 "Sprint 12" with its three lists and four tasks, Alice its
// owner and Bob an editor) and marks it as a demo database. It reports whether it seeded: a
// database with users is left alone.
//
// Alice is created with Board.CreateUser; everything else is written in the
// same transaction, by its hook, so a database is seeded entirely or not at
// all, also when several processes start on it at once.
func Seed(ctx context.Context, store *taskboard.Board) (bool, error) {
	if has, err := store.HasUsers(ctx); err != nil || has {
		if err != nil {
			return false, fmt.Errorf("demo: seed: %w", err)
		}
		return false, nil
	}
	hook := func(ctx context.Context, tx bun.Tx) error {
		others, err := tx.NewSelect().Model((*taskboard.User)(nil)).Where("id <> ?", Alice).Exists(ctx)
		if err != nil {
			return err
		}
		if others {
			return errHasUsers
		}
		return insertRest(ctx, tx)
	}
	_, err := store.CreateUser(seam.WithTxHook(ctx, hook), taskboard.UserCreate{ID: Alice, Name: "Alice", Email: "alice@example.com"})
	switch {
	case errors.Is(err, errHasUsers), errors.Is(err, taskboard.ErrConflict):
		// Users came meanwhile: another process seeded, or someone signed up.
		return false, nil
	case err != nil:
		if seeded, serr := Seeded(ctx, store); serr == nil && seeded {
			return false, nil // another process seeded at the same time
		}
		return false, fmt.Errorf("demo: seed: %w", err)
	}
	return true, nil
}

// insertRest writes the demo data but Alice.
func insertRest(ctx context.Context, tx bun.Tx) error {
	t := time.Now().UTC().Truncate(time.Microsecond)
	str := func(s string) *string { return &s }
	rows := []any{
		&taskboard.User{ID: Bob, Name: "Bob", Email: "bob@example.com", CreatedAt: t},
		&taskboard.BoardInfo{ID: Board, Name: "Sprint 12", CreatedAt: t},
		&[]taskboard.Member{
			{BoardID: Board, UserID: Alice, Role: taskboard.RoleOwner, CreatedAt: t},
			{BoardID: Board, UserID: Bob, Role: taskboard.RoleEditor, CreatedAt: t},
		},
		&[]taskboard.List{
			{ID: "list-todo", BoardID: Board, Name: "To Do", Rank: "a0", Version: 1},
			{ID: "list-progress", BoardID: Board, Name: "In Progress", Rank: "a1", Version: 1},
			{ID: "list-done", BoardID: Board, Name: "Done", Rank: "a2", Version: 1},
		},
		&[]taskboard.Task{
			{ID: "task-1", ListID: "list-todo", BoardID: Board, Title: "Design login page", AssigneeID: str(Alice), Rank: "a0", Version: 1, CreatedAt: t, UpdatedAt: t},
			{ID: "task-2", ListID: "list-todo", BoardID: Board, Title: "Set up CI pipeline", AssigneeID: str(Bob), Rank: "a1", Version: 1, CreatedAt: t, UpdatedAt: t},
			{ID: "task-3", ListID: "list-progress", BoardID: Board, Title: "Build API endpoints", AssigneeID: str(Alice), Rank: "a0", Version: 1, CreatedAt: t, UpdatedAt: t},
			{ID: "task-4", ListID: "list-done", BoardID: Board, Title: "Write project brief", AssigneeID: str(Bob), Rank: "a0", Version: 1, CreatedAt: t, UpdatedAt: t},
		},
		&setting{Key: markKey, Value: "true"},
	}
	for _, r := range rows {
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert %T: %w", r, err)
		}
	}
	return nil
}

// Seeded reports whether Seed marked the database as a demo database.
func Seeded(ctx context.Context, store *taskboard.Board) (bool, error) {
	ok, err := seam.DB(store).NewSelect().Model((*setting)(nil)).Where("key = ? AND value = 'true'", markKey).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: %w", seam.DBError(err))
	}
	return ok, nil
}
