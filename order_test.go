package taskboard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun/migrate"
)

// TestMigrateStoredPositions builds a database the way the release before
// order keys did (its two migrations, rows with stored positions), opens it
// with the current code and checks that order, positions, versions and seq
// are kept and that writes carry on from there.
func TestMigrateStoredPositions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		old, err := taskboard.Open(ctx, dsn, &taskboard.Options{SkipMigrations: true})
		if err != nil {
			t.Fatalf("Open without migrations: %v", err)
		}
		fsys := fstest.MapFS{}
		for _, name := range []string{"20261127000001_initial.tx.up.sql", "20261127000002_presence.tx.up.sql"} {
			data, err := os.ReadFile(filepath.Join("migrations", name))
			if err != nil {
				t.Fatal(err)
			}
			fsys[name] = &fstest.MapFile{Data: data}
		}
		ms := migrate.NewMigrations()
		if err := ms.Discover(fsys); err != nil {
			t.Fatal(err)
		}
		m := migrate.NewMigrator(seam.DB(old), ms, migrate.WithMarkAppliedOnSuccess(true))
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Migrate(ctx); err != nil {
			t.Fatalf("old migrations: %v", err)
		}
		at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		stmts := []string{
			`INSERT INTO users (id, name, email, created_at) VALUES ('u1', 'Una', 'una@example.com', ?)`,
			`INSERT INTO boards (id, name, created_at, seq) VALUES ('b1', 'Old', ?, 41)`,
			`INSERT INTO board_members (board_id, user_id, created_at) VALUES ('b1', 'u1', ?)`,
		}
		// Rows stored out of order, so that only positions give the order.
		for _, l := range []struct {
			id  string
			pos int
		}{{"l2", 2}, {"l0", 0}, {"l1", 1}} {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO lists (id, board_id, name, position, version) VALUES ('%s', 'b1', '%s', %d, %d)`, l.id, l.id, l.pos, l.pos+3))
		}
		const n = 130 // past 62: keys with two significant digits
		for i := n - 1; i >= 0; i-- {
			stmts = append(stmts, fmt.Sprintf(`INSERT INTO tasks (id, list_id, board_id, title, position, version, created_at, updated_at) VALUES ('t%03d', 'l1', 'b1', 'task %d', %d, %d, ?, ?)`, i, i, i, i%5+1))
		}
		stmts = append(stmts, `INSERT INTO tasks (id, list_id, board_id, title, position, version, created_at, updated_at) VALUES ('x', 'l0', 'b1', 'x', 0, 9, ?, ?)`)
		db := seam.DB(old)
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q, at, at); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		b := openStore(t, dsn, nil)
		una := taskboard.Actor{UserID: "u1"}
		lists, err := b.Lists(ctx, una, "b1")
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lists {
			if l.ID != fmt.Sprint("l", i) || l.Position != i || l.Version != int64(i+3) {
				t.Fatalf("list %d after migration: %+v", i, l)
			}
		}
		tasks, seq, err := b.Tasks(ctx, una, "b1")
		if err != nil {
			t.Fatal(err)
		}
		if seq != 41 || len(tasks) != n+1 {
			t.Fatalf("after migration: seq %d, %d tasks; want 41, %d", seq, len(tasks), n+1)
		}
		if tasks[0].ID != "x" || tasks[0].Position != 0 || tasks[0].Version != 9 {
			t.Fatalf("task of l0 after migration: %+v", tasks[0])
		}
		for i, task := range tasks[1:] {
			if task.ID != fmt.Sprintf("t%03d", i) || task.Position != i || task.Version != int64(i%5+1) || !task.UpdatedAt.Equal(at) {
				t.Fatalf("task %d after migration: %+v", i, task)
			}
		}
		// Writes go on from the kept order and seq.
		moved, err := b.MoveTask(ctx, una, "t000", taskboard.TaskMove{ListID: "l1", Position: ptr(64)})
		if err != nil || moved.Position != 64 || moved.Version != 2 {
			t.Fatalf("MoveTask after migration: %+v, %v", moved, err)
		}
		created, err := b.CreateTask(ctx, una, taskboard.TaskCreate{ListID: "l1", Title: "new", Position: ptr(0)})
		if err != nil || created.Position != 0 {
			t.Fatalf("CreateTask after migration: %+v, %v", created, err)
		}
		list, err := b.CreateList(ctx, una, "b1", taskboard.ListCreate{Name: "first", Position: ptr(0)})
		if err != nil || list.Position != 0 {
			t.Fatalf("CreateList after migration: %+v, %v", list, err)
		}
		want := []string{created.ID}
		for i := 1; i < n; i++ {
			want = append(want, fmt.Sprintf("t%03d", i))
			if i == 64 {
				want = append(want, "t000")
			}
		}
		if got := listTasks(t, b, una, "b1", "l1"); !slices.Equal(got, want) {
			t.Fatalf("l1 after writes:\n got %v\nwant %v", got, want)
		}
		if seq, err := b.BoardSeq(ctx, una, "b1"); err != nil || seq != 44 {
			t.Fatalf("seq after three writes: %d, %v; want 44", seq, err)
		}
	})
}

// listTasks returns the ids of a list's tasks by position, checking that
// the positions are 0..n-1 and agree with Task.
func listTasks(t testing.TB, b *taskboard.Board, actor taskboard.Actor, board, list string) []string {
	t.Helper()
	tasks, _, err := b.Tasks(context.Background(), actor, board)
	if err != nil {
		t.Fatalf("Tasks: %v", err)
	}
	ids := []string{}
	for _, task := range tasks {
		if task.ListID != list {
			continue
		}
		if task.Position != len(ids) {
			t.Fatalf("task %s at position %d, want %d", task.ID, task.Position, len(ids))
		}
		ids = append(ids, task.ID)
	}
	for _, i := range []int{0, len(ids) / 2, len(ids) - 1} {
		if i < 0 || i >= len(ids) {
			continue
		}
		one, err := b.Task(context.Background(), actor, ids[i])
		if err != nil || one.Position != i {
			t.Fatalf("Task(%s): %+v, %v; want position %d", ids[i], one, err, i)
		}
	}
	return ids
}
