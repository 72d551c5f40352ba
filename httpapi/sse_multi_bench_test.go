package httpapi_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// idleMultiStreams is how many idle streams BenchmarkMultiSSEIdleMemory
// holds open at once.
const idleMultiStreams = 200

// BenchmarkMultiSSEIdleMemory measures the server's memory for one idle
// many-board stream that follows 100 boards: it opens idleMultiStreams
// streams against a real server (SQLite), reads each one's connected
// frame, and reports the growth of the Go heap in use, of goroutine
// stacks and of goroutines, each after a garbage collection, per stream.
// The clients are bare TCP connections, so that little of the growth is
// theirs (a socket each, a few hundred bytes). Run with -benchtime=1x;
// TASKBOARD_BENCH_HEAPPROFILE=FILE writes a heap profile while the streams
// are open (with -memprofilerate 512 for detail).
func BenchmarkMultiSSEIdleMemory(b *testing.B) {
	e := newRESTEnv(b, dbtest.SQLite(b), &httpapi.Options{MaxConnectionsPerUser: -1, WriteRate: -1})
	var ids []string
	for i := range 100 {
		ids = append(ids, e.newBoard(e.alice, fmt.Sprintf("idle %d", i)))
	}
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET /events?boards=" + url.QueryEscape(strings.Join(ids, ",")) + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nAuthorization: Bearer " + e.alice + "\r\nAccept: text/event-stream\r\n\r\n"
	open := func() net.Conn {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write([]byte(req)); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReaderSize(c, 16<<10)
		status, err := br.ReadString('\n')
		if err != nil || !strings.Contains(status, " 200 ") {
			b.Fatalf("GET /events: status %q, %v", status, err)
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				b.Fatalf("reading the stream: %v", err)
			}
			if strings.Contains(line, `{"type":"connected"`) {
				break
			}
		}
		c.SetReadDeadline(time.Time{})
		return c
	}
	sample := func() (runtime.MemStats, int) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m, runtime.NumGoroutine()
	}
	var heap, stack, goroutines float64
	for b.Loop() {
		before, g0 := sample()
		conns := make([]net.Conn, idleMultiStreams)
		for i := range conns {
			conns[i] = open()
		}
		after, g1 := sample()
		if path := os.Getenv("TASKBOARD_BENCH_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		n := float64(len(conns))
		heap = (float64(after.HeapInuse) - float64(before.HeapInuse)) / n
		stack = (float64(after.StackInuse) - float64(before.StackInuse)) / n
		goroutines = float64(g1-g0) / n
		for _, c := range conns {
			c.Close()
		}
		// The streams end when their handlers see the connections close.
		deadline := time.Now().Add(30 * time.Second)
		for runtime.NumGoroutine() > g0+5 {
			if time.Now().After(deadline) {
				b.Fatalf("%d goroutines 30 s after closing the streams, %d before opening them", runtime.NumGoroutine(), g0)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	b.ReportMetric(heap, "heap-B/stream")
	b.ReportMetric(stack, "stack-B/stream")
	b.ReportMetric(goroutines, "goroutines/stream")
}

// writeHeapProfile writes the heap profile to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}
