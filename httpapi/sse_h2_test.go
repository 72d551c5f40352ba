package httpapi_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// TestSSEOverHTTP2 follows a board over HTTP/2, where the stream cannot
// take its connection over and is served by its handler's goroutine.
func TestSSEOverHTTP2(t *testing.T) {
	ctx := context.Background()
	store, err := taskboard.Open(ctx, dbtest.SQLite(t), &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := demo.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	_, bob, err := auth.New(store, nil).CreateToken(ctx, demo.Bob)
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(store, rtOptions())
	srv := httptest.NewUnstartedServer(api)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer api.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/boards/board-1/events", nil)
	req.Header.Set("Authorization", "Bearer "+bob)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("got %s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	want := func(prefix string) string {
		t.Helper()
		deadline := time.After(rtWait)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("no line %q in time", prefix)
			}
		}
	}
	want(`data: {"type":"connected"`)
	_, err = store.MoveTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1", taskboard.TaskMove{ListID: "list-done"})
	if err != nil {
		t.Fatal(err)
	}
	if l := want("id: "); l != "id: 1" {
		t.Fatalf("got %q, want id: 1", l)
	}
	want(`data: {"type":"task_moved"`)
	want(": heartbeat")
}

// TestMultiSSEOverTLS follows boards on one stream over TLS, with HTTP/1.1
// (the stream takes its connection over and writes each chunk contiguous,
// as a TLS connection has no vectored write) and with HTTP/2 (the stream
// writes through its ResponseWriter).
func TestMultiSSEOverTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			ctx := context.Background()
			store, err := taskboard.Open(ctx, dbtest.SQLite(t), &taskboard.Options{MaintenanceInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if _, err := demo.Seed(ctx, store); err != nil {
				t.Fatal(err)
			}
			_, bob, err := auth.New(store, nil).CreateToken(ctx, demo.Bob)
			if err != nil {
				t.Fatal(err)
			}
			api := httpapi.New(store, rtOptions())
			srv := httptest.NewUnstartedServer(api)
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()
			defer api.Close()

			req, _ := http.NewRequest("GET", srv.URL+"/events?boards=board-1", nil)
			req.Header.Set("Authorization", "Bearer "+bob)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if wantMajor := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != wantMajor || resp.StatusCode != http.StatusOK {
				t.Fatalf("got %s %d, want HTTP/%d 200", resp.Proto, resp.StatusCode, wantMajor)
			}
			lines := make(chan string, 100)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			want := func(prefix string) string {
				t.Helper()
				deadline := time.After(rtWait)
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("stream ended before %q", prefix)
						}
						if strings.HasPrefix(l, prefix) {
							return l
						}
					case <-deadline:
						t.Fatalf("no line %q in time", prefix)
					}
				}
			}
			if l := want("id: "); l != "id: board-1:0" {
				t.Fatalf("connected frame: got %q, want id: board-1:0", l)
			}
			want(`data: {"type":"connected"`)
			_, err = store.MoveTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1", taskboard.TaskMove{ListID: "list-done"})
			if err != nil {
				t.Fatal(err)
			}
			if l := want("id: "); l != "id: board-1:1" {
				t.Fatalf("got %q, want id: board-1:1", l)
			}
			want(`data: {"type":"task_moved"`)
			want(": heartbeat")
		})
	}
}
