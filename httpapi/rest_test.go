package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// taskColumns are the keys of a task row, as the course's schema names them.
var taskColumns = []string{"assignee_id", "board_id", "created_at", "description", "id", "list_id", "position", "title", "updated_at", "version"}

// keysOf returns the sorted keys of a JSON object.
func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// wantUTC fails the test unless v is an RFC 3339 time in UTC.
func wantUTC(t *testing.T, what string, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s: got %v (%T), want an RFC 3339 string", what, v, v)
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s: got %q, want RFC 3339: %v", what, s, err)
	}
	if !strings.HasSuffix(s, "Z") {
		t.Fatalf("%s: got %q, want a UTC time (ending in Z)", what, s)
	}
	return ts
}

var rfc3339Re = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"`)

// TestCourseExercises runs the course's own exercises of its project setup
// lesson: list board-1's tasks, create a task, move it to another list, and
// delete it, with the lesson's shapes and statuses.
func TestCourseExercises(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)

		// Exercise 1: curl http://localhost:3000/boards/board-1/tasks
		res := e.as(e.alice, "GET", "/boards/board-1/tasks", "").want(t, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("GET /boards/board-1/tasks: got Content-Type %q, want application/json; charset=utf-8", ct)
		}
		var list struct {
			Data []map[string]any `json:"data"`
		}
		res.decode(t, &list)
		wantOrder := []string{"task-1", "task-2", "task-3", "task-4"} // by list position, then task position
		var gotOrder []string
		for i, task := range list.Data {
			gotOrder = append(gotOrder, task["id"].(string))
			if got := keysOf(task); !slices.Equal(got, taskColumns) {
				t.Errorf("task %d: got keys %v, want %v", i, got, taskColumns)
			}
			wantUTC(t, "created_at", task["created_at"])
			wantUTC(t, "updated_at", task["updated_at"])
		}
		if !slices.Equal(gotOrder, wantOrder) {
			t.Fatalf("GET /boards/board-1/tasks: got order %v, want %v", gotOrder, wantOrder)
		}
		checkRESTGolden(t, "course_board1_tasks.json", rfc3339Re.ReplaceAll(res.Body, []byte(`"<time>"`)))

		// Exercise 2: create a task and move it to a different list.
		// curl -d sends application/x-www-form-urlencoded; the body is
		// still read as JSON.
		before := e.boardSeq("board-1")
		res = e.do("POST", "/tasks", `{"title":"Write tests","listId":"list-todo"}`,
			bearerHdr(e.alice).with("Content-Type", "application/x-www-form-urlencoded")).want(t, http.StatusCreated)
		created := res.object(t)
		if got := keysOf(created); !slices.Equal(got, taskColumns) {
			t.Errorf("POST /tasks: got keys %v, want %v", got, taskColumns)
		}
		id, _ := created["id"].(string)
		for k, want := range map[string]any{"list_id": "list-todo", "board_id": "board-1", "title": "Write tests",
			"description": nil, "assignee_id": nil, "position": 2.0, "version": 1.0} {
			if created[k] != want {
				t.Errorf("POST /tasks: got %s = %v, want %v", k, created[k], want)
			}
		}
		createdAt := wantUTC(t, "created_at", created["created_at"])
		if d := time.Since(createdAt); d < -time.Minute || d > time.Minute {
			t.Errorf("POST /tasks: created_at %v is not now", createdAt)
		}
		if got := res.Header.Get("ETag"); got != `"1"` {
			t.Errorf("POST /tasks: got ETag %q, want %q", got, `"1"`)
		}

		res = e.as(e.alice, "PATCH", "/tasks/"+id+"/move", `{"listId":"list-done","position":0}`).want(t, http.StatusOK)
		moved := res.object(t)
		for k, want := range map[string]any{"id": id, "list_id": "list-done", "position": 0.0, "version": 2.0, "title": "Write tests"} {
			if moved[k] != want {
				t.Errorf("PATCH /tasks/{id}/move: got %s = %v, want %v", k, moved[k], want)
			}
		}
		if got := res.Header.Get("ETag"); got != `"2"` {
			t.Errorf("PATCH /tasks/{id}/move: got ETag %q, want %q", got, `"2"`)
		}
		// Verify the update: the board's tasks show it first in Done.
		e.as(e.alice, "GET", "/boards/board-1/tasks", "").want(t, http.StatusOK).decode(t, &list)
		gotOrder = nil
		for _, task := range list.Data {
			gotOrder = append(gotOrder, task["id"].(string)+"@"+task["list_id"].(string)+":"+strconv.Itoa(int(task["position"].(float64))))
		}
		wantOrder = []string{"task-1@list-todo:0", "task-2@list-todo:1", "task-3@list-progress:0", id + "@list-done:0", "task-4@list-done:1"}
		if !slices.Equal(gotOrder, wantOrder) {
			t.Errorf("after the move: got %v, want %v", gotOrder, wantOrder)
		}

		res = e.as(e.alice, "DELETE", "/tasks/"+id, "").want(t, http.StatusNoContent)
		if len(res.Body) != 0 {
			t.Errorf("DELETE /tasks/{id}: got body %q, want none", res.Body)
		}
		e.as(e.alice, "DELETE", "/tasks/"+id, "").wantError(t, http.StatusNotFound, "Task not found")
		e.as(e.alice, "GET", "/tasks/"+id, "").wantError(t, http.StatusNotFound, "Task not found")
		e.as(e.alice, "PATCH", "/tasks/"+id+"/move", `{"listId":"list-done","position":0}`).wantError(t, http.StatusNotFound, "Task not found")

		// Exercise 3: every one of these operations is a real-time update.
		var types []string
		for _, ev := range e.events("board-1", before) {
			types = append(types, ev.Type)
			if ev.ActorID != demo.Alice || ev.MutationID != nil {
				t.Errorf("event %d: got actor %q mutationId %v, want %q and null", ev.Seq, ev.ActorID, ev.MutationID, demo.Alice)
			}
		}
		if want := []string{"task_created", "task_moved", "task_deleted"}; !slices.Equal(types, want) {
			t.Errorf("events: got %v, want %v", types, want)
		}
	})
}

// TestRESTRoutes checks each REST route's success answer.
func TestRESTRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)

		var me map[string]any
		e.as(e.alice, "GET", "/users/me", "").want(t, http.StatusOK).decode(t, &me)
		if want := map[string]any{"id": "user-alice", "name": "Alice", "email": "alice@example.com"}; !mapsEqual(me, want) {
			t.Errorf("GET /users/me: got %v, want %v", me, want)
		}

		// Boards.
		var boards struct {
			Data []map[string]any `json:"data"`
		}
		e.as(e.alice, "GET", "/boards", "").want(t, http.StatusOK).decode(t, &boards)
		if len(boards.Data) != 1 || boards.Data[0]["id"] != "board-1" || boards.Data[0]["name"] != "Sprint 12" {
			t.Fatalf("GET /boards: got %v, want board-1 alone", boards.Data)
		}
		if got, want := keysOf(boards.Data[0]), []string{"created_at", "id", "name", "seq"}; !slices.Equal(got, want) {
			t.Errorf("GET /boards: got keys %v, want %v", got, want)
		}
		e.as(e.carol, "GET", "/boards", "").want(t, http.StatusOK).decode(t, &boards)
		if len(boards.Data) != 0 {
			t.Errorf("GET /boards as a member of none: got %v, want []", boards.Data)
		}
		if res := e.as(e.carol, "GET", "/boards", ""); string(res.Body) != "{\"data\":[]}\n" {
			t.Errorf("GET /boards as a member of none: got %s, want {\"data\":[]}", res.Body)
		}

		res := e.as(e.carol, "POST", "/boards", `{"name":"Carol's"}`).want(t, http.StatusCreated)
		board := res.object(t)
		bid, _ := board["id"].(string)
		if board["name"] != "Carol's" || board["seq"] != 0.0 || bid == "" {
			t.Errorf("POST /boards: got %v, want name Carol's, seq 0 and an id", board)
		}
		wantUTC(t, "created_at", board["created_at"])
		e.as(e.carol, "PATCH", "/boards/"+bid, `{"name":"Carol's board"}`).want(t, http.StatusOK).decode(t, &board)
		if board["name"] != "Carol's board" || board["seq"] != 1.0 {
			t.Errorf("PATCH /boards/{boardId}: got %v, want the new name at seq 1", board)
		}

		// Snapshot.
		var snap map[string]any
		res = e.as(e.alice, "GET", "/boards/board-1", "").want(t, http.StatusOK)
		res.decode(t, &snap)
		if got, want := keysOf(snap), []string{"board", "lists", "members", "seq", "tasks"}; !slices.Equal(got, want) {
			t.Fatalf("GET /boards/board-1: got keys %v, want %v", got, want)
		}
		var s taskboard.Snapshot
		res.decode(t, &s)
		if s.Board.ID != "board-1" || len(s.Lists) != 3 || len(s.Tasks) != 4 || len(s.Members) != 2 || s.Seq != 0 {
			t.Errorf("GET /boards/board-1: got %+v, want board-1 with 3 lists, 4 tasks, 2 members at seq 0", s)
		}
		for i, want := range []string{"list-todo", "list-progress", "list-done"} {
			if s.Lists[i].ID != want || s.Lists[i].Position != i {
				t.Errorf("snapshot list %d: got %s at %d, want %s", i, s.Lists[i].ID, s.Lists[i].Position, want)
			}
		}
		if m := snap["members"].([]any)[0].(map[string]any); !slices.Equal(keysOf(m), []string{"email", "id", "name", "role"}) || m["role"] != "owner" {
			t.Errorf("snapshot member: got %v, want email, id, name and Alice's role owner", m)
		}
		if l := snap["lists"].([]any)[0].(map[string]any); !slices.Equal(keysOf(l), []string{"board_id", "id", "name", "position", "version"}) {
			t.Errorf("snapshot list: got keys %v, want board_id, id, name, position, version", keysOf(l))
		}

		// Lists.
		res = e.as(e.alice, "POST", "/boards/board-1/lists", `{"name":"Review","position":1}`).want(t, http.StatusCreated)
		var l taskboard.List
		res.decode(t, &l)
		if l.Name != "Review" || l.Position != 1 || l.Version != 1 || l.BoardID != "board-1" || res.Header.Get("ETag") != `"1"` {
			t.Errorf("POST /boards/board-1/lists: got %+v ETag %s, want Review at 1, version 1, ETag \"1\"", l, res.Header.Get("ETag"))
		}
		last := e.newList(e.alice, "board-1", "Icebox")
		if last.Position != 4 {
			t.Errorf("POST /boards/board-1/lists without position: got position %d, want 4 (last)", last.Position)
		}
		res = e.as(e.alice, "PATCH", "/lists/"+l.ID, `{"name":"Code review"}`).want(t, http.StatusOK)
		res.decode(t, &l)
		if l.Name != "Code review" || l.Version != 2 || res.Header.Get("ETag") != `"2"` {
			t.Errorf("PATCH /lists/{id}: got %+v ETag %s, want Code review at version 2", l, res.Header.Get("ETag"))
		}
		res = e.as(e.alice, "PATCH", "/lists/"+l.ID+"/move", `{"position":99}`).want(t, http.StatusOK)
		res.decode(t, &l)
		if l.Position != 4 || l.Version != 3 || res.Header.Get("ETag") != `"3"` {
			t.Errorf("PATCH /lists/{id}/move past the end: got %+v, want position 4 (last), version 3", l)
		}
		task := e.newTask(e.alice, l.ID, "Doomed")
		e.as(e.alice, "DELETE", "/lists/"+l.ID, "").want(t, http.StatusNoContent)
		e.as(e.alice, "GET", "/tasks/"+task.ID, "").wantError(t, http.StatusNotFound, "Task not found")
		e.as(e.alice, "PATCH", "/lists/"+l.ID, `{"name":"x"}`).wantError(t, http.StatusNotFound, "List not found")
		for i, x := range e.snapshot("board-1").Lists {
			if x.Position != i {
				t.Errorf("after DELETE /lists/{id}: list %s at %d, want %d", x.ID, x.Position, i)
			}
		}

		// Tasks.
		res = e.as(e.alice, "GET", "/tasks/task-2", "").want(t, http.StatusOK)
		var got taskboard.Task
		res.decode(t, &got)
		if got.ID != "task-2" || got.Title != "Set up CI pipeline" || *got.AssigneeID != "user-bob" || res.Header.Get("ETag") != `"1"` {
			t.Errorf("GET /tasks/task-2: got %+v ETag %s", got, res.Header.Get("ETag"))
		}
		res = e.as(e.alice, "PATCH", "/tasks/task-2", `{"title":"Set up CI","description":"GitHub Actions","assigneeId":"user-alice"}`).want(t, http.StatusOK)
		res.decode(t, &got)
		if got.Title != "Set up CI" || got.Description == nil || *got.Description != "GitHub Actions" || *got.AssigneeID != "user-alice" || got.Version != 2 {
			t.Errorf("PATCH /tasks/task-2: got %+v", got)
		}
		res = e.as(e.alice, "PATCH", "/tasks/task-2", `{"description":null,"assigneeId":null}`).want(t, http.StatusOK)
		if m := res.object(t); m["description"] != nil || m["assignee_id"] != nil || m["title"] != "Set up CI" || m["version"] != 3.0 {
			t.Errorf("PATCH /tasks/task-2 with nulls: got %v, want description and assignee_id null, title kept, version 3", m)
		}
		if _, present := res.object(t)["description"]; !present {
			t.Errorf("PATCH /tasks/task-2: description omitted, want null")
		}
		// A task inserted at a position shifts its neighbours.
		res = e.as(e.alice, "POST", "/tasks", `{"title":"First","listId":"list-todo","position":0,"description":"d","assigneeId":"user-bob"}`).want(t, http.StatusCreated)
		res.decode(t, &got)
		if got.Position != 0 || *got.Description != "d" || *got.AssigneeID != "user-bob" {
			t.Errorf("POST /tasks at 0: got %+v", got)
		}
		for _, tk := range e.snapshot("board-1").Tasks {
			if tk.ID == "task-1" && tk.Position != 1 {
				t.Errorf("task-1 after an insert at 0: got position %d, want 1", tk.Position)
			}
		}
		// A move to where the task already is changes nothing.
		seq := e.boardSeq("board-1")
		res = e.as(e.alice, "PATCH", "/tasks/task-3/move", `{"listId":"list-progress","position":0}`).want(t, http.StatusOK)
		res.decode(t, &got)
		if got.Version != 1 || e.boardSeq("board-1") != seq {
			t.Errorf("a move to where the task is: got version %d and seq %d, want 1 and %d", got.Version, e.boardSeq("board-1"), seq)
		}

		// Deleting a board.
		e.as(e.carol, "DELETE", "/boards/"+bid, "").want(t, http.StatusNoContent)
		e.as(e.carol, "GET", "/boards/"+bid, "").wantError(t, http.StatusNotFound, "Board not found")
	})
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// snapshot returns a board's snapshot as Alice sees it, straight from the
// store.
func (e *restEnv) snapshot(boardID string) *taskboard.Snapshot {
	e.t.Helper()
	s, err := e.store.Snapshot(e.t.Context(), taskboard.Actor{UserID: demo.Alice}, boardID)
	if err != nil {
		e.t.Fatalf("Snapshot(%s): %v", boardID, err)
	}
	return s
}

// TestValidation checks that broken rules are 400 with the path and a
// message for each, and that nothing changes.
func TestValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		other := e.newBoard(e.alice, "Other")
		otherList := e.newList(e.alice, other, "Elsewhere")
		before := e.boardSeq("board-1")

		tests := []struct {
			name, method, path, body string
			paths                    []string
		}{
			{"task without title and list", "POST", "/tasks", `{}`, []string{"title", "listId"}},
			{"empty title", "POST", "/tasks", `{"title":"","listId":"list-todo"}`, []string{"title"}},
			{"title of 501 code points", "POST", "/tasks", `{"title":"` + strings.Repeat("é", 501) + `","listId":"list-todo"}`, []string{"title"}},
			{"description of 10001 code points", "POST", "/tasks", `{"title":"t","listId":"list-todo","description":"` + strings.Repeat("x", 10001) + `"}`, []string{"description"}},
			{"title of the wrong type", "POST", "/tasks", `{"title":5,"listId":"list-todo"}`, []string{"title"}},
			{"null title", "POST", "/tasks", `{"title":null,"listId":"list-todo"}`, []string{"title"}},
			{"negative position", "POST", "/tasks", `{"title":"t","listId":"list-todo","position":-1}`, []string{"position"}},
			{"fractional position", "POST", "/tasks", `{"title":"t","listId":"list-todo","position":1.5}`, []string{"position"}},
			{"position as a string", "POST", "/tasks", `{"title":"t","listId":"list-todo","position":"1"}`, []string{"position"}},
			{"assignee not a member", "POST", "/tasks", `{"title":"t","listId":"list-todo","assigneeId":"` + e.carolID + `"}`, []string{"assigneeId"}},
			{"description of the wrong type", "PATCH", "/tasks/task-1", `{"description":7}`, []string{"description"}},
			{"empty title on update", "PATCH", "/tasks/task-1", `{"title":""}`, []string{"title"}},
			{"assignee not a member on update", "PATCH", "/tasks/task-1", `{"assigneeId":"` + e.carolID + `"}`, []string{"assigneeId"}},
			{"move without position", "PATCH", "/tasks/task-1/move", `{"listId":"list-done"}`, []string{"position"}},
			{"move without anything", "PATCH", "/tasks/task-1/move", `{}`, []string{"listId", "position"}},
			{"move to a negative position", "PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":-2}`, []string{"position"}},
			{"move to another board's list", "PATCH", "/tasks/task-1/move", `{"listId":"` + otherList.ID + `","position":0}`, []string{"listId"}},
			{"board without name", "POST", "/boards", `{}`, []string{"name"}},
			{"board name of 201 code points", "PATCH", "/boards/board-1", `{"name":"` + strings.Repeat("ü", 201) + `"}`, []string{"name"}},
			{"empty list name", "POST", "/boards/board-1/lists", `{"name":""}`, []string{"name"}},
			{"list name of the wrong type", "PATCH", "/lists/list-todo", `{"name":false}`, []string{"name"}},
			{"list move without position", "PATCH", "/lists/list-todo/move", `{}`, []string{"position"}},
			{"member without user", "POST", "/boards/board-1/members", `{}`, []string{"userId"}},
			{"session without token", "POST", "/sessions", `{}`, []string{"token"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e.as(e.alice, tc.method, tc.path, tc.body).wantValidation(t, tc.paths...)
			})
		}
		// At a limit is fine.
		e.as(e.alice, "PATCH", "/tasks/task-4", `{"title":"`+strings.Repeat("é", 500)+`","description":"`+strings.Repeat("x", 10000)+`"}`).want(t, http.StatusOK)
		if got := e.boardSeq("board-1"); got != before+1 {
			t.Errorf("board-1 seq: got %d, want %d (only the valid update logged)", got, before+1)
		}

		// Unknown fields are ignored.
		e.as(e.alice, "PATCH", "/lists/list-done", `{"name":"Shipped","colour":"green"}`).want(t, http.StatusOK)

		// Malformed JSON.
		for _, body := range []string{``, `{`, `{"title":"t",}`, `[]`, `"x"`, `{} {}`, `{"title":"t"} x`, `nul`} {
			t.Run("malformed "+body, func(t *testing.T) {
				e.as(e.alice, "POST", "/tasks", body).wantError(t, http.StatusBadRequest, "Invalid JSON")
			})
		}
	})
}

// TestNotFound checks 404 answers, and that a board the caller is not a
// member of is answered exactly like one that does not exist.
func TestNotFound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		carols := e.newBoard(e.carol, "Carol's")
		carolsList := e.newList(e.carol, carols, "Hers")

		tests := []struct {
			name, method, path, body, msg string
		}{
			{"task", "GET", "/tasks/nope", "", "Task not found"},
			{"task update", "PATCH", "/tasks/nope", `{"title":"x"}`, "Task not found"},
			{"task move", "PATCH", "/tasks/nope/move", `{"listId":"list-done","position":0}`, "Task not found"},
			{"task delete", "DELETE", "/tasks/nope", "", "Task not found"},
			{"list of a new task", "POST", "/tasks", `{"title":"t","listId":"nope"}`, "List not found"},
			{"list of a move", "PATCH", "/tasks/task-1/move", `{"listId":"nope","position":0}`, "List not found"},
			{"invisible list of a move", "PATCH", "/tasks/task-1/move", `{"listId":"` + carolsList.ID + `","position":0}`, "List not found"},
			{"invisible list of a new task", "POST", "/tasks", `{"title":"t","listId":"` + carolsList.ID + `"}`, "List not found"},
			{"list update", "PATCH", "/lists/nope", `{"name":"x"}`, "List not found"},
			{"list move", "PATCH", "/lists/nope/move", `{"position":0}`, "List not found"},
			{"list delete", "DELETE", "/lists/nope", "", "List not found"},
			{"board", "GET", "/boards/nope", "", "Board not found"},
			{"board tasks", "GET", "/boards/nope/tasks", "", "Board not found"},
			{"board update", "PATCH", "/boards/nope", `{"name":"x"}`, "Board not found"},
			{"board delete", "DELETE", "/boards/nope", "", "Board not found"},
			{"board lists", "POST", "/boards/nope/lists", `{"name":"x"}`, "Board not found"},
			{"board members", "POST", "/boards/nope/members", `{"userId":"user-bob"}`, "Board not found"},
			{"user to add", "POST", "/boards/board-1/members", `{"userId":"nobody"}`, "User not found"},
			{"user to add by email", "POST", "/boards/board-1/members", `{"email":"nobody@example.com"}`, "User not found"},
			{"member to remove", "DELETE", "/boards/board-1/members/" + e.carolID, "", "User not found"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e.as(e.alice, tc.method, tc.path, tc.body).wantError(t, http.StatusNotFound, tc.msg)
			})
		}

		// Alice is no member of Carol's board: every route answers as if it
		// did not exist, byte for byte.
		carolsTask := e.newTask(e.carol, carolsList.ID, "Private")
		same := []struct{ method, hidden, missing, body string }{
			{"GET", "/boards/" + carols, "/boards/nope", ""},
			{"GET", "/boards/" + carols + "/tasks", "/boards/nope/tasks", ""},
			{"PATCH", "/boards/" + carols, "/boards/nope", `{"name":"mine"}`},
			{"DELETE", "/boards/" + carols, "/boards/nope", ""},
			{"POST", "/boards/" + carols + "/lists", "/boards/nope/lists", `{"name":"x"}`},
			{"POST", "/boards/" + carols + "/members", "/boards/nope/members", `{"userId":"user-alice"}`},
			{"DELETE", "/boards/" + carols + "/members/" + e.carolID, "/boards/nope/members/" + e.carolID, ""},
			{"GET", "/tasks/" + carolsTask.ID, "/tasks/nope", ""},
			{"PATCH", "/tasks/" + carolsTask.ID, "/tasks/nope", `{"title":"x"}`},
			{"PATCH", "/tasks/" + carolsTask.ID + "/move", "/tasks/nope/move", `{"listId":"` + carolsList.ID + `","position":0}`},
			{"DELETE", "/tasks/" + carolsTask.ID, "/tasks/nope", ""},
			{"PATCH", "/lists/" + carolsList.ID, "/lists/nope", `{"name":"x"}`},
			{"PATCH", "/lists/" + carolsList.ID + "/move", "/lists/nope/move", `{"position":0}`},
			{"DELETE", "/lists/" + carolsList.ID, "/lists/nope", ""},
		}
		for _, tc := range same {
			t.Run("hidden "+tc.method+" "+tc.hidden, func(t *testing.T) {
				hidden := e.as(e.alice, tc.method, tc.hidden, tc.body)
				missing := e.as(e.alice, tc.method, tc.missing, tc.body)
				if hidden.Status != http.StatusNotFound || hidden.Status != missing.Status || !bytes.Equal(hidden.Body, missing.Body) {
					t.Errorf("%s %s: got %d %q, want what %s gives: %d %q", tc.method, tc.hidden, hidden.Status, hidden.Body, tc.missing, missing.Status, missing.Body)
				}
				for _, h := range []string{"Content-Type", "ETag", "WWW-Authenticate", "Content-Length"} {
					if hidden.Header.Get(h) != missing.Header.Get(h) {
						t.Errorf("%s %s: got %s %q, want %q", tc.method, tc.hidden, h, hidden.Header.Get(h), missing.Header.Get(h))
					}
				}
			})
		}
		// Nothing of Carol's changed.
		s, err := e.store.Snapshot(t.Context(), taskboard.Actor{UserID: e.carolID}, carols)
		if err != nil || s.Seq != 2 || len(s.Tasks) != 1 || len(s.Members) != 1 || s.Board.Name != "Carol's" {
			t.Errorf("Carol's board after Alice's attempts: got %+v, %v; want unchanged at seq 2", s, err)
		}
	})
}

// TestNULCharacter checks that the NUL character, which neither database
// can store, is a 400 in a text and a 404 in an ID, like any unknown ID, on
// every route, and that nothing changes.
func TestNULCharacter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		before := e.snapshot("board-1")

		texts := []struct {
			name, method, path, body string
			paths                    []string
		}{
			{"task title", "POST", "/tasks", `{"title":"a\u0000b","listId":"list-todo"}`, []string{"title"}},
			{"task description", "POST", "/tasks", `{"title":"t","listId":"list-todo","description":"\u0000"}`, []string{"description"}},
			{"task title on update", "PATCH", "/tasks/task-1", `{"title":"\u0000"}`, []string{"title"}},
			{"task description on update", "PATCH", "/tasks/task-1", `{"description":"x\u0000"}`, []string{"description"}},
			{"assignee on update", "PATCH", "/tasks/task-1", `{"assigneeId":"user-bob\u0000"}`, []string{"assigneeId"}},
			{"board name", "POST", "/boards", `{"name":"\u0000"}`, []string{"name"}},
			{"board name on update", "PATCH", "/boards/board-1", `{"name":"b\u0000"}`, []string{"name"}},
			{"list name", "POST", "/boards/board-1/lists", `{"name":"\u0000"}`, []string{"name"}},
			{"list name on update", "PATCH", "/lists/list-todo", `{"name":"l\u0000"}`, []string{"name"}},
		}
		for _, tc := range texts {
			t.Run(tc.name, func(t *testing.T) {
				e.as(e.alice, tc.method, tc.path, tc.body).wantValidation(t, tc.paths...)
			})
		}

		// An ID holding NUL is answered exactly as an ID that names nothing.
		ids := []struct{ method, nul, missing, body string }{
			{"GET", "/tasks/task-1%00", "/tasks/nope", ""},
			{"PATCH", "/tasks/task-1%00", "/tasks/nope", `{"title":"x"}`},
			{"PATCH", "/tasks/task-1%00/move", "/tasks/nope/move", `{"listId":"list-done","position":0}`},
			{"DELETE", "/tasks/task-1%00", "/tasks/nope", ""},
			{"PATCH", "/lists/list-todo%00", "/lists/nope", `{"name":"x"}`},
			{"PATCH", "/lists/list-todo%00/move", "/lists/nope/move", `{"position":0}`},
			{"DELETE", "/lists/list-todo%00", "/lists/nope", ""},
			{"GET", "/boards/board-1%00", "/boards/nope", ""},
			{"PATCH", "/boards/board-1%00", "/boards/nope", `{"name":"x"}`},
			{"DELETE", "/boards/board-1%00", "/boards/nope", ""},
			{"GET", "/boards/board-1%00/tasks", "/boards/nope/tasks", ""},
			{"POST", "/boards/board-1%00/lists", "/boards/nope/lists", `{"name":"x"}`},
			{"POST", "/boards/board-1%00/members", "/boards/nope/members", `{"userId":"user-bob"}`},
			{"DELETE", "/boards/board-1/members/user-bob%00", "/boards/board-1/members/nope", ""},
			{"GET", "/boards/board-1%00/updates", "/boards/nope/updates", ""},
			{"GET", "/boards/board-1%00/updates?after=0", "/boards/nope/updates?after=0", ""},
			{"GET", "/boards/board-1%00/poll?after=0", "/boards/nope/poll?after=0", ""},
			{"GET", "/boards/board-1%00/events", "/boards/nope/events", ""},
			{"GET", "/boards/board-1%00/presence", "/boards/nope/presence", ""},
			{"POST", "/tasks", "/tasks", `{"title":"t","listId":"list-todo%s"}`},
			{"PATCH", "/tasks/task-1/move", "/tasks/task-1/move", `{"listId":"list-done%s","position":0}`},
			{"POST", "/boards/board-1/members", "/boards/board-1/members", `{"userId":"user-bob%s"}`},
			{"POST", "/boards/board-1/members", "/boards/board-1/members", `{"email":"bob%s@example.com"}`},
		}
		for _, tc := range ids {
			nulBody, missingBody := tc.body, tc.body
			if strings.Contains(tc.body, "%s") {
				nulBody, missingBody = fmt.Sprintf(tc.body, `\u0000`), fmt.Sprintf(tc.body, "-nope")
			}
			t.Run("ID "+tc.method+" "+tc.nul+" "+nulBody, func(t *testing.T) {
				got := e.as(e.alice, tc.method, tc.nul, nulBody)
				want := e.as(e.alice, tc.method, tc.missing, missingBody)
				if got.Status != http.StatusNotFound || got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
					t.Errorf("%s %s %s: got %d %q, want what %s %s gives: %d %q", tc.method, tc.nul, nulBody, got.Status, got.Body, tc.missing, missingBody, want.Status, want.Body)
				}
			})
		}
		// With an Idempotency-Key too: nothing is remembered for such a path.
		h := bearerHdr(e.alice).with("Idempotency-Key", "nul-path")
		for range 2 {
			e.do("PATCH", "/tasks/task-1%00", `{"title":"x"}`, h).wantError(t, http.StatusNotFound, "Task not found")
		}

		if after := e.snapshot("board-1"); !reflect.DeepEqual(after, before) {
			t.Errorf("board-1 after the requests:\ngot  %+v\nwant %+v", after, before)
		}
	})
}

// TestMembers checks adding, changing and removing members.
func TestMembers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		bid := e.newBoard(e.alice, "Team")
		member := func(user, role string) string {
			return `{"board_id":"` + bid + `","user_id":"` + user + `","role":"` + role + `"}` + "\n"
		}

		e.as(e.bob, "GET", "/boards/"+bid, "").wantError(t, http.StatusNotFound, "Board not found")
		res := e.as(e.alice, "POST", "/boards/"+bid+"/members", `{"userId":"user-bob"}`).want(t, http.StatusCreated)
		if want := member("user-bob", "editor"); string(res.Body) != want {
			t.Errorf("POST members: got %s, want %s", res.Body, want)
		}
		e.as(e.bob, "GET", "/boards/"+bid, "").want(t, http.StatusOK)
		seq := e.boardSeq(bid)
		// Adding a member again changes nothing, the role included.
		res = e.as(e.alice, "POST", "/boards/"+bid+"/members", `{"userId":"user-bob","role":"viewer"}`).want(t, http.StatusOK)
		if want := member("user-bob", "editor"); string(res.Body) != want {
			t.Errorf("POST members for a member: got %s, want %s", res.Body, want)
		}
		if got := e.boardSeq(bid); got != seq {
			t.Errorf("adding an existing member: seq went from %d to %d, want unchanged", seq, got)
		}
		// Non-members get 404, members who are no owners 403.
		e.as(e.carol, "PATCH", "/boards/"+bid+"/members/user-bob", `{"role":"viewer"}`).wantError(t, http.StatusNotFound, "Board not found")
		e.as(e.carol, "POST", "/boards/"+bid+"/members", `{"userId":"user-bob"}`).wantError(t, http.StatusNotFound, "Board not found")
		e.as(e.bob, "POST", "/boards/"+bid+"/members", `{"email":"carol@example.com"}`).wantError(t, http.StatusForbidden, "Forbidden")
		res = e.as(e.alice, "POST", "/boards/"+bid+"/members", `{"email":"carol@example.com","role":"viewer"}`).want(t, http.StatusCreated)
		if want := member(e.carolID, "viewer"); string(res.Body) != want {
			t.Errorf("POST members by email: got %s, want %s", res.Body, want)
		}
		e.as(e.alice, "POST", "/boards/"+bid+"/members", `{"userId":"nobody"}`).wantError(t, http.StatusNotFound, "User not found")
		for _, body := range []string{`{"userId":"user-bob","role":"admin"}`, `{"userId":"user-bob","role":""}`, `{"userId":"user-bob","role":null}`, `{"userId":"user-bob","role":3}`} {
			res := e.as(e.alice, "POST", "/boards/"+bid+"/members", body).want(t, http.StatusBadRequest)
			if !strings.Contains(string(res.Body), `"role"`) {
				t.Errorf("POST members %s: got %s, want an error naming role", body, res.Body)
			}
		}

		// Owners change roles; the answer is the member.
		res = e.as(e.alice, "PATCH", "/boards/"+bid+"/members/user-bob", `{"role":"owner"}`).want(t, http.StatusOK)
		if want := member("user-bob", "owner"); string(res.Body) != want {
			t.Errorf("PATCH member: got %s, want %s", res.Body, want)
		}
		e.as(e.carol, "PATCH", "/boards/"+bid+"/members/user-bob", `{"role":"viewer"}`).wantError(t, http.StatusForbidden, "Forbidden")
		e.as(e.alice, "PATCH", "/boards/"+bid+"/members/nobody", `{"role":"viewer"}`).wantError(t, http.StatusNotFound, "User not found")
		e.as(e.alice, "PATCH", "/boards/"+bid+"/members/user-bob", `{}`).want(t, http.StatusBadRequest)
		e.as(e.alice, "PATCH", "/boards/"+bid+"/members/user-bob", `{"role":"boss"}`).want(t, http.StatusBadRequest)

		// Bob, an owner now, makes himself an editor again; then Alice is
		// the last owner.
		e.as(e.bob, "PATCH", "/boards/"+bid+"/members/user-bob", `{"role":"editor"}`).want(t, http.StatusOK)
		seq = e.boardSeq(bid)
		e.as(e.alice, "PATCH", "/boards/"+bid+"/members/user-alice", `{"role":"editor"}`).wantError(t, http.StatusConflict, "a board keeps at least one owner")
		e.as(e.alice, "DELETE", "/boards/"+bid+"/members/user-alice", "").wantError(t, http.StatusConflict, "a board keeps at least one owner")
		e.as(e.bob, "DELETE", "/boards/"+bid+"/members/user-alice", "").wantError(t, http.StatusForbidden, "Forbidden")
		if got := e.boardSeq(bid); got != seq {
			t.Errorf("refused changes of the last owner: seq went from %d to %d, want unchanged", seq, got)
		}
		// A viewer may leave, but not remove others.
		e.as(e.carol, "DELETE", "/boards/"+bid+"/members/user-bob", "").wantError(t, http.StatusForbidden, "Forbidden")
		e.as(e.carol, "DELETE", "/boards/"+bid+"/members/"+e.carolID, "").want(t, http.StatusNoContent)
		e.as(e.carol, "GET", "/boards/"+bid, "").wantError(t, http.StatusNotFound, "Board not found")
		e.as(e.alice, "DELETE", "/boards/"+bid+"/members/"+e.carolID, "").wantError(t, http.StatusNotFound, "User not found")
		// An editor may leave too; then Alice is the last member.
		e.as(e.bob, "DELETE", "/boards/"+bid+"/members/user-bob", "").want(t, http.StatusNoContent)
		e.as(e.alice, "DELETE", "/boards/"+bid+"/members/user-alice", "").wantError(t, http.StatusConflict, "cannot remove the last member of a board")

		var types []string
		for _, ev := range e.events(bid, 0) {
			types = append(types, ev.Type+":"+ev.UserID+":"+string(ev.Role))
		}
		want := []string{"member_added:user-bob:editor", "member_added:" + e.carolID + ":viewer", "member_updated:user-bob:owner",
			"member_updated:user-bob:editor", "member_removed:" + e.carolID + ":", "member_removed:user-bob:"}
		if !slices.Equal(types, want) {
			t.Errorf("events: got %v, want %v", types, want)
		}
	})
}

// TestPreconditions checks If-Match on tasks and lists: a stale version is
// 412 and changes nothing; the current version goes through.
func TestPreconditions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		tests := []struct {
			name, method, path, body string
		}{
			{"task update", "PATCH", "/tasks/task-1", `{"title":"Changed"}`},
			{"task move", "PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":0}`},
			{"task delete", "DELETE", "/tasks/task-1", ""},
			{"list update", "PATCH", "/lists/list-todo", `{"name":"Changed"}`},
			{"list move", "PATCH", "/lists/list-todo/move", `{"position":2}`},
			{"list delete", "DELETE", "/lists/list-todo", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := newRESTEnv(t, sameEngine(t, dsn), nil)
				// Bob makes the entity's version 2.
				isTask := strings.HasPrefix(tc.path, "/tasks/")
				if isTask {
					e.as(e.bob, "PATCH", "/tasks/task-1", `{"description":"by Bob"}`).want(t, http.StatusOK)
				} else {
					e.as(e.bob, "PATCH", "/lists/list-todo", `{"name":"Bob's"}`).want(t, http.StatusOK)
				}
				before, _ := json.Marshal(e.snapshot("board-1"))
				for _, stale := range []string{`"1"`, `W/"1"`, `"x"`, `"999"`, `"0"`} {
					res := e.do(tc.method, tc.path, tc.body, bearerHdr(e.alice).with("If-Match", stale))
					res.wantError(t, http.StatusPreconditionFailed, "Precondition Failed")
				}
				after, _ := json.Marshal(e.snapshot("board-1"))
				if !bytes.Equal(before, after) {
					t.Fatalf("a stale If-Match changed the board:\nbefore %s\nafter  %s", before, after)
				}
				res := e.do(tc.method, tc.path, tc.body, bearerHdr(e.alice).with("If-Match", `"2"`))
				switch {
				case tc.method == "DELETE":
					res.want(t, http.StatusNoContent)
				default:
					res.want(t, http.StatusOK)
					if got := res.Header.Get("ETag"); got != `"3"` {
						t.Errorf("%s %s with If-Match \"2\": got ETag %q, want %q", tc.method, tc.path, got, `"3"`)
					}
				}
			})
		}
	})
}

// sameEngine returns the DSN of a fresh database on dsn's engine.
func sameEngine(t *testing.T, dsn string) string {
	if taskboard.IsPostgres(dsn) {
		return dbtest.Postgres(t)
	}
	return dbtest.SQLite(t)
}

// TestConditionalGets checks ETags and If-None-Match: a board's tasks and
// snapshot are tagged with the board's seq, a task with its version.
func TestConditionalGets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		tests := []struct {
			path    string
			tag     string // at the start
			changed string // after task-2 changes
		}{
			{"/boards/board-1/tasks", `"0"`, `"1"`},
			{"/boards/board-1", `"0"`, `"1"`},
			{"/tasks/task-1", `"1"`, `"1"`}, // another task's change keeps task-1's version
			{"/tasks/task-2", `"1"`, `"2"`},
		}
		for _, tc := range tests {
			res := e.as(e.alice, "GET", tc.path, "").want(t, http.StatusOK)
			if got := res.Header.Get("ETag"); got != tc.tag {
				t.Fatalf("GET %s: got ETag %q, want %q", tc.path, got, tc.tag)
			}
			for _, inm := range []string{tc.tag, "W/" + tc.tag, `"77", ` + tc.tag, "*"} {
				res := e.do("GET", tc.path, "", bearerHdr(e.alice).with("If-None-Match", inm)).want(t, http.StatusNotModified)
				if len(res.Body) != 0 {
					t.Errorf("GET %s with If-None-Match %s: got body %q, want none", tc.path, inm, res.Body)
				}
				if got := res.Header.Get("ETag"); got != tc.tag {
					t.Errorf("GET %s with If-None-Match %s: got ETag %q, want %q", tc.path, inm, got, tc.tag)
				}
			}
			e.do("GET", tc.path, "", bearerHdr(e.alice).with("If-None-Match", `"77"`)).want(t, http.StatusOK)
			// A non-member learns nothing from a conditional request.
			e.do("GET", tc.path, "", bearerHdr(e.carol).with("If-None-Match", tc.tag)).want(t, http.StatusNotFound)
		}
		e.as(e.bob, "PATCH", "/tasks/task-2", `{"title":"Changed"}`).want(t, http.StatusOK)
		for _, tc := range tests {
			res := e.do("GET", tc.path, "", bearerHdr(e.alice).with("If-None-Match", tc.tag))
			if tc.changed == tc.tag {
				res.want(t, http.StatusNotModified)
				continue
			}
			res.want(t, http.StatusOK)
			if got := res.Header.Get("ETag"); got != tc.changed {
				t.Errorf("GET %s after a change: got ETag %q, want %q", tc.path, got, tc.changed)
			}
		}
		// The tag of the board's tasks is the seq the answer is consistent
		// with.
		res := e.as(e.alice, "GET", "/boards/board-1", "")
		var s taskboard.Snapshot
		res.decode(t, &s)
		if got, want := res.Header.Get("ETag"), `"`+strconv.FormatInt(s.Seq, 10)+`"`; got != want {
			t.Errorf("GET /boards/board-1: got ETag %q, want the snapshot's seq %q", got, want)
		}
	})
}
