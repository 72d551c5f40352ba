package taskboard_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// longestRank returns the longest order key of a list's tasks.
func longestRank(t testing.TB, b *taskboard.Board, list string) int {
	t.Helper()
	var n int
	if err := seam.DB(b).NewRaw("SELECT COALESCE(MAX(LENGTH(rank)), 0) FROM tasks WHERE list_id = ?", list).Scan(context.Background(), &n); err != nil {
		t.Fatalf("longest key: %v", err)
	}
	return n
}

// TestInsertsAtOneSpot creates tasks again and again at position 1 and
// moves others to position 2, where keys grow fastest: the server respaces
// keys on its own, the order stays the model's, keys stay bounded, every
// other task keeps its version, and each write logs exactly its one event.
func TestInsertsAtOneSpot(t *testing.T) {
	for _, limit := range []int{0, 6, 3} { // 0: the default
		t.Run(fmt.Sprint("max key length ", limit), func(t *testing.T) {
			if limit > 0 {
				defer taskboard.SetMaxRankLen(limit)()
			}
			dbtest.Each(t, func(t *testing.T, dsn string) {
				f := newFixture(t, dsn, nil)
				ctx := f.ctx
				board, lists := f.newBoard(t, "spot", "A", "B")
				want := []string{}
				for i := range 3 {
					want = append(want, f.newTask(t, lists[0], fmt.Sprint("seed ", i)).ID)
				}
				other := f.newTask(t, lists[1], "other").ID
				seq := f.seq(t, board)
				versions := map[string]int64{}
				writes := 400
				if limit == 0 {
					writes = 700
				}
				for i := range writes {
					task, err := f.b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: lists[0], Title: fmt.Sprint("t", i), Position: ptr(1)})
					if err != nil {
						t.Fatalf("CreateTask %d: %v", i, err)
					}
					if task.Position != 1 {
						t.Fatalf("CreateTask %d at position %d", i, task.Position)
					}
					want = slices.Insert(want, 1, task.ID)
					if i%10 == 9 {
						// Move the last to position 2, across the dense spot.
						id := want[len(want)-1]
						moved, err := f.b.MoveTask(ctx, taskboard.Actor{UserID: alice}, id, taskboard.TaskMove{ListID: lists[0], Position: ptr(2)})
						versions[id]++
						if err != nil || moved.Position != 2 || moved.Version != versions[id]+1 {
							t.Fatalf("MoveTask %d: %+v, %v", i, moved, err)
						}
						want = slices.Insert(want[:len(want)-1], 2, id)
						seq++
					}
					seq++
				}
				if got := listTasks(t, f.b, taskboard.Actor{UserID: alice}, board, lists[0]); !slices.Equal(got, want) {
					t.Fatalf("order differs from the model")
				}
				if got := f.seq(t, board); got != seq {
					t.Fatalf("seq %d, want %d: respacing must log nothing", got, seq)
				}
				tasks, _, err := f.b.Tasks(ctx, taskboard.Actor{UserID: alice}, board)
				if err != nil {
					t.Fatal(err)
				}
				for _, task := range tasks {
					if task.Version != versions[task.ID]+1 {
						t.Fatalf("task %s at version %d, want %d", task.ID, task.Version, versions[task.ID]+1)
					}
				}
				max := limit
				if max == 0 {
					max = 24
				}
				if got := longestRank(t, f.b, lists[0]); got > max+1 {
					t.Fatalf("longest key %d, limit %d", got, max)
				}
				if got := listTasks(t, f.b, taskboard.Actor{UserID: alice}, board, lists[1]); !slices.Equal(got, []string{other}) {
					t.Fatalf("list B: %v", got)
				}
			})
		})
	}
}

// TestRespaceWhenKeysRunOut packs keys so tight that every insert between
// two neighbours needs new keys (a limit of 3 bytes: only the whole list
// respaced fits), with random creates, moves and deletes checked against
// a model on both engines.
func TestRespaceWhenKeysRunOut(t *testing.T) {
	defer taskboard.SetMaxRankLen(3)()
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx := f.ctx
		alice := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "tight", "A", "B")
		model := [][]string{{}, {}}
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		for i := range 300 {
			l := rng.Intn(2)
			switch op := rng.Intn(4); {
			case op <= 1 || len(model[l]) == 0:
				p := rng.Intn(len(model[l]) + 1)
				task, err := f.b.CreateTask(ctx, alice, taskboard.TaskCreate{ListID: lists[l], Title: fmt.Sprint(i), Position: ptr(p)})
				if err != nil {
					t.Fatalf("CreateTask: %v", err)
				}
				model[l] = slices.Insert(model[l], p, task.ID)
			case op == 2:
				from := rng.Intn(len(model[l]))
				id := model[l][from]
				to := 1 - l
				if rng.Intn(2) == 0 {
					to = l
				}
				model[l] = slices.Delete(model[l], from, from+1)
				p := rng.Intn(len(model[to]) + 1)
				if _, err := f.b.MoveTask(ctx, alice, id, taskboard.TaskMove{ListID: lists[to], Position: ptr(p)}); err != nil {
					t.Fatalf("MoveTask: %v", err)
				}
				model[to] = slices.Insert(model[to], p, id)
			default:
				p := rng.Intn(len(model[l]))
				if err := f.b.DeleteTask(ctx, alice, model[l][p], taskboard.TaskDelete{}); err != nil {
					t.Fatalf("DeleteTask: %v", err)
				}
				model[l] = slices.Delete(model[l], p, p+1)
			}
		}
		for l := range lists {
			if got := listTasks(t, f.b, alice, board, lists[l]); !slices.Equal(got, model[l]) {
				t.Fatalf("list %d:\n got %v\nwant %v", l, got, model[l])
			}
		}
		// Lists are ordered the same way.
		var want []string
		got, err := f.b.Lists(ctx, alice, board)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range got {
			want = append(want, l.ID)
		}
		for i := range 100 {
			l, err := f.b.CreateList(ctx, alice, board, taskboard.ListCreate{Name: fmt.Sprint(i), Position: ptr(1)})
			if err != nil || l.Position != 1 {
				t.Fatalf("CreateList: %+v, %v", l, err)
			}
			want = slices.Insert(want, 1, l.ID)
		}
		got, err = f.b.Lists(ctx, alice, board)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range got {
			if l.ID != want[i] || l.Position != i || l.Version != 1 {
				t.Fatalf("list %d: %+v, want %s", i, l, want[i])
			}
		}
	})
}

// TestOrderIndexFollowsOtherInstances writes through two stores sharing a
// database: each one's order index must notice the other's writes.
func TestOrderIndexFollowsOtherInstances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		other := openStore(t, dsn, nil)
		ctx := f.ctx
		alice := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "two", "A")
		var want []string
		for i := range 40 {
			b := f.b
			if i%3 == 1 {
				b = other
			}
			p := (i * 7) % (len(want) + 1)
			task, err := b.CreateTask(ctx, alice, taskboard.TaskCreate{ListID: lists[0], Title: fmt.Sprint(i), Position: ptr(p)})
			if err != nil || task.Position != p {
				t.Fatalf("CreateTask %d: %+v, %v", i, task, err)
			}
			want = slices.Insert(want, p, task.ID)
			if i%4 == 3 {
				id := want[0]
				moved, err := b.MoveTask(ctx, alice, id, taskboard.TaskMove{ListID: lists[0]})
				if err != nil || moved.Position != len(want)-1 {
					t.Fatalf("MoveTask %d: %+v, %v", i, moved, err)
				}
				want = append(want[1:], id)
			}
		}
		for _, b := range []*taskboard.Board{f.b, other} {
			if got := listTasks(t, b, alice, board, lists[0]); !slices.Equal(got, want) {
				t.Fatalf("order differs:\n got %v\nwant %v", got, want)
			}
		}
	})
}

// TestChangesSinceReturnsReorderedLists checks short polling by time: a
// move returns every task of the lists whose order it changed, though the
// shifted tasks keep their version and updated_at.
func TestChangesSinceReturnsReorderedLists(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx := f.ctx
		alice := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "poll", "A", "B", "C")
		var a []*taskboard.Task
		for i := range 4 {
			a = append(a, f.newTask(t, lists[0], fmt.Sprint("a", i)))
		}
		f.newTask(t, lists[2], "c0")
		time.Sleep(20 * time.Millisecond)
		since := time.Now()
		time.Sleep(20 * time.Millisecond)
		if _, err := f.b.MoveTask(ctx, alice, a[0].ID, taskboard.TaskMove{ListID: lists[1]}); err != nil {
			t.Fatal(err)
		}
		c, err := f.b.ChangesSince(ctx, alice, board, since)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, task := range c.Tasks {
			got[task.Title] = task.Position
			if task.Title != "a0" && (task.Version != 1 || !task.UpdatedAt.Before(since)) {
				t.Errorf("shifted task %s: version %d, updated_at %v", task.Title, task.Version, task.UpdatedAt)
			}
		}
		want := map[string]int{"a0": 0, "a1": 0, "a2": 1, "a3": 2}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ChangesSince: %v, want %v", got, want)
		}
	})
}

// TestOrderIndexAfterRollback makes writes fail after they changed the
// order (in their transaction's hook, just before the commit): the order
// index must not keep what rolled back.
func TestOrderIndexAfterRollback(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		alice := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "rollback", "A", "B")
		var want []string
		for i := range 5 {
			want = append(want, f.newTask(t, lists[0], fmt.Sprint(i)).ID)
		}
		fail := seam.WithTxHook(f.ctx, func(ctx context.Context, tx bun.Tx) error { return errors.New("no") })
		if _, err := f.b.CreateTask(fail, alice, taskboard.TaskCreate{ListID: lists[0], Title: "gone", Position: ptr(0)}); err == nil {
			t.Fatal("CreateTask with a failing hook: no error")
		}
		if _, err := f.b.MoveTask(fail, alice, want[4], taskboard.TaskMove{ListID: lists[0], Position: ptr(0)}); err == nil {
			t.Fatal("MoveTask with a failing hook: no error")
		}
		if err := f.b.DeleteTask(fail, alice, want[2], taskboard.TaskDelete{}); err == nil {
			t.Fatal("DeleteTask with a failing hook: no error")
		}
		if _, err := f.b.MoveList(fail, alice, lists[1], taskboard.ListMove{Position: ptr(0)}); err == nil {
			t.Fatal("MoveList with a failing hook: no error")
		}
		moved, err := f.b.MoveTask(f.ctx, alice, want[1], taskboard.TaskMove{ListID: lists[0], Position: ptr(3)})
		if err != nil || moved.Position != 3 {
			t.Fatalf("MoveTask: %+v, %v", moved, err)
		}
		want = []string{want[0], want[2], want[3], want[1], want[4]}
		if got := listTasks(t, f.b, alice, board, lists[0]); !slices.Equal(got, want) {
			t.Fatalf("order:\n got %v\nwant %v", got, want)
		}
		l, err := f.b.MoveList(f.ctx, alice, lists[0], taskboard.ListMove{Position: ptr(1)})
		if err != nil || l.Position != 1 {
			t.Fatalf("MoveList: %+v, %v", l, err)
		}
	})
}

// TestTightKeys runs the randomized order model and the racing writers
// with keys so short that most writes respace their neighbours.
func TestTightKeys(t *testing.T) {
	defer taskboard.SetMaxRankLen(3)()
	t.Run("model", TestRandomOperationsMatchModel)
	t.Run("racing writers", TestConcurrentWritersSucceed)
}
