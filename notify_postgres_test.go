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

// TestPostgresNotifierManyBoards writes to many boards from two instances
// at once: every subscriber, on either instance, gets each board's events
// exactly once and in seq order.
func TestPostgresNotifierManyBoards(t *testing.T) {
	a, b, _ := openPair(t)
	ctx := context.Background()
	alice := taskboard.Actor{UserID: "user-alice"}
	const boards, tasksPerBoard, movesPerWriter = 12, 4, 15
	type boardSetup struct {
		id, list string
		tasks    []string
		start    int64
		subs     map[string]*taskboard.Subscription
	}
	setup := make([]*boardSetup, boards)
	for i := range setup {
		board, err := a.CreateBoard(ctx, alice, fmt.Sprint("board ", i))
		if err != nil {
			t.Fatal(err)
		}
		list, err := a.CreateList(ctx, alice, board.ID, taskboard.ListCreate{Name: "list"})
		if err != nil {
			t.Fatal(err)
		}
		bs := &boardSetup{id: board.ID, list: list.ID, subs: map[string]*taskboard.Subscription{}}
		for j := range tasksPerBoard {
			task, err := a.CreateTask(ctx, alice, taskboard.TaskCreate{ListID: list.ID, Title: fmt.Sprint("task ", j)})
			if err != nil {
				t.Fatal(err)
			}
			bs.tasks = append(bs.tasks, task.ID)
		}
		if bs.start, err = a.BoardSeq(ctx, alice, board.ID); err != nil {
			t.Fatal(err)
		}
		for name, store := range map[string]*taskboard.Board{"A": a, "B": b} {
			sub, err := store.Subscribe(ctx, alice, board.ID, bs.start)
			if err != nil {
				t.Fatalf("Subscribe on %s: %v", name, err)
			}
			t.Cleanup(func() { sub.Close() })
			bs.subs[name] = sub
		}
		setup[i] = bs
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*boards)
	for _, bs := range setup {
		for w, store := range []*taskboard.Board{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range movesPerWriter {
					task := bs.tasks[(w+2*j)%len(bs.tasks)]
					if _, err := store.MoveTask(ctx, alice, task, taskboard.TaskMove{ListID: bs.list, Position: ptr(j % tasksPerBoard)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("MoveTask: %v", err)
	}
	for _, bs := range setup {
		// A move to where the task already is logs nothing.
		end, err := a.BoardSeq(ctx, alice, bs.id)
		if err != nil {
			t.Fatal(err)
		}
		if end < bs.start+movesPerWriter {
			t.Fatalf("board %s: seq %d after the moves, want at least %d", bs.id, end, bs.start+movesPerWriter)
		}
		for _, sub := range bs.subs {
			seqs := collect(t, sub, int(end-bs.start), 20*time.Second)
			wantContiguous(t, seqs, bs.start+1)
		}
		bs.start = end
	}
	for name, store := range map[string]*taskboard.Board{"A": a, "B": b} {
		if st := store.Stats(); st.NotificationsReceived == 0 {
			t.Errorf("%s received no notification: %+v", name, st)
		}
	}
	// Nothing came twice: the next write of each board is the next event
	// of every subscriber.
	for _, bs := range setup {
		if _, err := b.UpdateTask(ctx, alice, bs.tasks[0], taskboard.TaskUpdate{Title: ptr("renamed")}); err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		for name, sub := range bs.subs {
			if seqs := collect(t, sub, 1, 20*time.Second); seqs[0] != bs.start+1 {
				t.Fatalf("board %s, subscriber on %s: next event has seq %d, want %d", bs.id, name, seqs[0], bs.start+1)
			}
		}
	}
}

// TestPostgresNotifierSafetyNet: a change whose instance never announces
// it (it died right after the commit), or that was written to the database
// by other means, still reaches the other instances' subscribers, through
// their periodic check of the followed boards' seqs.
func TestPostgresNotifierSafetyNet(t *testing.T) {
	a, b, dsn := openPair(t)
	ctx := context.Background()
	alice := taskboard.Actor{UserID: "user-alice"}
	sub, err := b.Subscribe(ctx, taskboard.Actor{UserID: "user-bob"}, "board-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	taskboard.HoldNotifications(a)
	for i := range 3 {
		list := []string{"list-done", "list-todo"}[i%2]
		if _, err := a.MoveTask(ctx, alice, "task-1", taskboard.TaskMove{ListID: list, Position: ptr(0)}); err != nil {
			t.Fatalf("MoveTask %d: %v", i, err)
		}
	}
	wantContiguous(t, collect(t, sub, 3, 10*time.Second), 1)

	// A row written straight into the log, with the board's seq.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	tx, err := admin.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (board_id, seq, type, at, mutation_id, data)
		SELECT board_id, seq + 1, type, at, mutation_id, data FROM events WHERE board_id = 'board-1' ORDER BY seq DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE boards SET seq = seq + 1 WHERE id = 'board-1'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, sub); ev.Seq != 4 {
		t.Fatalf("Events: got %q seq %d, want the event written by hand at seq 4", ev.Type, ev.Seq)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
