package taskboard_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

func TestErrorPaths(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx, b, carol := f.ctx, f.b, f.carol
		// A second board of Alice's, and one of Carol's that Alice cannot see.
		_, aliceLists := f.newBoard(t, "Other", "Elsewhere")
		carolBoard, err := b.CreateBoard(ctx, taskboard.Actor{UserID: carol}, "Private")
		if err != nil {
			t.Fatalf("CreateBoard(Carol): %v", err)
		}
		carolList, err := b.CreateList(ctx, taskboard.Actor{UserID: carol}, carolBoard.ID, taskboard.ListCreate{Name: "Mine"})
		if err != nil {
			t.Fatalf("CreateList(Carol): %v", err)
		}

		long := func(n int) string { return strings.Repeat("é", n) }
		cases := []struct {
			name   string
			call   func() error
			want   error
			detail string
		}{
			// A board the actor is not a member of is answered as missing.
			{"BoardInfo by non-member", func() error { _, err := b.BoardInfo(ctx, taskboard.Actor{UserID: carol}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"BoardSeq by non-member", func() error { _, err := b.BoardSeq(ctx, taskboard.Actor{UserID: carol}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"Snapshot by non-member", func() error { _, err := b.Snapshot(ctx, taskboard.Actor{UserID: carol}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"Tasks by non-member", func() error { _, _, err := b.Tasks(ctx, taskboard.Actor{UserID: carol}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"Lists by non-member", func() error { _, err := b.Lists(ctx, taskboard.Actor{UserID: carol}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"Members by non-member", func() error { _, err := b.Members(ctx, taskboard.Actor{UserID: carol}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"EventsAfter by non-member", func() error { _, err := b.EventsAfter(ctx, taskboard.Actor{UserID: carol}, board1, 0, 0); return err }, taskboard.ErrNotFound, "Board"},
			{"ChangesSince by non-member", func() error {
				_, err := b.ChangesSince(ctx, taskboard.Actor{UserID: carol}, board1, time.Time{})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"Subscribe by non-member", func() error { _, err := b.Subscribe(ctx, taskboard.Actor{UserID: carol}, board1, 0); return err }, taskboard.ErrNotFound, "Board"},
			{"UpdateBoard by non-member", func() error {
				_, err := b.UpdateBoard(ctx, taskboard.Actor{UserID: carol}, board1, taskboard.BoardUpdate{Name: ptr("Mine")})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"DeleteBoard by non-member", func() error { return b.DeleteBoard(ctx, taskboard.Actor{UserID: carol}, board1) }, taskboard.ErrNotFound, "Board"},
			{"AddMember by non-member", func() error {
				_, _, err := b.AddMember(ctx, taskboard.Actor{UserID: carol}, board1, taskboard.MemberRef{UserID: carol})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"RemoveMember by non-member", func() error { return b.RemoveMember(ctx, taskboard.Actor{UserID: carol}, board1, bob) }, taskboard.ErrNotFound, "Board"},
			{"CreateList by non-member", func() error {
				_, err := b.CreateList(ctx, taskboard.Actor{UserID: carol}, board1, taskboard.ListCreate{Name: "X"})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"List by non-member", func() error { _, err := b.List(ctx, taskboard.Actor{UserID: carol}, listTodo); return err }, taskboard.ErrNotFound, "List"},
			{"UpdateList by non-member", func() error {
				_, err := b.UpdateList(ctx, taskboard.Actor{UserID: carol}, listTodo, taskboard.ListUpdate{Name: ptr("X")})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"MoveList by non-member", func() error {
				_, err := b.MoveList(ctx, taskboard.Actor{UserID: carol}, listTodo, taskboard.ListMove{Position: ptr(2), IfVersion: 0})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"DeleteList by non-member", func() error {
				return b.DeleteList(ctx, taskboard.Actor{UserID: carol}, listTodo, taskboard.ListDelete{IfVersion: 0})
			}, taskboard.ErrNotFound, "List"},
			{"CreateTask by non-member", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: carol}, taskboard.TaskCreate{ListID: listTodo, Title: "X"})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"Task by non-member", func() error { _, err := b.Task(ctx, taskboard.Actor{UserID: carol}, "task-1"); return err }, taskboard.ErrNotFound, "Task"},
			{"UpdateTask by non-member", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: carol}, "task-1", taskboard.TaskUpdate{Title: ptr("X")})
				return err
			}, taskboard.ErrNotFound, "Task"},
			{"MoveTask by non-member", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: carol}, "task-1", taskboard.TaskMove{ListID: listDone})
				return err
			}, taskboard.ErrNotFound, "Task"},
			{"DeleteTask by non-member", func() error {
				return b.DeleteTask(ctx, taskboard.Actor{UserID: carol}, "task-1", taskboard.TaskDelete{IfVersion: 0})
			}, taskboard.ErrNotFound, "Task"},

			// Missing things.
			{"BoardInfo of unknown board", func() error { _, err := b.BoardInfo(ctx, taskboard.Actor{UserID: alice}, "no-such-board"); return err }, taskboard.ErrNotFound, "Board"},
			{"UpdateBoard of unknown board", func() error {
				_, err := b.UpdateBoard(ctx, taskboard.Actor{UserID: alice}, "no-such-board", taskboard.BoardUpdate{Name: ptr("X")})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"List of unknown list", func() error { _, err := b.List(ctx, taskboard.Actor{UserID: alice}, "no-such-list"); return err }, taskboard.ErrNotFound, "List"},
			{"MoveList of unknown list", func() error {
				_, err := b.MoveList(ctx, taskboard.Actor{UserID: alice}, "no-such-list", taskboard.ListMove{Position: ptr(0), IfVersion: 0})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"Task of unknown task", func() error { _, err := b.Task(ctx, taskboard.Actor{UserID: alice}, "no-such-task"); return err }, taskboard.ErrNotFound, "Task"},
			{"DeleteTask of unknown task", func() error {
				return b.DeleteTask(ctx, taskboard.Actor{UserID: alice}, "no-such-task", taskboard.TaskDelete{IfVersion: 0})
			}, taskboard.ErrNotFound, "Task"},
			{"CreateTask in unknown list", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: "no-such-list", Title: "X"})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"MoveTask to unknown list", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: "no-such-list"})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"MoveTask to a list the actor cannot see", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: carolList.ID})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"User of unknown user", func() error { _, err := b.User(ctx, "no-such-user"); return err }, taskboard.ErrNotFound, "User"},
			{"AddMember of unknown user id", func() error {
				_, _, err := b.AddMember(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{UserID: "no-such-user"})
				return err
			}, taskboard.ErrNotFound, "User"},
			{"AddMember of unknown email", func() error {
				_, _, err := b.AddMember(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{Email: "nobody@example.com"})
				return err
			}, taskboard.ErrNotFound, "User"},
			{"RemoveMember of a non-member", func() error { return b.RemoveMember(ctx, taskboard.Actor{UserID: alice}, board1, carol) }, taskboard.ErrNotFound, "User"},
			{"CreateBoard by unknown user", func() error { _, err := b.CreateBoard(ctx, taskboard.Actor{UserID: "no-such-user"}, "X"); return err }, taskboard.ErrNotFound, "User"},

			// Invalid input.
			{"MoveTask to a list of another board", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: aliceLists[0]})
				return err
			}, taskboard.ErrInvalid, "listId"},
			{"CreateTask without list", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{Title: "X"})
				return err
			}, taskboard.ErrInvalid, "listId"},
			{"CreateTask with empty title", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: ""})
				return err
			}, taskboard.ErrInvalid, "title"},
			{"CreateTask with 501-code-point title", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: long(501)})
				return err
			}, taskboard.ErrInvalid, "title"},
			{"CreateTask with 10001-code-point description", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: "X", Description: ptr(long(10001))})
				return err
			}, taskboard.ErrInvalid, "description"},
			{"CreateTask at negative position", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: "X", Position: ptr(-1)})
				return err
			}, taskboard.ErrInvalid, "position"},
			{"CreateTask for a non-member assignee", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: "X", AssigneeID: &carol})
				return err
			}, taskboard.ErrInvalid, "assigneeId"},
			{"UpdateTask to empty title", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("")})
				return err
			}, taskboard.ErrInvalid, "title"},
			{"UpdateTask to 501-code-point title", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr(long(501))})
				return err
			}, taskboard.ErrInvalid, "title"},
			{"UpdateTask to 10001-code-point description", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Description: taskboard.Nullable[string]{Set: true, Value: ptr(long(10001))}})
				return err
			}, taskboard.ErrInvalid, "description"},
			{"UpdateTask to a non-member assignee", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{AssigneeID: taskboard.Nullable[string]{Set: true, Value: &carol}})
				return err
			}, taskboard.ErrInvalid, "assigneeId"},
			{"MoveTask to negative position", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listTodo, Position: ptr(-1)})
				return err
			}, taskboard.ErrInvalid, "position"},
			{"MoveTask without list", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{})
				return err
			}, taskboard.ErrInvalid, "listId"},
			{"CreateBoard with empty name", func() error { _, err := b.CreateBoard(ctx, taskboard.Actor{UserID: alice}, ""); return err }, taskboard.ErrInvalid, "name"},
			{"CreateBoard with 201-code-point name", func() error { _, err := b.CreateBoard(ctx, taskboard.Actor{UserID: alice}, long(201)); return err }, taskboard.ErrInvalid, "name"},
			{"UpdateBoard to 201-code-point name", func() error {
				_, err := b.UpdateBoard(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.BoardUpdate{Name: ptr(long(201))})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"CreateList with empty name", func() error {
				_, err := b.CreateList(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: ""})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"CreateList with 201-code-point name", func() error {
				_, err := b.CreateList(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: long(201)})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"CreateList at negative position", func() error {
				_, err := b.CreateList(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: "X", Position: ptr(-2)})
				return err
			}, taskboard.ErrInvalid, "position"},
			{"UpdateList to 201-code-point name", func() error {
				_, err := b.UpdateList(ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListUpdate{Name: ptr(long(201))})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"MoveList to negative position", func() error {
				_, err := b.MoveList(ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListMove{Position: ptr(-1), IfVersion: 0})
				return err
			}, taskboard.ErrInvalid, "position"},
			{"CreateUser with 201-code-point name", func() error {
				_, err := b.CreateUser(ctx, taskboard.UserCreate{Name: long(201), Email: "long@example.com"})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"CreateUser with bad email", func() error {
				_, err := b.CreateUser(ctx, taskboard.UserCreate{Name: "Dave", Email: "dave"})
				return err
			}, taskboard.ErrInvalid, "email"},
			{"AddMember naming nobody", func() error {
				_, _, err := b.AddMember(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{})
				return err
			}, taskboard.ErrInvalid, "userId"},

			// Stale versions.
			{"UpdateTask at stale version", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("X"), IfVersion: 2})
				return err
			}, taskboard.ErrPreconditionFailed, ""},
			{"MoveTask at stale version", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone, IfVersion: 2})
				return err
			}, taskboard.ErrPreconditionFailed, ""},
			{"DeleteTask at stale version", func() error {
				return b.DeleteTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskDelete{IfVersion: 2})
			}, taskboard.ErrPreconditionFailed, ""},
			{"UpdateList at stale version", func() error {
				_, err := b.UpdateList(ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListUpdate{Name: ptr("X"), IfVersion: 2})
				return err
			}, taskboard.ErrPreconditionFailed, ""},
			{"MoveList at stale version", func() error {
				_, err := b.MoveList(ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListMove{Position: ptr(2), IfVersion: 2})
				return err
			}, taskboard.ErrPreconditionFailed, ""},
			{"DeleteList at stale version", func() error {
				return b.DeleteList(ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListDelete{IfVersion: 2})
			}, taskboard.ErrPreconditionFailed, ""},

			// Conflicts.
			{"RemoveMember of the last member", func() error { return b.RemoveMember(ctx, taskboard.Actor{UserID: carol}, carolBoard.ID, carol) }, taskboard.ErrConflict, ""},
			{"CreateUser with a taken email", func() error {
				_, err := b.CreateUser(ctx, taskboard.UserCreate{Name: "Alice 2", Email: "alice@example.com"})
				return err
			}, taskboard.ErrConflict, ""},
		}

		before, err := b.Snapshot(ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		carolSeq := carolBoard.Seq
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.name, tc.call(), tc.want, tc.detail)
			})
		}

		// None of the failed calls changed anything.
		after, err := b.Snapshot(ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("Snapshot after the failed calls:\ngot  %+v\nwant %+v", after, before)
		}
		if seq, err := b.BoardSeq(ctx, taskboard.Actor{UserID: carol}, carolBoard.ID); err != nil || seq != carolSeq+1 {
			// +1: the list Carol created above.
			t.Errorf("BoardSeq(Carol's board): got %d, %v; want %d, nil", seq, err, carolSeq+1)
		}
		if members, err := b.Members(ctx, taskboard.Actor{UserID: carol}, carolBoard.ID); err != nil || len(members) != 1 {
			t.Errorf("Members(Carol's board): got %v, %v; want Carol alone", members, err)
		}
	})
}

// TestNULCharacter checks every method with the NUL character in each of
// its string arguments, which neither database can store: an ID holding it
// is answered as an unknown ID, a text holding it is invalid, and nothing
// changes.
func TestNULCharacter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx, b := f.ctx, f.b
		const nul = "task-1\x00"
		text := "a\x00b"
		cases := []struct {
			name   string
			call   func() error
			want   error
			detail string
		}{
			{"CreateUser name", func() error {
				_, err := b.CreateUser(ctx, taskboard.UserCreate{Name: text, Email: "n@example.com"})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"CreateUser email", func() error {
				_, err := b.CreateUser(ctx, taskboard.UserCreate{Name: "N", Email: "n\x00@example.com"})
				return err
			}, taskboard.ErrInvalid, "email"},
			{"User", func() error { _, err := b.User(ctx, nul); return err }, taskboard.ErrNotFound, "User"},
			{"CreateBoard actor", func() error { _, err := b.CreateBoard(ctx, taskboard.Actor{UserID: nul}, "X"); return err }, taskboard.ErrNotFound, "User"},
			{"CreateBoard name", func() error { _, err := b.CreateBoard(ctx, taskboard.Actor{UserID: alice}, text); return err }, taskboard.ErrInvalid, "name"},
			{"BoardInfo", func() error { _, err := b.BoardInfo(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "Board"},
			{"BoardInfo actor", func() error { _, err := b.BoardInfo(ctx, taskboard.Actor{UserID: nul}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"BoardSeq", func() error { _, err := b.BoardSeq(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "Board"},
			{"Snapshot", func() error { _, err := b.Snapshot(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "Board"},
			{"Tasks", func() error { _, _, err := b.Tasks(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "Board"},
			{"Tasks actor", func() error { _, _, err := b.Tasks(ctx, taskboard.Actor{UserID: nul}, board1); return err }, taskboard.ErrNotFound, "Board"},
			{"Lists", func() error { _, err := b.Lists(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "Board"},
			{"Members", func() error { _, err := b.Members(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "Board"},
			{"EventsAfter", func() error { _, err := b.EventsAfter(ctx, taskboard.Actor{UserID: alice}, nul, 0, 0); return err }, taskboard.ErrNotFound, "Board"},
			{"ChangesSince", func() error {
				_, err := b.ChangesSince(ctx, taskboard.Actor{UserID: alice}, nul, time.Time{})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"Subscribe", func() error { _, err := b.Subscribe(ctx, taskboard.Actor{UserID: alice}, nul, 0); return err }, taskboard.ErrNotFound, "Board"},
			{"Subscribe actor", func() error { _, err := b.Subscribe(ctx, taskboard.Actor{UserID: nul}, board1, 0); return err }, taskboard.ErrNotFound, "Board"},
			{"UpdateBoard", func() error {
				_, err := b.UpdateBoard(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.BoardUpdate{Name: ptr("X")})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"UpdateBoard name", func() error {
				_, err := b.UpdateBoard(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.BoardUpdate{Name: &text})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"DeleteBoard", func() error { return b.DeleteBoard(ctx, taskboard.Actor{UserID: alice}, nul) }, taskboard.ErrNotFound, "Board"},
			{"DeleteBoard actor", func() error { return b.DeleteBoard(ctx, taskboard.Actor{UserID: nul}, board1) }, taskboard.ErrNotFound, "Board"},
			{"AddMember board", func() error {
				_, _, err := b.AddMember(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.MemberRef{UserID: bob})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"AddMember user", func() error {
				_, _, err := b.AddMember(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{UserID: nul})
				return err
			}, taskboard.ErrNotFound, "User"},
			{"AddMember email", func() error {
				_, _, err := b.AddMember(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{Email: "carol\x00@example.com"})
				return err
			}, taskboard.ErrNotFound, "User"},
			{"RemoveMember user", func() error { return b.RemoveMember(ctx, taskboard.Actor{UserID: alice}, board1, nul) }, taskboard.ErrNotFound, "User"},
			{"CreateList board", func() error {
				_, err := b.CreateList(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.ListCreate{Name: "X"})
				return err
			}, taskboard.ErrNotFound, "Board"},
			{"CreateList name", func() error {
				_, err := b.CreateList(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: text})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"List", func() error { _, err := b.List(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "List"},
			{"List actor", func() error { _, err := b.List(ctx, taskboard.Actor{UserID: nul}, listTodo); return err }, taskboard.ErrNotFound, "List"},
			{"UpdateList", func() error {
				_, err := b.UpdateList(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.ListUpdate{Name: ptr("X")})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"UpdateList name", func() error {
				_, err := b.UpdateList(ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListUpdate{Name: &text})
				return err
			}, taskboard.ErrInvalid, "name"},
			{"MoveList", func() error {
				_, err := b.MoveList(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.ListMove{Position: ptr(0), IfVersion: 0})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"DeleteList", func() error {
				return b.DeleteList(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.ListDelete{IfVersion: 0})
			}, taskboard.ErrNotFound, "List"},
			{"Task", func() error { _, err := b.Task(ctx, taskboard.Actor{UserID: alice}, nul); return err }, taskboard.ErrNotFound, "Task"},
			{"Task actor", func() error { _, err := b.Task(ctx, taskboard.Actor{UserID: nul}, "task-1"); return err }, taskboard.ErrNotFound, "Task"},
			{"CreateTask list", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: nul, Title: "X"})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"CreateTask actor", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: nul}, taskboard.TaskCreate{ListID: listTodo, Title: "X"})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"CreateTask title", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: text})
				return err
			}, taskboard.ErrInvalid, "title"},
			{"CreateTask description", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: "X", Description: &text})
				return err
			}, taskboard.ErrInvalid, "description"},
			{"CreateTask assignee", func() error {
				_, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: "X", AssigneeID: ptr(nul)})
				return err
			}, taskboard.ErrInvalid, "assigneeId"},
			{"UpdateTask", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.TaskUpdate{Title: ptr("X")})
				return err
			}, taskboard.ErrNotFound, "Task"},
			{"UpdateTask title", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: &text})
				return err
			}, taskboard.ErrInvalid, "title"},
			{"UpdateTask description", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Description: taskboard.Nullable[string]{Set: true, Value: &text}})
				return err
			}, taskboard.ErrInvalid, "description"},
			{"UpdateTask assignee", func() error {
				_, err := b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{AssigneeID: taskboard.Nullable[string]{Set: true, Value: ptr(nul)}})
				return err
			}, taskboard.ErrInvalid, "assigneeId"},
			{"MoveTask", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.TaskMove{ListID: listDone})
				return err
			}, taskboard.ErrNotFound, "Task"},
			{"MoveTask list", func() error {
				_, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: nul})
				return err
			}, taskboard.ErrNotFound, "List"},
			{"DeleteTask", func() error {
				return b.DeleteTask(ctx, taskboard.Actor{UserID: alice}, nul, taskboard.TaskDelete{IfVersion: 0})
			}, taskboard.ErrNotFound, "Task"},
		}
		before, err := b.Snapshot(ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.name, tc.call(), tc.want, tc.detail)
			})
		}
		// The methods that answer without an error.
		if boards, err := b.Boards(ctx, taskboard.Actor{UserID: nul}); err != nil || len(boards) != 0 {
			t.Errorf("Boards(NUL): got %v, %v; want none", boards, err)
		}
		if ok, err := b.IsMember(ctx, nul, board1); err != nil || ok {
			t.Errorf("IsMember(NUL): got %v, %v; want false", ok, err)
		}

		after, err := b.Snapshot(ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("Snapshot after the calls:\ngot  %+v\nwant %+v", after, before)
		}
	})
}

func TestLengthLimitsCountCodePoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		cases := []struct {
			name, title, description string
		}{
			{"500 ASCII", strings.Repeat("a", 500), ""},
			{"500 two-byte", strings.Repeat("é", 500), ""},
			{"500 four-byte", strings.Repeat("😀", 500), strings.Repeat("😀", 10000)},
			{"one", "x", strings.Repeat("d", 10000)},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				task, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: tc.title, Description: &tc.description})
				if err != nil {
					t.Fatalf("CreateTask: got %v, want no error", err)
				}
				got, err := f.b.Task(f.ctx, taskboard.Actor{UserID: alice}, task.ID)
				if err != nil {
					t.Fatalf("Task: %v", err)
				}
				if got.Title != tc.title || got.Description == nil || *got.Description != tc.description {
					t.Errorf("Task: got title of %d bytes and description %v, want what was written", len(got.Title), got.Description != nil)
				}
			})
		}
		name := strings.Repeat("ß", 200)
		if _, err := f.b.CreateBoard(f.ctx, taskboard.Actor{UserID: alice}, name); err != nil {
			t.Errorf("CreateBoard with a 200-code-point name: got %v, want no error", err)
		}
		if _, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: name}); err != nil {
			t.Errorf("CreateList with a 200-code-point name: got %v, want no error", err)
		}
		if _, err := f.b.CreateUser(f.ctx, taskboard.UserCreate{Name: name, Email: "long@example.com"}); err != nil {
			t.Errorf("CreateUser with a 200-code-point name: got %v, want no error", err)
		}
	})
}

func TestPreconditionMatchingVersionSucceeds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		task, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("Renamed"), IfVersion: 1})
		if err != nil {
			t.Fatalf("UpdateTask(IfVersion 1): %v", err)
		}
		if task.Version != 2 {
			t.Fatalf("UpdateTask(IfVersion 1): got version %d, want 2", task.Version)
		}
		task, err = f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone, IfVersion: 2})
		if err != nil {
			t.Fatalf("MoveTask(IfVersion 2): %v", err)
		}
		if task.Version != 3 {
			t.Fatalf("MoveTask(IfVersion 2): got version %d, want 3", task.Version)
		}
		_, err = f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("Again"), IfVersion: 2})
		wantErr(t, "UpdateTask(IfVersion 2) at version 3", err, taskboard.ErrPreconditionFailed, "")
		if got, err := f.b.Task(f.ctx, taskboard.Actor{UserID: alice}, "task-1"); err != nil || got.Title != "Renamed" || got.Version != 3 {
			t.Fatalf("Task after a failed precondition: got %+v, %v; want title Renamed at version 3", got, err)
		}
		if err := f.b.DeleteTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskDelete{IfVersion: 3}); err != nil {
			t.Fatalf("DeleteTask(IfVersion 3): %v", err)
		}
		list, err := f.b.UpdateList(f.ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListUpdate{Name: ptr("Backlog"), IfVersion: 1})
		if err != nil {
			t.Fatalf("UpdateList(IfVersion 1): %v", err)
		}
		if list.Version != 2 {
			t.Fatalf("UpdateList(IfVersion 1): got version %d, want 2", list.Version)
		}
		if err := f.b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListDelete{IfVersion: 2}); err != nil {
			t.Fatalf("DeleteList(IfVersion 2): %v", err)
		}
		_, err = f.b.Task(f.ctx, taskboard.Actor{UserID: alice}, "task-2")
		wantErr(t, "Task of a task whose list was deleted", err, taskboard.ErrNotFound, "Task")
	})
}
