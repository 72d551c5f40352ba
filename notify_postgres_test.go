package taskboard_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
)

// openPair opens two stores over one PostgreSQL schema, as two instances.
func openPair(t *testing.T) (a, b *taskboard.Board, dsn string) {
	t.Helper()
	dsn = dbtest.Postgres(t)
	ctx := context.Background()
	var err error
	if a, err = taskboard.Open(ctx, dsn, &taskboard.Options{Logger: testLogger(t)}); err != nil {
		t.Fatalf("open A: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = taskboard.Open(ctx, dsn, &taskboard.Options{Logger: testLogger(t)}); err != nil {
		t.Fatalf("open B: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := demo.Seed(ctx, a); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return a, b, dsn
}

// collect reads n events from sub and returns their seqs.
func collect(t *testing.T, sub *taskboard.Subscription, n int, timeout time.Duration) []int64 {
	t.Helper()
	deadline := time.After(timeout)
	var seqs []int64
	for len(seqs) < n {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatalf("Events closed after %d of %d events: %v", len(seqs), n, sub.Err())
			}
			if ev.Seq != 0 {
				seqs = append(seqs, ev.Seq)
			}
		case <-deadline:
			t.Fatalf("Events: %d of %d events within %v", len(seqs), n, timeout)
		}
	}
	return seqs
}

func wantContiguous(t *testing.T, seqs []int64, from int64) {
	t.Helper()
	for i, s := range seqs {
		if s != from+int64(i) {
			t.Fatalf("event %d has seq %d, want %d (got %v)", i, s, from+int64(i), seqs)
		}
	}
}

func TestPostgresNotifierAcrossInstances(t *testing.T) {
	a, b, _ := openPair(t)
	ctx := context.Background()
	sub, err := b.Subscribe(ctx, taskboard.Actor{UserID: "user-bob"}, "board-1", 0)
	if err != nil {
		t.Fatalf("Subscribe on B: %v", err)
	}
	defer sub.Close()
	req := seam.Push[taskboard.Event]{ID: "tab-x"}
	origin, err := b.Subscribe(seam.WithPush(ctx, &req), taskboard.Actor{UserID: "user-alice"}, "board-1", 0)
	if err != nil {
		t.Fatalf("Subscribe on B for push: %v", err)
	}
	defer origin.Close()
	if _, err := a.MoveTask(ctx, taskboard.Actor{UserID: "user-alice"}, "task-1", taskboard.TaskMove{ListID: "list-done", Position: ptr(0)}); err != nil {
		t.Fatalf("MoveTask on A: %v", err)
	}
	seqs := collect(t, sub, 1, 10*time.Second)
	wantContiguous(t, seqs, 1)
	if st := b.Stats(); st.NotificationsReceived == 0 || st.NotificationLag < 0 {
		t.Errorf("B's listener counters after A's write: %+v, want a notification received", st)
	}

	// Ephemeral events travel in the payload, with their origin: the
	// subscription that caused one does not get it, on any instance.
	typing := taskboard.Event{Type: taskboard.EventUserTyping, BoardID: "board-1", Data: []byte(`{"type":"user_typing"}`)}
	if err := a.Broadcast(seam.MarkOrigin(typing, req.ID)); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	if ev := nextEvent(t, sub); ev.Type != taskboard.EventUserTyping || ev.Seq != 0 {
		t.Fatalf("Events: got %q seq %d, want the ephemeral user_typing", ev.Type, ev.Seq)
	}

	// Deleting the board reaches B even though its log is gone.
	if err := a.DeleteBoard(ctx, taskboard.Actor{UserID: "user-alice"}, "board-1"); err != nil {
		t.Fatalf("DeleteBoard: %v", err)
	}
	if ev := nextEvent(t, sub); ev.Type != taskboard.EventBoardDeleted || ev.Seq != 2 {
		t.Fatalf("Events: got %q seq %d, want board_deleted seq 2", ev.Type, ev.Seq)
	}
	if err := nextErr(t, sub); !errors.Is(err, taskboard.ErrBoardDeleted) {
		t.Fatalf("Err after board_deleted = %v, want ErrBoardDeleted", err)
	}
	for _, want := range []int64{1, 2} {
		if ev := pushNext(t, req.Reader); ev.Seq != want {
			t.Fatalf("Next of the typing subscription: got %q seq %d, want seq %d (not its own typing)", ev.Type, ev.Seq, want)
		}
	}
}

func TestPostgresNotifierConcurrentWritersOnTwoInstances(t *testing.T) {
	a, b, _ := openPair(t)
	ctx := context.Background()
	subA, err := a.Subscribe(ctx, taskboard.Actor{UserID: "user-bob"}, "board-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	subB, err := b.Subscribe(ctx, taskboard.Actor{UserID: "user-alice"}, "board-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Close()
	const perInstance = 100
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, store := range []*taskboard.Board{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perInstance {
				task := fmt.Sprintf("task-%d", 1+(i*2+j)%4)
				list := []string{"list-todo", "list-progress", "list-done"}[j%3]
				if _, err := store.MoveTask(ctx, taskboard.Actor{UserID: "user-alice"}, task, taskboard.TaskMove{ListID: list, Position: ptr(j % 3)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("MoveTask: %v", err)
	}
	seq, err := a.BoardSeq(ctx, taskboard.Actor{UserID: "user-alice"}, "board-1")
	if err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]*taskboard.Subscription{"A": subA, "B": subB} {
		seqs := collect(t, sub, int(seq), 20*time.Second)
		wantContiguous(t, seqs, 1)
		t.Logf("subscriber on %s got %d events", name, len(seqs))
	}
}

func TestPostgresNotifierListenerKilled(t *testing.T) {
	a, b, dsn := openPair(t)
	ctx := context.Background()
	sub, err := b.Subscribe(ctx, taskboard.Actor{UserID: "user-bob"}, "board-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for i := range 20 {
		if i == 5 {
			// Kill every listener of this schema's channel (A's and B's).
			if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`); err != nil {
				t.Fatalf("terminate listeners: %v", err)
			}
		}
		list := []string{"list-done", "list-todo"}[i%2]
		if _, err := a.MoveTask(ctx, taskboard.Actor{UserID: "user-alice"}, "task-1", taskboard.TaskMove{ListID: list, Position: ptr(0)}); err != nil {
			t.Fatalf("MoveTask %d: %v", i, err)
		}
	}
	seqs := collect(t, sub, 20, 30*time.Second)
	wantContiguous(t, seqs, 1)
	deadline := time.Now().Add(30 * time.Second)
	for b.Ready(ctx) != nil || b.Stats().ListenerReconnects == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("listener not back: ready=%v stats=%+v", b.Ready(ctx), b.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
