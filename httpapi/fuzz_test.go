package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
)

// fuzzRoutes are the write routes whose JSON bodies FuzzWriteBodies sends.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/tasks"},
	{"PATCH", "/tasks/task-1"},
	{"PATCH", "/tasks/task-2/move"},
	{"POST", "/boards"},
	{"PATCH", "/boards/board-1"},
	{"POST", "/boards/board-1/members"},
	{"POST", "/boards/board-1/lists"},
	{"PATCH", "/lists/list-todo"},
	{"PATCH", "/lists/list-progress/move"},
	{"POST", "/sessions"},
	{"POST", "/sessions/demo"},
	{"POST", "/realtime/tickets"},
}

// FuzzWriteBodies sends arbitrary bodies to every write route of a real
// handler over a real SQLite store: the answer is never a server error,
// always JSON, and the board's positions stay contiguous.
func FuzzWriteBodies(f *testing.F) {
	seeds := []string{
		`{"title":"t","listId":"list-todo"}`, `{"title":"t","listId":"list-todo","position":1,"assigneeId":"user-bob","description":null}`,
		`{"title":null}`, `{"description":"d","assigneeId":null}`, `{"listId":"list-done","position":99}`,
		`{"listId":"list-done","position":-1}`, `{"listId":"list-done","position":1.5}`, `{"name":"n"}`, `{"name":""}`,
		`{"userId":"user-bob"}`, `{"email":"bob@example.com"}`, `{"position":0}`, `{"token":"tb_x"}`, `{"userId":"user-alice"}`,
		`{}`, `[]`, `null`, `{"title":"` + string(make([]byte, 600)) + `"}`, `{"title":"\u0000"}`, `{`, ``,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	dir := f.TempDir()
	ctx := context.Background()
	store, err := taskboard.Open(ctx, filepath.Join(dir, "fuzz.db"), &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	if _, err := store.SeedDemo(ctx); err != nil {
		f.Fatal(err)
	}
	_, token, err := store.CreateToken(ctx, taskboard.DemoAlice)
	if err != nil {
		f.Fatal(err)
	}
	h := httpapi.New(store, &httpapi.Options{Demo: true})
	f.Cleanup(h.Close)

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: got %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusNoContent && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: got %d with a body that is not JSON: %q", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		snap, err := store.Snapshot(ctx, taskboard.DemoAlice, "board-1")
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		for i, l := range snap.Lists {
			if l.Position != i {
				t.Fatalf("after %s %s %q: list %s at %d, want %d", rt.method, rt.path, body, l.ID, l.Position, i)
			}
		}
		next := map[string]int{}
		for _, task := range snap.Tasks {
			if task.Position != next[task.ListID] {
				t.Fatalf("after %s %s %q: task %s at %d in %s, want %d", rt.method, rt.path, body, task.ID, task.Position, task.ListID, next[task.ListID])
			}
			next[task.ListID]++
		}
	})
}
