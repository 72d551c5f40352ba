package taskboard_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// A task shifted by another task's move changed position: short polling
// by time reports it, while its version stays.
func TestChangesSinceReportsShiftedNeighbours(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		b, err := taskboard.Open(ctx, dsn, &taskboard.Options{MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if _, err := demo.Seed(ctx, b); err != nil {
			t.Fatal(err)
		}
		seeded, err := b.Task(ctx, taskboard.Actor{UserID: demo.Alice}, "task-2")
		if err != nil {
			t.Fatal(err)
		}
		since := seeded.UpdatedAt
		for !time.Now().UTC().Truncate(time.Microsecond).After(since) {
			// The store's clock has microsecond precision: wait for it to
			// pass the seed time (at most a microsecond).
		}
		if _, err := b.MoveTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1", taskboard.TaskMove{ListID: "list-done", Position: ptr(0)}); err != nil {
			t.Fatal(err)
		}
		c, err := b.ChangesSince(ctx, taskboard.Actor{UserID: demo.Alice}, "board-1", since)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, task := range c.Tasks {
			ids = append(ids, task.ID)
			if task.ID == "task-2" && (task.Position != 0 || task.Version != 1) {
				t.Errorf("task-2: position %d version %d, want 0 and 1", task.Position, task.Version)
			}
		}
		slices.Sort(ids)
		// task-1 moved; task-2 and task-4 shifted in their lists.
		if want := []string{"task-1", "task-2", "task-4"}; !slices.Equal(ids, want) {
			t.Fatalf("ChangesSince: got tasks %v, want %v", ids, want)
		}
	})
}
