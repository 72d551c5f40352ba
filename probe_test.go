package taskboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

func TestProbeDeletedGap(t *testing.T) {
	ctx := context.Background()
	b, err := taskboard.Open(ctx, dbtest.SQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SeedDemo(ctx)
	if _, err := b.MoveTask(ctx, "user-alice", "task-1", taskboard.TaskMove{ListID: "list-done"}); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, "user-bob", "board-1", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBoard(ctx, "user-alice", "board-1"); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for {
		ev, err := sub.Next(c)
		t.Log(ev.Seq, ev.Type, err)
		if err != nil {
			return
		}
	}
}

func TestProbeNeverRead(t *testing.T) {
	ctx := context.Background()
	b, err := taskboard.Open(ctx, dbtest.SQLite(t), &taskboard.Options{SubscriberBuffer: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SeedDemo(ctx)
	sub, err := b.Subscribe(ctx, "user-bob", "board-1", -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		n := string(rune('a' + i))
		if _, err := b.UpdateBoard(ctx, "user-alice", "board-1", taskboard.BoardUpdate{Name: &n}); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("err after 10 writes with buffer 4:", sub.Err())
}
