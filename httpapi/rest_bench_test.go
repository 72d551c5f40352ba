package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/taskboard/taskboard/internal/dbtest"
)

// BenchmarkListTasks measures GET /boards/{boardId}/tasks through the
// handler, without the network.
func BenchmarkListTasks(b *testing.B) {
	e := newRESTEnv(b, dbtest.SQLite(b), nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/boards/board-1/tasks", nil)
			req.Header.Set("Authorization", "Bearer "+e.alice)
			rec := httptest.NewRecorder()
			e.api.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("GET /boards/board-1/tasks: got %d, want 200", rec.Code)
				return
			}
		}
	})
}

// BenchmarkMoveTask measures PATCH /tasks/{id}/move through the handler.
func BenchmarkMoveTask(b *testing.B) {
	e := newRESTEnv(b, dbtest.SQLite(b), nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest("PATCH", "/tasks/task-1/move", strings.NewReader(`{"listId":"list-todo","position":`+strconv.Itoa(i%2)+`}`))
		req.Header.Set("Authorization", "Bearer "+e.alice)
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("PATCH /tasks/task-1/move: got %d %s, want 200", rec.Code, rec.Body)
		}
	}
}

// BenchmarkListTasksSerial is BenchmarkListTasks on one goroutine: its
// time per operation is the handler's CPU cost of a read.
func BenchmarkListTasksSerial(b *testing.B) {
	e := newRESTEnv(b, dbtest.SQLite(b), nil)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/boards/board-1/tasks", nil)
		req.Header.Set("Authorization", "Bearer "+e.alice)
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("got %d", rec.Code)
		}
	}
}
