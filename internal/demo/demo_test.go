package demo_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// openStore opens a store over dsn, closed when t ends.
func openStore(t *testing.T, dsn string) *taskboard.Board {
	t.Helper()
	b, err := taskboard.Open(context.Background(), dsn, &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func TestSeed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b := openStore(t, dsn)
		ctx := t.Context()
		if seeded, err := demo.Seeded(ctx, b); err != nil || seeded {
			t.Fatalf("Seeded on an empty database: got %v, %v; want false, nil", seeded, err)
		}
		if has, err := b.HasUsers(ctx); err != nil || has {
			t.Fatalf("HasUsers on an empty database: got %v, %v; want false, nil", has, err)
		}
		if ok, err := demo.Seed(ctx, b); err != nil || !ok {
			t.Fatalf("Seed: got %v, %v; want true, nil", ok, err)
		}
		if seeded, err := demo.Seeded(ctx, b); err != nil || !seeded {
			t.Fatalf("Seeded after Seed: got %v, %v; want true, nil", seeded, err)
		}

		snap, err := b.Snapshot(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if snap.Board.ID != "board-1" || snap.Board.Name != "Sprint 12" || snap.Seq != 0 {
			t.Errorf("board: got %s %q at seq %d, want board-1 \"Sprint 12\" at seq 0", snap.Board.ID, snap.Board.Name, snap.Seq)
		}
		type user struct {
			id, name, email string
			role            taskboard.Role
		}
		var users []user
		for _, u := range snap.Members {
			users = append(users, user{u.ID, u.Name, u.Email, u.Role})
		}
		wantUsers := []user{{"user-alice", "Alice", "alice@example.com", taskboard.RoleOwner}, {"user-bob", "Bob", "bob@example.com", taskboard.RoleEditor}}
		if !slices.Equal(users, wantUsers) {
			t.Errorf("members: got %v, want %v", users, wantUsers)
		}
		type list struct {
			id, name string
			position int
		}
		var lists []list
		for _, l := range snap.Lists {
			lists = append(lists, list{l.ID, l.Name, l.Position})
		}
		wantLists := []list{{"list-todo", "To Do", 0}, {"list-progress", "In Progress", 1}, {"list-done", "Done", 2}}
		if !slices.Equal(lists, wantLists) {
			t.Errorf("lists: got %v, want %v", lists, wantLists)
		}
		type task struct {
			id, title, list string
			position        int
			assignee        string
			version         int64
		}
		var tasks []task
		for _, tk := range snap.Tasks {
			a := "<nil>"
			if tk.AssigneeID != nil {
				a = *tk.AssigneeID
			}
			if tk.BoardID != demo.Board || tk.Description != nil {
				t.Errorf("task %s: got board %s and description %v, want board-1 and none", tk.ID, tk.BoardID, tk.Description)
			}
			tasks = append(tasks, task{tk.ID, tk.Title, tk.ListID, tk.Position, a, tk.Version})
		}
		wantTasks := []task{
			{"task-1", "Design login page", "list-todo", 0, "user-alice", 1},
			{"task-2", "Set up CI pipeline", "list-todo", 1, "user-bob", 1},
			{"task-3", "Build API endpoints", "list-progress", 0, "user-alice", 1},
			{"task-4", "Write project brief", "list-done", 0, "user-bob", 1},
		}
		if !slices.Equal(tasks, wantTasks) {
			t.Errorf("tasks:\ngot  %v\nwant %v", tasks, wantTasks)
		}
		if boards, err := b.Boards(ctx, taskboard.Actor{UserID: demo.Bob}); err != nil || len(boards) != 1 || boards[0].ID != demo.Board {
			t.Errorf("Boards(bob): got %v, %v; want [board-1]", boards, err)
		}

		// A second call finds users and seeds nothing.
		if ok, err := demo.Seed(ctx, b); err != nil || ok {
			t.Fatalf("second Seed: got %v, %v; want false, nil", ok, err)
		}
		again, err := b.Snapshot(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board)
		if err != nil || len(again.Tasks) != 4 || len(again.Lists) != 3 || len(again.Members) != 2 {
			t.Errorf("Snapshot after a second Seed: got %d tasks, %d lists, %d members (%v); want 4, 3, 2", len(again.Tasks), len(again.Lists), len(again.Members), err)
		}
	})
}

func TestSeedLeavesUsedDatabaseAlone(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b := openStore(t, dsn)
		ctx := t.Context()
		if _, err := b.CreateUser(ctx, taskboard.UserCreate{Name: "Dana", Email: "dana@example.com"}); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if ok, err := demo.Seed(ctx, b); err != nil || ok {
			t.Fatalf("Seed on a database with users: got %v, %v; want false, nil", ok, err)
		}
		if seeded, err := demo.Seeded(ctx, b); err != nil || seeded {
			t.Fatalf("Seeded: got %v, %v; want false, nil", seeded, err)
		}
		if _, err := b.User(ctx, demo.Alice); err == nil {
			t.Fatalf("User(user-alice): got a user, want ErrNotFound")
		}
	})
}

// TestSeedConcurrently seeds one database from several goroutines at once:
// exactly one seeds it, whole, and the others report that they did not.
func TestSeedConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b := openStore(t, dsn)
		ctx := t.Context()
		const n = 4
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { results[i], errs[i] = demo.Seed(ctx, b) })
		}
		wg.Wait()
		seeded := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Seed %d: %v", i, errs[i])
			}
			if results[i] {
				seeded++
			}
		}
		if seeded != 1 {
			t.Errorf("Seed: %d calls seeded, want 1", seeded)
		}
		snap, err := b.Snapshot(ctx, taskboard.Actor{UserID: demo.Bob}, demo.Board)
		if err != nil || len(snap.Tasks) != 4 || len(snap.Lists) != 3 || len(snap.Members) != 2 {
			t.Fatalf("Snapshot: got %+v, %v; want the demo board", snap, err)
		}
	})
}
