package taskboard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// TestBackupUnderWriteLoad takes a copy of a SQLite database while writers
// create, move and delete tasks on two boards, then opens the copy: every
// board's log is gapless up to its seq, positions are contiguous, and a
// subscriber that had seen more of the original is told it is ahead.
func TestBackupUnderWriteLoad(t *testing.T) {
	f := newFixture(t, dbtest.SQLite(t), nil)
	other, otherLists := f.newBoard(t, "Other", "A", "B")
	actor := taskboard.Actor{UserID: alice}
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	writes := 0
	writer := func(lists []string) {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			task, err := f.b.CreateTask(ctx, actor, taskboard.TaskCreate{ListID: lists[i%len(lists)], Title: fmt.Sprintf("load %d", i), Position: ptr(i % 3)})
			if err == nil && i%2 == 0 {
				_, err = f.b.MoveTask(ctx, actor, task.ID, taskboard.TaskMove{ListID: lists[(i+1)%len(lists)], Position: ptr(0)})
			}
			if err == nil && i%5 == 0 {
				err = f.b.DeleteTask(ctx, actor, task.ID, taskboard.TaskDelete{})
			}
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("write under load: %v", err)
				}
				return
			}
			mu.Lock()
			writes++
			mu.Unlock()
		}
	}
	wg.Add(2)
	go writer([]string{listTodo, listProgress, listDone})
	go writer(otherLists)
	written := func(n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return writes >= n }
	}
	waitUntil(t, "writes before the backup", written(50))

	dir := filepath.Join(t.TempDir(), "backups")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "copy.db")
	mu.Lock()
	before := writes
	mu.Unlock()
	if err := f.b.Backup(f.ctx, path); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	waitUntil(t, "writes after the backup", written(before+50))
	cancel()
	wg.Wait()
	if err := f.b.Backup(f.ctx, path); !errors.Is(err, os.ErrExist) {
		t.Errorf("Backup onto an existing file: got %v, want os.ErrExist", err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode: got %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("backup folder: got %d entries, want the copy alone", len(entries))
	}

	live := map[string]int64{board1: f.seq(t, board1), other: f.seq(t, other)}
	restored := &fixture{b: openStore(t, path, nil), ctx: f.ctx}
	for _, board := range []string{board1, other} {
		snap, err := restored.b.Snapshot(f.ctx, actor, board)
		if err != nil {
			t.Fatalf("Snapshot(%s) of the copy: %v", board, err)
		}
		if snap.Seq < 2 || snap.Seq >= live[board] {
			t.Errorf("board %s: the copy is at seq %d, the original at %d; want a copy taken during the writes", board, snap.Seq, live[board])
		}
		events := restored.eventsAfter(t, board, 0)
		if len(events) == 0 || events[0].Seq < 1 {
			t.Fatalf("board %s: the copy's log is empty", board)
		}
		for i, ev := range events {
			if ev.Seq != events[0].Seq+int64(i) {
				t.Fatalf("board %s: the copy's log has seq %d after %d", board, ev.Seq, events[i-1].Seq)
			}
		}
		if last := events[len(events)-1].Seq; last != snap.Seq {
			t.Errorf("board %s: the copy's log ends at %d, its seq is %d", board, last, snap.Seq)
		}
		perList := map[string]int{}
		for _, task := range snap.Tasks {
			if task.Position != perList[task.ListID] {
				t.Errorf("board %s: task %s at position %d, want %d", board, task.ID, task.Position, perList[task.ListID])
			}
			perList[task.ListID]++
		}
		for i, l := range snap.Lists {
			if l.Position != i {
				t.Errorf("board %s: list %s at position %d, want %d", board, l.ID, l.Position, i)
			}
		}

		// A client that saw the original's newer events is ahead of the
		// restored copy: it must reset.
		_, err = restored.b.Subscribe(f.ctx, actor, board, live[board])
		wantReset(t, "Subscribe on the restored copy", err, taskboard.ErrAhead, taskboard.ReasonAhead, snap.Seq)
		// The restored copy takes writes, continuing its log.
		if _, err := restored.b.UpdateBoard(f.ctx, actor, board, taskboard.BoardUpdate{Name: ptr("restored")}); err != nil {
			t.Fatalf("UpdateBoard on the copy: %v", err)
		}
		if seq := restored.seq(t, board); seq != snap.Seq+1 {
			t.Errorf("board %s: seq after a write on the copy: got %d, want %d", board, seq, snap.Seq+1)
		}
	}
}

func TestBackupPostgres(t *testing.T) {
	f := newFixture(t, dbtest.Postgres(t), nil)
	if err := f.b.Backup(f.ctx, filepath.Join(t.TempDir(), "x.db")); !errors.Is(err, taskboard.ErrBackupUnsupported) {
		t.Errorf("Backup on PostgreSQL: got %v, want ErrBackupUnsupported", err)
	}
}
