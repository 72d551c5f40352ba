package taskboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

func TestSmoke(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		b, err := taskboard.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if ok, err := b.SeedDemo(ctx); err != nil || !ok {
			t.Fatal(ok, err)
		}
		sub, err := b.Subscribe(ctx, "user-bob", "board-1", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		task, err := b.MoveTask(ctx, "user-alice", "task-1", taskboard.TaskMove{ListID: "list-done", Position: 0})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", task)
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ev, err := sub.Next(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d %s %s", ev.Seq, ev.Type, ev.Data)
		snap, err := b.Snapshot(ctx, "user-bob", "board-1")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", snap)
	})
}
