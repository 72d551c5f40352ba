package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/demo"
)

// TestMain lets the test binary serve as a worker process, as the tool
// does when it re-executes itself, and checks that no test leaves a
// goroutine behind.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == workerFlag {
		if err := runWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(10 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines waits until only the test runner's goroutines are left.
func checkGoroutines(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "taskboard-bench") && !strings.Contains(g, "checkGoroutines") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked goroutines:\n%s", strings.Join(leaked, "\n\n"))
		}
		<-time.After(10 * time.Millisecond) // poll until the goroutines have exited
	}
}

// testServer serves the API over a fresh SQLite database seeded with the
// demo board, and returns its URL and a token of a board member.
func testServer(t *testing.T) (string, string) {
	t.Helper()
	ctx := context.Background()
	store, err := taskboard.Open(ctx, filepath.Join(t.TempDir(), "tb.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	_, token, err := auth.New(store, nil).CreateToken(ctx, demo.Alice)
	if err != nil {
		t.Fatal(err)
	}
	// Limits lifted, as for a benchmark.
	api := httpapi.New(store, &httpapi.Options{AdminToken: "admin-secret", WriteRate: -1})
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		api.Close()
		srv.Close()
		store.Close()
	})
	return srv.URL, token
}

// runBench runs the tool and returns its decoded JSON result and table.
func runBench(t *testing.T, args ...string) (*Result, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "result.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, append(args, "-json", out, "-quiet"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("run %v: %v\nstderr: %s", args, err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return &res, stdout.String()
}

// checkDelivery checks that every subscriber got every event once, in order.
func checkDelivery(t *testing.T, r *RunResult) {
	t.Helper()
	if r.Writes.OK == 0 || r.Writes.Failed != 0 {
		t.Fatalf("writes: %d ok, %d failed (%v), want some and none failed", r.Writes.OK, r.Writes.Failed, r.Writes.Failures)
	}
	for name, d := range r.Transports {
		if d.Lost != 0 || d.Duplicated != 0 || d.OutOfOrder != 0 || d.Behind != 0 || d.Resets != 0 || d.ParseErrors != 0 {
			t.Errorf("%s: lost %d, duplicated %d, out of order %d, behind %d, resets %d, parse errors %d; want all 0 (last error %q)",
				name, d.Lost, d.Duplicated, d.OutOfOrder, d.Behind, d.Resets, d.ParseErrors, d.LastError)
		}
		// Each subscriber receives each event of the board (one).
		if want := r.Events * int64(d.Subscribers); d.Deliveries != want || r.Events < r.Writes.OK {
			t.Errorf("%s: %d deliveries, want %d events × %d subscribers = %d (%d moves ok)", name, d.Deliveries, r.Events, d.Subscribers, want, r.Writes.OK)
		}
		if d.Latency.Count != uint64(d.Deliveries) || d.Latency.P99 <= 0 || d.Latency.Max < d.Latency.P99 {
			t.Errorf("%s: latency %+v does not describe %d deliveries", name, d.Latency, d.Deliveries)
		}
	}
}

func TestFanoutEndToEnd(t *testing.T) {
	url, token := testServer(t)
	res, table := runBench(t, "-url", url, "-token", token, "-admin-token", "admin-secret", "-in-process",
		"-sse", "3", "-ws", "3", "-poll", "2", "-writers", "2", "-rate", "40", "-duration", "1s", "-ramp", "0")
	if len(res.Runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(res.Runs))
	}
	r := res.Runs[0]
	checkDelivery(t, r)
	for _, tr := range []string{transSSE, transWS, transPoll} {
		if r.Transports[tr] == nil {
			t.Errorf("no result for %s", tr)
		}
	}
	if r.ServerAfter == nil || r.ServerAfter.Goroutines == 0 {
		t.Errorf("no server figures from /metrics: %+v", r.ServerAfter)
	}
	for _, want := range []string{"Fan-out", "sse", "ws", "poll", "all"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestWorkerProcessesAndSweepChart(t *testing.T) {
	url, token := testServer(t)
	svg := filepath.Join(t.TempDir(), "sweep.svg")
	res, _ := runBench(t, "-url", url, "-token", token, "-admin-token", "admin-secret", "-mode", "sweep", "-sweep", "2,4", "-sweep-transports", "sse,mixed",
		"-workers", "2", "-writers", "1", "-rate", "20", "-duration", "500ms", "-svg", svg)
	if len(res.Runs) != 4 {
		t.Fatalf("got %d runs, want 4 (2 counts × 2 transports)", len(res.Runs))
	}
	for _, r := range res.Runs {
		checkDelivery(t, r)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("mixed p99")) {
		t.Errorf("chart lacks the svg element or the mixed series:\n%s", b)
	}
}

func TestStormEndToEnd(t *testing.T) {
	url, token := testServer(t)
	res, _ := runBench(t, "-url", url, "-token", token, "-mode", "storm", "-in-process",
		"-sse", "4", "-ws", "4", "-writers", "2", "-rate", "40", "-storm-after", "300ms", "-storm-jitter", "200ms", "-ramp", "0")
	st := res.Storm
	if st == nil || st.Run == nil {
		t.Fatalf("no storm result: %+v", res)
	}
	if st.Dropped != 8 || !st.AllResumed || st.CaughtUp != 8 {
		t.Errorf("storm: dropped %d, caught up %d, all resumed %v; want 8, 8, true", st.Dropped, st.CaughtUp, st.AllResumed)
	}
	checkDelivery(t, st.Run)
}

// TestWritesEndToEnd runs -mode writes at two list lengths and draws its
// chart: every mix yields requests and none fails, and the list is filled
// to each length.
func TestWritesEndToEnd(t *testing.T) {
	url, token := testServer(t)
	res, table := runBench(t, "-url", url, "-token", token, "-mode", "writes", "-list-lengths", "3,20", "-rest-clients", "4", "-duration", "300ms")
	kinds := map[string]bool{}
	for _, w := range res.Writes {
		kinds[fmt.Sprintf("%d %s %s", w.ListLength, w.Mix, w.Name)] = true
		if w.OK == 0 || w.Failed != 0 {
			t.Errorf("%d tasks, %s, %s: %d ok, %d failed (%v); want some and none failed", w.ListLength, w.Mix, w.Name, w.OK, w.Failed, w.Failures)
		}
	}
	for _, n := range []int{3, 20} {
		for _, k := range []string{"create POST /tasks", "create DELETE /tasks/{id}", "create-only POST /tasks", "move-random PATCH /tasks/{id}/move", "move-top PATCH /tasks/{id}/move", "move-across PATCH /tasks/{id}/move"} {
			if !kinds[fmt.Sprintf("%d %s", n, k)] {
				t.Errorf("no result for %d tasks, %s", n, k)
			}
		}
	}
	if !strings.Contains(table, "Writes against list length") {
		t.Errorf("table lacks its title:\n%s", table)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "writes.json")
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	svg := filepath.Join(dir, "writes.svg")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-mode", "writes-chart", "-token", "x", "-compare", "taskboard=" + path, "-svg", svg}, &stdout, &stderr); err != nil {
		t.Fatalf("writes-chart: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("taskboard moves")) || !bytes.Contains(b, []byte("taskboard creates")) {
		t.Errorf("chart lacks its series:\n%s", b)
	}
}

// TestMultiEndToEnd runs -mode multi: streams that each follow three
// boards on one GET /events?boards= stream receive every event of every
// board once and in order, and the frames' id: (the composite cursor of
// the three boards) and whole sizes are measured.
func TestMultiEndToEnd(t *testing.T) {
	url, token := testServer(t)
	setup, _ := runBench(t, "-url", url, "-token", token, "-mode", "setup", "-setup-boards", "3", "-setup-tasks", "4")
	if len(setup.Boards) != 3 {
		t.Fatalf("setup made boards %v, want 3", setup.Boards)
	}
	boards := strings.Join(setup.Boards, ",")
	res, table := runBench(t, "-url", url, "-token", token, "-admin-token", "admin-secret", "-in-process", "-mode", "multi",
		"-boards", boards, "-streams", "4", "-writers", "2", "-board-rate", "10", "-duration", "1s", "-ramp", "0")
	if len(res.Runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(res.Runs))
	}
	r := res.Runs[0]
	if r.Writers != 3 || r.WriteRate != 30 || r.StreamBoards != 3 {
		t.Errorf("writers %d at %g/s, %d boards a stream; want -writers 2 rounded up to one writer a board, 3 × 10/s, 3", r.Writers, r.WriteRate, r.StreamBoards)
	}
	checkDelivery(t, r)
	d := r.Transports[transMulti]
	if d == nil {
		t.Fatalf("no result for %s: %+v", transMulti, r.Transports)
	}
	if d.Frames != d.Deliveries {
		t.Errorf("%d event frames for %d deliveries, want as many", d.Frames, d.Deliveries)
	}
	// "<id>:<seq>,<id>:<seq>,<id>:<seq>" with a one- to three-digit seq each.
	idLen := 0
	for _, b := range setup.Boards {
		idLen += len(b) + 1
	}
	if lo, hi := float64(idLen+2+3), float64(idLen+2+9); d.IDBytesPerFrame < lo || d.IDBytesPerFrame > hi {
		t.Errorf("id %.1f bytes a frame, want %g..%g", d.IDBytesPerFrame, lo, hi)
	}
	if d.BytesPerFrame <= d.IDBytesPerFrame+50 {
		t.Errorf("frames of %.1f bytes with ids of %.1f: the frame size does not count the data", d.BytesPerFrame, d.IDBytesPerFrame)
	}
	if !strings.Contains(table, "sse-multi: 4 streams of 3 boards") {
		t.Errorf("table lacks the frame sizes:\n%s", table)
	}
}
