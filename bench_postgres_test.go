package taskboard_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// BenchmarkPostgresMoves measures aggregate moves per second on PostgreSQL
// with 1, 16 and 64 boards of 10 tasks each, four writer goroutines per
// board, in one process. Besides moves/s it reports the CPU time per move
// of this process (proc-µs/move), of the PostgreSQL backends serving its
// connections (pg-own-µs/move) and of every PostgreSQL process on the host
// (pg-all-µs/move, read from /proc, so it counts the server's own
// processes and whatever else it does meanwhile), and how many samples of
// pg_stat_activity, taken every 20 ms, found one of its writers waiting on
// Lock:object (lock-object-waits; the notifier's own waits are logged
// apart, as "Lock(notifier):object").
func BenchmarkPostgresMoves(b *testing.B) {
	if os.Getenv(dbtest.EnvPostgres) == "" {
		b.Skip(dbtest.EnvPostgres + " is not set")
	}
	for _, boards := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("boards=%d", boards), func(b *testing.B) {
			benchPostgresMoves(b, 1, boards, 4, 10)
		})
	}
	// Two stores over one schema in one process, as two instances, each
	// writing to its half of the boards.
	b.Run("instances=2/boards=64", func(b *testing.B) {
		benchPostgresMoves(b, 2, 64, 4, 10)
	})
}

func benchPostgresMoves(b *testing.B, instances, boards, writersPerBoard, tasksPerBoard int) {
	// The store's connections carry an application name of their own, by
	// which the sampling below finds them and their backends' CPU time.
	const appName = "taskboard-bench-moves"
	dsn := dbtest.Postgres(b) + "&application_name=" + appName
	ctx := context.Background()
	stores := make([]*taskboard.Board, instances)
	for i := range stores {
		var err error
		if stores[i], err = taskboard.Open(ctx, dsn, benchOptions); err != nil {
			b.Fatal(err)
		}
		defer stores[i].Close()
	}
	store := stores[0]
	user, err := store.CreateUser(ctx, taskboard.UserCreate{ID: "bench", Name: "Bench", Email: "bench@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	as := taskboard.Actor{UserID: user.ID}
	type boardTasks struct {
		list  string
		tasks []string
	}
	setup := make([]boardTasks, boards)
	for i := range setup {
		board, err := store.CreateBoard(ctx, as, fmt.Sprint("bench ", i))
		if err != nil {
			b.Fatal(err)
		}
		list, err := store.CreateList(ctx, as, board.ID, taskboard.ListCreate{Name: "list"})
		if err != nil {
			b.Fatal(err)
		}
		setup[i].list = list.ID
		for j := range tasksPerBoard {
			task, err := store.CreateTask(ctx, as, taskboard.TaskCreate{ListID: list.ID, Title: fmt.Sprint("task ", j)})
			if err != nil {
				b.Fatal(err)
			}
			setup[i].tasks = append(setup[i].tasks, task.ID)
		}
	}

	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	var waits sync.Map // "type:event" -> *atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			// The notifier's own statements (pg_notify outside a write) are
			// counted apart from the writers'.
			rows, err := admin.QueryContext(ctx, `SELECT coalesce(wait_event_type, '') || CASE WHEN query LIKE 'SELECT pg_notify%' THEN '(notifier)' ELSE '' END,
					coalesce(wait_event, ''), count(*)
				FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND pid <> pg_backend_pid()
				GROUP BY 1, 2`, appName)
			if err != nil {
				continue
			}
			for rows.Next() {
				var typ, ev string
				var n int64
				if rows.Scan(&typ, &ev, &n) == nil {
					c, _ := waits.LoadOrStore(typ+":"+ev, new(atomic.Int64))
					c.(*atomic.Int64).Add(n)
				}
			}
			rows.Close()
		}
	}()

	writers := boards * writersPerBoard
	var next atomic.Int64
	total := int64(b.N)
	backends := func() []int {
		var pids []int
		rows, err := admin.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var pid int
			if err := rows.Scan(&pid); err != nil {
				b.Fatal(err)
			}
			pids = append(pids, pid)
		}
		return pids
	}
	ownStart := backendsCPU(backends())
	procStart, pgStart := processCPU(), postgresCPU()
	b.ResetTimer()
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range writers {
		bt := setup[w%boards]
		store := stores[(w%boards)%instances]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if next.Add(1) > total {
					return
				}
				task := bt.tasks[(w/boards+i*writersPerBoard)%len(bt.tasks)]
				pos := (i*7 + w) % len(bt.tasks)
				if _, err := store.MoveTask(ctx, as, task, taskboard.TaskMove{ListID: bt.list, Position: &pos}); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	procUsed, pgUsed := processCPU()-procStart, postgresCPU()-pgStart
	// Backends that were there at the start count from there; new ones
	// from zero.
	var ownUsed time.Duration
	for pid, t := range backendsCPU(backends()) {
		ownUsed += t - ownStart[pid]
	}
	close(stopSampling)
	<-sampled
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("MoveTask: %v", err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "moves/s")
	b.ReportMetric(float64(procUsed.Microseconds())/float64(b.N), "proc-µs/move")
	b.ReportMetric(float64(pgUsed.Microseconds())/float64(b.N), "pg-all-µs/move")
	b.ReportMetric(float64(ownUsed.Microseconds())/float64(b.N), "pg-own-µs/move")
	var lockObject int64
	var summary []string
	waits.Range(func(k, v any) bool {
		n := v.(*atomic.Int64).Load()
		if k == "Lock:object" {
			lockObject = n
		}
		summary = append(summary, fmt.Sprintf("%s=%d", k, n))
		return true
	})
	b.ReportMetric(float64(lockObject), "lock-object-waits")
	b.Logf("pg_stat_activity samples (wait_event_type:wait_event=backends): %s", strings.Join(summary, " "))
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendsCPU returns the user and system CPU time of each of pids.
func backendsCPU(pids []int) map[int]time.Duration {
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if t, ok := procCPU(strconv.Itoa(pid)); ok {
			out[pid] = t
		}
	}
	return out
}

// procCPU reads the user and system CPU time of a process from
// /proc/<pid>/stat, if its command is postgres.
func procCPU(pid string) (time.Duration, bool) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(stat)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open || s[open+1:close] != "postgres" {
		return 0, false
	}
	f := strings.Fields(s[close+1:])
	if len(f) < 13 {
		return 0, false
	}
	// Fields 14 and 15 of stat (utime, stime), counted from the state
	// field, which is field 3.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / 100, true // USER_HZ
}

// postgresCPU returns the user and system CPU time of every process named
// postgres on this host, from /proc (0 where /proc is not there). Backends
// that end between two readings take their time with them; the benchmark's
// connections stay open throughout.
func postgresCPU() time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if t, ok := procCPU(e.Name()); ok {
			total += t
		}
	}
	return total
}
