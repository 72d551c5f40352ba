package taskboard_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// benchEach runs fn as a sub-benchmark on every engine.
func benchEach(b *testing.B, fn func(b *testing.B, dsn string)) {
	for _, e := range dbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) { fn(b, e.DSN(b)) })
	}
}

var benchOptions = &taskboard.Options{MaintenanceInterval: -1}

// BenchmarkCreateTask appends tasks to one list, one transaction (and one
// event) each.
func BenchmarkCreateTask(b *testing.B) {
	benchEach(b, func(b *testing.B, dsn string) {
		f := newFixture(b, dsn, benchOptions)
		i := 0
		for b.Loop() {
			if _, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: fmt.Sprint("task ", i)}); err != nil {
				b.Fatalf("CreateTask: %v", err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	})
}

// BenchmarkMoveTask moves tasks between two lists of 20 tasks each, to
// varying positions: one transaction (and one task_moved event) each.
func BenchmarkMoveTask(b *testing.B) {
	benchEach(b, func(b *testing.B, dsn string) {
		f := newFixture(b, dsn, benchOptions)
		const perList = 20
		lists := []string{listTodo, listProgress}
		var ids []string
		where := map[string]int{}
		for l, list := range lists {
			for len(f.taskIDs(b, board1, list)) < perList {
				id := f.newTask(b, list, "bench").ID
				ids = append(ids, id)
				where[id] = l
			}
		}
		i := 0
		for b.Loop() {
			id := ids[i%len(ids)]
			to := 1 - where[id]
			if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, id, taskboard.TaskMove{ListID: lists[to], Position: ptr((i * 7) % perList)}); err != nil {
				b.Fatalf("MoveTask: %v", err)
			}
			where[id] = to
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "moves/s")
	})
}

// BenchmarkFanout1000 publishes one event per iteration to 1,000
// subscribers of one board and waits until each has received it through
// the push reader's Next (as the HTTP transports read them). ns/op runs
// from just before the write until the last subscriber has the event;
// write-ns/op is the write alone and fanout-ns/op the rest.
func BenchmarkFanout1000(b *testing.B) {
	benchFanout(b, func(ctx context.Context, f *fixture, actor taskboard.Actor) (func() error, error) {
		var req seam.Push[taskboard.Event]
		if _, err := f.b.Subscribe(seam.WithPush(ctx, &req), actor, board1, -1); err != nil {
			return nil, err
		}
		return func() error {
			_, err := req.Reader.Next(ctx)
			return err
		}, nil
	})
}

// BenchmarkFanout1000Channel is BenchmarkFanout1000 with subscribers that
// read the channel of Events.
func BenchmarkFanout1000Channel(b *testing.B) {
	benchFanout(b, func(ctx context.Context, f *fixture, actor taskboard.Actor) (func() error, error) {
		sub, err := f.b.Subscribe(ctx, actor, board1, -1)
		if err != nil {
			return nil, err
		}
		return func() error {
			if _, ok := <-sub.Events(); !ok {
				return sub.Err()
			}
			return nil
		}, nil
	})
}

// benchFanout runs a fan-out benchmark whose 1,000 subscribers are made
// by subscribe, which returns the function that receives one event.
func benchFanout(b *testing.B, subscribe func(ctx context.Context, f *fixture, actor taskboard.Actor) (func() error, error)) {
	benchEach(b, func(b *testing.B, dsn string) {
		const subscribers = 1000
		f := newFixture(b, dsn, benchOptions)
		ctx, cancel := context.WithCancel(f.ctx)
		var received, exited sync.WaitGroup
		for i := range subscribers {
			next, err := subscribe(ctx, f, taskboard.Actor{UserID: []string{alice, bob}[i%2]})
			if err != nil {
				b.Fatalf("Subscribe %d: %v", i, err)
			}
			exited.Add(1)
			go func() {
				defer exited.Done()
				for next() == nil {
					received.Done()
				}
			}()
		}
		defer func() {
			cancel()
			exited.Wait()
		}()

		var write, fanout, worst time.Duration
		i := 0
		for b.Loop() {
			received.Add(subscribers)
			start := time.Now()
			if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr(fmt.Sprint("title ", i))}); err != nil {
				b.Fatalf("UpdateTask: %v", err)
			}
			written := time.Now()
			received.Wait()
			all := time.Since(written)
			write += written.Sub(start)
			fanout += all
			worst = max(worst, all)
			i++
		}
		b.ReportMetric(float64(write.Nanoseconds())/float64(b.N), "write-ns/op")
		b.ReportMetric(float64(fanout.Nanoseconds())/float64(b.N), "fanout-ns/op")
		b.ReportMetric(float64(worst.Nanoseconds()), "max-fanout-ns")
	})
}

// BenchmarkMoveTaskParallel runs 50 writers at once (25 per CPU), each
// moving tasks of its own between two lists of one board, as 50 HTTP
// clients would. On SQLite the writes queued together share a commit.
func BenchmarkMoveTaskParallel(b *testing.B) {
	benchEach(b, func(b *testing.B, dsn string) {
		f := newFixture(b, dsn, benchOptions)
		board, lists := f.newBoard(b, "bench", "A", "B")
		_ = board
		const writers = 50
		ids := make(chan string, writers*4)
		for i := range writers * 4 {
			ids <- f.newTask(b, lists[i%2], "bench").ID
		}
		b.SetParallelism(writers / runtime.GOMAXPROCS(0))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			id := <-ids
			i := 0
			for pb.Next() {
				m := taskboard.TaskMove{ListID: lists[i%2], Position: ptr((i * 7) % 100)}
				if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, id, m); err != nil {
					b.Errorf("MoveTask: %v", err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "moves/s")
	})
}
