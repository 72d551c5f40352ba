package taskboard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

// fillList inserts n tasks at the end of an empty list directly in the
// database, whichever way the schema stores order (positions or keys).
func fillList(b *testing.B, store *taskboard.Board, board, list string, n int) {
	b.Helper()
	ctx := context.Background()
	db := seam.DB(store)
	_, err := db.ExecContext(ctx, "SELECT rank FROM tasks LIMIT 0")
	keys := err == nil
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	at := time.Now().UTC()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	const batch = 500
	for start := 0; start < n; start += batch {
		var sb strings.Builder
		col := "position"
		if keys {
			col = "rank"
		}
		fmt.Fprintf(&sb, "INSERT INTO tasks (id, list_id, board_id, title, %s, version, created_at, updated_at) VALUES ", col)
		var args []any
		for i := start; i < min(n, start+batch); i++ {
			if i > start {
				sb.WriteString(", ")
			}
			var order any = i
			if keys { // "e" and five base-62 digits, as the migration makes them
				k := []byte("e00000")
				for j, v := 5, i; j > 0; j, v = j-1, v/62 {
					k[j] = digits[v%62]
				}
				order = string(k)
			}
			sb.WriteString("(?, ?, ?, ?, ?, 1, ?, ?)")
			args = append(args, fmt.Sprintf("fill-%s-%d", list, i), list, board, "fill", order, at, at)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMoveTaskListLength moves one task back and forth between the
// top and the end of a list of 100, 10,000 and 100,000 tasks.
func BenchmarkMoveTaskListLength(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchEach(b, func(b *testing.B, dsn string) {
				f := newFixture(b, dsn, benchOptions)
				board, lists := f.newBoard(b, "bench", "A")
				fillList(b, f.b, board, lists[0], n)
				id := fmt.Sprintf("fill-%s-%d", lists[0], n/2)
				i := 0
				for b.Loop() {
					m := taskboard.TaskMove{ListID: lists[0]}
					if i%2 == 0 {
						m.Position = ptr(0)
					}
					if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, id, m); err != nil {
						b.Fatalf("MoveTask: %v", err)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "moves/s")
			})
		})
	}
}
