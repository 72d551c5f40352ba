package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// The answer of GET /boards/{boardId}/tasks is kept per seq: a change shows
// at once, and a cached answer never reaches a non-member.
func TestTaskListAfterChanges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		type list struct {
			Data []taskboard.Task `json:"data"`
		}
		var before list
		first := e.get(e.alice, "/boards/board-1/tasks").want(t, http.StatusOK, &before)
		e.get(e.alice, "/boards/board-1/tasks").want(t, http.StatusOK, nil)
		e.do("PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":0}`, "Authorization", "Bearer "+e.alice).want(t, http.StatusOK, nil)
		var after list
		res := e.get(e.bob, "/boards/board-1/tasks").want(t, http.StatusOK, &after)
		if res.Header.Get("ETag") == first.Header.Get("ETag") {
			t.Errorf("ETag %s unchanged after a move", res.Header.Get("ETag"))
		}
		for _, task := range after.Data {
			if task.ID == "task-1" && (task.ListID != "list-done" || task.Position != 0) {
				t.Fatalf("after the move: task-1 in %s at %d, want list-done at 0", task.ListID, task.Position)
			}
		}
		if len(before.Data) != len(after.Data) {
			t.Fatalf("got %d tasks after the move, want %d", len(after.Data), len(before.Data))
		}
		e.get(e.carol, "/boards/board-1/tasks").want(t, http.StatusNotFound, nil)
		e.do("GET", "/boards/board-1/tasks", "", "Authorization", "Bearer "+e.bob, "If-None-Match", res.Header.Get("ETag")).want(t, http.StatusNotModified, nil)
	})
}
