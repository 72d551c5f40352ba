package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// TestRoleRoutes makes every write route's request as a viewer, an editor
// and a non-member of board-1: a role that may not is 403 Forbidden, a
// non-member 404 as for a board that does not exist, and neither changes
// anything; every read route answers a viewer.
func TestRoleRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		ctx := context.Background()
		// Carol is a viewer; Dave is no member.
		if _, _, err := e.store.AddMember(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, taskboard.MemberRef{UserID: e.carolID, Role: taskboard.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		dave, err := e.store.CreateUser(ctx, taskboard.UserCreate{Name: "Dave", Email: "dave@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		_, daveToken, err := e.creds.CreateToken(ctx, dave.ID)
		if err != nil {
			t.Fatal(err)
		}

		const (
			editor = iota + 1
			owner
		)
		routes := []struct {
			method, path, body string
			need               int
			notFound           string // a non-member's 404
		}{
			{"POST", "/tasks", `{"title":"New","listId":"list-todo"}`, editor, "List not found"},
			{"PATCH", "/tasks/task-1", `{"title":"Changed"}`, editor, "Task not found"},
			{"PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":0}`, editor, "Task not found"},
			{"DELETE", "/tasks/task-1", "", editor, "Task not found"},
			{"POST", "/boards/board-1/lists", `{"name":"New"}`, editor, "Board not found"},
			{"PATCH", "/lists/list-todo", `{"name":"Changed"}`, editor, "List not found"},
			{"PATCH", "/lists/list-todo/move", `{"position":2}`, editor, "List not found"},
			{"DELETE", "/lists/list-todo", "", editor, "List not found"},
			{"PATCH", "/boards/board-1", `{"name":"Changed"}`, owner, "Board not found"},
			{"DELETE", "/boards/board-1", "", owner, "Board not found"},
			{"POST", "/boards/board-1/members", `{"email":"dave@example.com"}`, owner, "Board not found"},
			{"PATCH", "/boards/board-1/members/user-alice", `{"role":"owner"}`, owner, "Board not found"},
			{"DELETE", "/boards/board-1/members/user-alice", "", owner, "Board not found"},
		}
		before, _ := json.Marshal(e.snapshot("board-1"))
		for _, r := range routes {
			for _, who := range []struct {
				name  string
				token string
				rank  int
			}{{"viewer", e.carol, 0}, {"editor", e.bob, editor}, {"non-member", daveToken, -1}} {
				if who.rank >= r.need {
					continue
				}
				res := e.as(who.token, r.method, r.path, r.body)
				if who.rank < 0 {
					res.wantError(t, http.StatusNotFound, r.notFound)
				} else {
					res.wantError(t, http.StatusForbidden, "Forbidden")
				}
			}
		}
		if after, _ := json.Marshal(e.snapshot("board-1")); !bytes.Equal(before, after) {
			t.Fatalf("refused writes changed board-1:\nbefore %s\nafter  %s", before, after)
		}
		for _, path := range []string{"/boards/board-1", "/boards/board-1/tasks", "/tasks/task-1", "/boards/board-1/updates?after=0", "/boards/board-1/presence", "/boards"} {
			e.as(e.carol, "GET", path, "").want(t, http.StatusOK)
		}
		e.as(daveToken, "GET", "/boards/board-1", "").wantError(t, http.StatusNotFound, "Board not found")

		// The snapshot's members carry their roles.
		roles := map[string]taskboard.Role{}
		for _, m := range e.snapshot("board-1").Members {
			roles[m.ID] = m.Role
		}
		if roles[demo.Alice] != taskboard.RoleOwner || roles[demo.Bob] != taskboard.RoleEditor || roles[e.carolID] != taskboard.RoleViewer {
			t.Fatalf("snapshot roles: got %v, want Alice owner, Bob editor, Carol viewer", roles)
		}
		// What the roles allow goes through: the editor's work, then the
		// viewer leaving.
		for _, r := range routes[:8] {
			e.as(e.bob, r.method, r.path, r.body)
		}
		if n := len(e.events("board-1", 0)); n < 7 {
			t.Fatalf("an editor's writes logged %d events, want 7 or more", n)
		}
		e.as(e.carol, "DELETE", "/boards/board-1/members/"+e.carolID, "").want(t, http.StatusNoContent)
		e.as(e.carol, "GET", "/boards/board-1", "").wantError(t, http.StatusNotFound, "Board not found")
	})
}

// TestWSViewer checks a viewer's WebSocket: it joins and is present, its
// typing and stop_typing are answered Forbidden with the connection open,
// and a role change applies at once, both ways, without rejoining.
func TestWSViewer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		alice := taskboard.Actor{UserID: demo.Alice}
		if _, err := e.store.UpdateMember(ctx, alice, demo.Board, demo.Bob, taskboard.RoleViewer); err != nil {
			t.Fatal(err)
		}
		watcher := e.bearerWS(e.alice)
		watcher.join("board-1", -1)
		bob := e.bearerWS(e.bob)
		bob.join("board-1", -1)
		// Bob, a viewer, is present.
		for m := watcher.mustNext(); m.Type != taskboard.EventUserJoined || m.User == nil || m.User.ID != demo.Bob; m = watcher.mustNext() {
		}

		for _, typ := range []string{"typing", "stop_typing"} {
			bob.send(`{"type":"` + typ + `","boardId":"board-1","taskId":"task-1"}`)
			if m := bob.expect("error"); m.Error != "Forbidden" || m.BoardID != "board-1" {
				t.Fatalf("%s of a viewer: got %s, want Forbidden for board-1", typ, m.raw)
			}
		}
		pingPong(t, bob) // still open

		// Promoted: his next typing goes through, with no rejoin.
		if _, err := e.store.UpdateMember(ctx, alice, demo.Board, demo.Bob, taskboard.RoleEditor); err != nil {
			t.Fatal(err)
		}
		bob.send(`{"type":"typing","boardId":"board-1","taskId":"task-1"}`)
		for m := bob.mustNext(); m.Type != taskboard.EventMemberUpdated; m = bob.mustNext() {
			if m.Type == "error" {
				t.Fatalf("typing after the promotion: got %s", m.raw)
			}
		}
		for m := watcher.mustNext(); m.Type != taskboard.EventUserTyping; m = watcher.mustNext() {
		}
		// Demoted again: refused at once.
		if _, err := e.store.UpdateMember(ctx, alice, demo.Board, demo.Bob, taskboard.RoleViewer); err != nil {
			t.Fatal(err)
		}
		bob.send(`{"type":"typing","boardId":"board-1","taskId":"task-2"}`)
		for m := bob.mustNext(); m.Type != "error"; m = bob.mustNext() {
			if m.Type == taskboard.EventUserTyping {
				t.Fatalf("typing after the demotion relayed: %s", m.raw)
			}
		}
		pingPong(t, bob)
		// Bob's stream goes on: the next write reaches him.
		last := e.write(1, "task-3")
		for m := bob.mustNext(); m.Seq != last; m = bob.mustNext() {
			if m.Type == "reset" {
				t.Fatalf("a viewer's stream was reset: %s", m.raw)
			}
		}
	})
}

// TestSSERoleChange follows board-1 over SSE while the member's role
// changes: member_updated arrives and the stream stays open; the reads the
// stream makes are a viewer's too.
func TestSSERoleChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+e.bob)
		s.preamble()
		if _, err := e.store.UpdateMember(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, demo.Bob, taskboard.RoleViewer); err != nil {
			t.Fatal(err)
		}
		f := s.mustNext()
		for !f.HasID {
			f = s.mustNext()
		}
		var env taskboard.Envelope
		if err := json.Unmarshal([]byte(f.Data), &env); err != nil || f.Event != taskboard.EventMemberUpdated || env.UserID != demo.Bob || env.Role != taskboard.RoleViewer {
			t.Fatalf("got %+v, want member_updated of Bob to viewer", f)
		}
		// The viewer's write is refused; the stream goes on.
		res := e.do("PATCH", "/tasks/task-1", `{"title":"x"}`, "Authorization", "Bearer "+e.bob)
		if res.Status != http.StatusForbidden {
			t.Fatalf("PATCH as a viewer: got %d, want 403", res.Status)
		}
		last := e.write(1, "task-1")
		rtSeqs(t, "SSE after the demotion", sseEvents(t, s, last), last-1, last)
	})
}
