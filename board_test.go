package taskboard_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

func TestBoards(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		board, err := f.b.CreateBoard(f.ctx, taskboard.Actor{UserID: f.carol}, "Carol's")
		if err != nil {
			t.Fatalf("CreateBoard: %v", err)
		}
		if board.Seq != 0 || board.Name != "Carol's" || board.ID == "" {
			t.Errorf("CreateBoard: got %+v, want a new board at seq 0", board)
		}
		if ok, err := f.b.IsMember(f.ctx, f.carol, board.ID); err != nil || !ok {
			t.Errorf("IsMember(creator): got %v, %v; want true", ok, err)
		}
		if ok, err := f.b.IsMember(f.ctx, alice, board.ID); err != nil || ok {
			t.Errorf("IsMember(alice): got %v, %v; want false", ok, err)
		}
		boards, err := f.b.Boards(f.ctx, taskboard.Actor{UserID: f.carol})
		if err != nil || len(boards) != 1 || boards[0].ID != board.ID {
			t.Errorf("Boards(carol): got %v, %v; want her board alone", boards, err)
		}

		sub := f.subscribe(t, f.carol, board.ID, 0)
		updated, err := f.b.UpdateBoard(f.ctx, taskboard.Actor{UserID: f.carol}, board.ID, taskboard.BoardUpdate{Name: ptr("Renamed")})
		if err != nil {
			t.Fatalf("UpdateBoard: %v", err)
		}
		if updated.Name != "Renamed" || updated.Seq != 1 {
			t.Errorf("UpdateBoard: got %q at seq %d, want \"Renamed\" at seq 1", updated.Name, updated.Seq)
		}
		ev := nextEvent(t, sub)
		env := envelope(t, ev)
		if ev.Seq != 1 || ev.Type != taskboard.EventBoardUpdated || env.Board == nil || env.Board.Name != "Renamed" || env.ActorID != f.carol || env.BoardID != board.ID {
			t.Errorf("event: got %d %s %s, want 1 board_updated with the renamed board by Carol", ev.Seq, ev.Type, ev.Data)
		}
		info, err := f.b.BoardInfo(f.ctx, taskboard.Actor{UserID: f.carol}, board.ID)
		if err != nil || info.Name != "Renamed" || info.Seq != 1 {
			t.Errorf("BoardInfo: got %+v, %v; want \"Renamed\" at seq 1", info, err)
		}
	})
}

func TestMembers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		dave, err := f.b.CreateUser(f.ctx, taskboard.UserCreate{Name: "Dave", Email: "dave@example.com"})
		if err != nil {
			t.Fatalf("CreateUser(Dave): %v", err)
		}
		seq := f.seq(t, board1)

		m, added, err := f.b.AddMember(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{UserID: f.carol})
		if err != nil || !added || m.UserID != f.carol || m.BoardID != board1 {
			t.Fatalf("AddMember(by id): got %+v, %v, %v; want Carol added", m, added, err)
		}
		m, added, err = f.b.AddMember(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{Email: "dave@example.com"})
		if err != nil || !added || m.UserID != dave.ID {
			t.Fatalf("AddMember(by email): got %+v, %v, %v; want Dave added", m, added, err)
		}
		events := f.eventsAfter(t, board1, seq)
		wantEvents(t, "AddMember twice", events, seq, taskboard.EventMemberAdded, taskboard.EventMemberAdded)
		for i, want := range []string{f.carol, dave.ID} {
			if env := envelope(t, events[i]); env.UserID != want || env.User == nil || env.User.ID != want {
				t.Errorf("member_added %d: got userId %q and user %+v, want %s", i, env.UserID, env.User, want)
			}
		}
		// Newly added members see the board at once.
		if _, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: f.carol}, board1); err != nil {
			t.Errorf("Snapshot as a new member: %v", err)
		}

		// Adding an existing member changes and logs nothing.
		seq = f.seq(t, board1)
		for _, ref := range []taskboard.MemberRef{{UserID: bob}, {Email: "carol@example.com"}} {
			m, added, err := f.b.AddMember(f.ctx, taskboard.Actor{UserID: alice}, board1, ref)
			if err != nil || added || m == nil {
				t.Errorf("AddMember(%+v) of a member: got %+v, %v, %v; want added=false, no error", ref, m, added, err)
			}
		}
		if got := f.seq(t, board1); got != seq {
			t.Errorf("seq after re-adding members: got %d, want %d", got, seq)
		}
		members, err := f.b.Members(f.ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Members: %v", err)
		}
		var names []string
		for _, u := range members {
			names = append(names, u.Name)
		}
		if want := []string{"Alice", "Bob", "Carol", "Dave"}; !slices.Equal(names, want) {
			t.Errorf("Members: got %v, want %v", names, want)
		}

		// Owners remove anyone; any member removes themselves.
		if err := f.b.RemoveMember(f.ctx, taskboard.Actor{UserID: alice}, board1, dave.ID); err != nil {
			t.Fatalf("RemoveMember(Dave by Alice): %v", err)
		}
		if err := f.b.RemoveMember(f.ctx, taskboard.Actor{UserID: bob}, board1, bob); err != nil {
			t.Fatalf("RemoveMember(Bob by himself): %v", err)
		}
		// Bob's tasks (task-2 and task-4) are unassigned before he goes.
		events = f.eventsAfter(t, board1, seq)
		wantEvents(t, "RemoveMember twice", events, seq, taskboard.EventMemberRemoved,
			taskboard.EventTaskUpdated, taskboard.EventTaskUpdated, taskboard.EventMemberRemoved)
		if env := envelope(t, events[3]); env.UserID != bob || env.ActorID != bob {
			t.Errorf("member_removed: got userId %q actor %q, want Bob and Bob", env.UserID, env.ActorID)
		}
		for i, id := range []string{"task-2", "task-4"} {
			env := envelope(t, events[1+i])
			if env.Task == nil || env.Task.ID != id || env.Task.AssigneeID != nil || env.Task.Version != 2 || env.ActorID != bob {
				t.Errorf("task_updated %d: got %+v by %q, want %s unassigned at version 2 by Bob", i, env.Task, env.ActorID, id)
			}
			task, err := f.b.Task(f.ctx, taskboard.Actor{UserID: alice}, id)
			if err != nil || task.AssigneeID != nil || task.Position != env.Task.Position {
				t.Errorf("%s after Bob left: got %+v, %v; want no assignee at the position of the event", id, task, err)
			}
		}
		_, err = f.b.Snapshot(f.ctx, taskboard.Actor{UserID: bob}, board1)
		wantErr(t, "Snapshot by a removed member", err, taskboard.ErrNotFound, "Board")
		_, err = f.b.MoveTask(f.ctx, taskboard.Actor{UserID: bob}, "task-2", taskboard.TaskMove{ListID: listDone})
		wantErr(t, "MoveTask by a removed member", err, taskboard.ErrNotFound, "Task")
		if boards, err := f.b.Boards(f.ctx, taskboard.Actor{UserID: bob}); err != nil || len(boards) != 0 {
			t.Errorf("Boards(bob) after leaving: got %v, %v; want none", boards, err)
		}

		// New assignments to a removed member are refused.
		_, err = f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{AssigneeID: taskboard.Nullable[string]{Set: true, Value: ptr(bob)}})
		wantErr(t, "UpdateTask assigning a removed member", err, taskboard.ErrInvalid, "assigneeId")

		// The last member cannot leave.
		if err := f.b.RemoveMember(f.ctx, taskboard.Actor{UserID: alice}, board1, f.carol); err != nil {
			t.Fatalf("RemoveMember(Carol): %v", err)
		}
		seq = f.seq(t, board1)
		err = f.b.RemoveMember(f.ctx, taskboard.Actor{UserID: alice}, board1, alice)
		wantErr(t, "RemoveMember of the last member", err, taskboard.ErrConflict, "")
		if got := f.seq(t, board1); got != seq {
			t.Errorf("seq after a refused RemoveMember: got %d, want %d", got, seq)
		}
	})
}

// clockMark returns a time that every store write made before the call
// is at or before, and every write made after it is after (the store
// keeps microseconds).
func clockMark() time.Time {
	mark := time.Now().UTC().Truncate(time.Microsecond)
	for !time.Now().UTC().Truncate(time.Microsecond).After(mark) {
		runtime.Gosched()
	}
	return mark
}

func TestChangesSince(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		tmp, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: "Tmp"})
		if err != nil {
			t.Fatalf("CreateList: %v", err)
		}
		old := f.newTask(t, tmp.ID, "old")
		since := clockMark()

		if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("Design sign-in page")}); err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-3", taskboard.TaskMove{ListID: listTodo, Position: ptr(0)}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		created := f.newTask(t, listProgress, "created")
		if err := f.b.DeleteTask(f.ctx, taskboard.Actor{UserID: alice}, "task-2", taskboard.TaskDelete{IfVersion: 0}); err != nil {
			t.Fatalf("DeleteTask: %v", err)
		}
		fresh := f.newTask(t, tmp.ID, "fresh")
		if err := f.b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, tmp.ID, taskboard.ListDelete{IfVersion: 0}); err != nil {
			t.Fatalf("DeleteList: %v", err)
		}
		if err := f.b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, listDone, taskboard.ListDelete{IfVersion: 0}); err != nil {
			t.Fatalf("DeleteList(list-done): %v", err)
		}

		changes, err := f.b.ChangesSince(f.ctx, taskboard.Actor{UserID: alice}, board1, since)
		if err != nil {
			t.Fatalf("ChangesSince: %v", err)
		}
		var ids []string
		for _, task := range changes.Tasks {
			ids = append(ids, task.ID)
		}
		// By list position, then task position: list-todo is [task-3, task-1].
		if want := []string{"task-3", "task-1", created.ID}; !slices.Equal(ids, want) {
			t.Errorf("ChangesSince: got tasks %v, want %v", ids, want)
		}
		if want := []string{"task-2", old.ID, fresh.ID, "task-4"}; !slices.Equal(changes.Deleted, want) {
			t.Errorf("ChangesSince: got deleted %v, want %v", changes.Deleted, want)
		}
		if seq := f.seq(t, board1); changes.Seq != seq {
			t.Errorf("ChangesSince: got seq %d, want %d", changes.Seq, seq)
		}

		// Nothing changed after now.
		later := clockMark()
		changes, err = f.b.ChangesSince(f.ctx, taskboard.Actor{UserID: alice}, board1, later)
		if err != nil || len(changes.Tasks) != 0 || len(changes.Deleted) != 0 {
			t.Errorf("ChangesSince(now): got %v, %v; want nothing", changes, err)
		}
		// A zero time means every task, and no deletions.
		changes, err = f.b.ChangesSince(f.ctx, taskboard.Actor{UserID: alice}, board1, time.Time{})
		if err != nil {
			t.Fatalf("ChangesSince(zero): %v", err)
		}
		ids = ids[:0]
		for _, task := range changes.Tasks {
			ids = append(ids, task.ID)
		}
		if want := []string{"task-3", "task-1", created.ID}; !slices.Equal(ids, want) || len(changes.Deleted) != 0 {
			t.Errorf("ChangesSince(zero): got %v and deleted %v, want %v and none", ids, changes.Deleted, want)
		}
	})
}

func TestEventEnvelopes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		sub := f.subscribe(t, bob, board1, -1)

		ctx := taskboard.WithMutationID(f.ctx, "m-42")
		if got := taskboard.MutationID(ctx); got != "m-42" {
			t.Fatalf("MutationID: got %q, want m-42", got)
		}
		moved, err := f.b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone, Position: ptr(1)})
		if err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		ev := nextEvent(t, sub)
		env := envelope(t, ev)
		if env.MutationID == nil || *env.MutationID != "m-42" {
			t.Errorf("task_moved mutationId: got %v, want m-42", env.MutationID)
		}
		if env.Type != taskboard.EventTaskMoved || env.Seq != 1 || env.BoardID != board1 || env.ActorID != alice || env.At.IsZero() {
			t.Errorf("task_moved envelope: got %s", ev.Data)
		}
		if env.From == nil || env.From.ListID != listTodo || env.From.Position != 0 {
			t.Errorf("task_moved from: got %+v, want list-todo position 0", env.From)
		}
		if env.Task == nil || env.Task.ListID != listDone || env.Task.Position != 1 || env.Task.Version != 2 || !env.Task.UpdatedAt.Equal(moved.UpdatedAt) {
			t.Errorf("task_moved task: got %+v, want the row after the move (%+v)", env.Task, moved)
		}
		// The logged copy is the same event.
		events := f.eventsAfter(t, board1, 0)
		if len(events) != 1 || string(events[0].Data) != string(ev.Data) {
			t.Errorf("EventsAfter(0): got %v, want the event the subscriber received", events)
		}

		// Without a mutation id it is null, never omitted.
		if err := f.b.DeleteTask(f.ctx, taskboard.Actor{UserID: alice}, "task-2", taskboard.TaskDelete{IfVersion: 0}); err != nil {
			t.Fatalf("DeleteTask: %v", err)
		}
		ev = nextEvent(t, sub)
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(ev.Data, &raw); err != nil {
			t.Fatalf("decode %s: %v", ev.Data, err)
		}
		if string(raw["mutationId"]) != "null" || string(raw["taskId"]) != `"task-2"` || raw["task"] == nil {
			t.Errorf("task_deleted: got %s, want mutationId null, taskId task-2 and the task", ev.Data)
		}
		for _, field := range []string{"type", "seq", "boardId", "actorId", "at"} {
			if raw[field] == nil {
				t.Errorf("task_deleted: field %s missing in %s", field, ev.Data)
			}
		}

		// Mutation ids reach every kind of write.
		ctx = taskboard.WithMutationID(f.ctx, "m-43")
		if _, err := f.b.CreateList(ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: "Review"}); err != nil {
			t.Fatalf("CreateList: %v", err)
		}
		if env := envelope(t, nextEvent(t, sub)); env.MutationID == nil || *env.MutationID != "m-43" || env.List == nil || env.List.Name != "Review" || env.List.Position != 3 {
			t.Errorf("list_created: got mutationId %v and list %+v, want m-43 and Review at 3", env.MutationID, env.List)
		}
	})
}

// TestWritesAfterRowGone checks writes to a task and a list whose row, or
// whose board, was deleted after a write found them: each is ErrNotFound
// and changes nothing, however the store remembers where rows were.
func TestWritesAfterRowGone(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		actor := taskboard.Actor{UserID: alice}
		board, lists := f.newBoard(t, "gone", "A", "B")
		task := f.newTask(t, lists[0], "task")
		other := f.newTask(t, lists[0], "other")
		if _, err := f.b.MoveTask(f.ctx, actor, task.ID, taskboard.TaskMove{ListID: lists[1]}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		if err := f.b.DeleteTask(f.ctx, actor, task.ID, taskboard.TaskDelete{}); err != nil {
			t.Fatalf("DeleteTask: %v", err)
		}
		if _, err := f.b.MoveTask(f.ctx, actor, task.ID, taskboard.TaskMove{ListID: lists[0]}); !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("MoveTask of a deleted task: %v, want ErrNotFound", err)
		}
		if _, err := f.b.UpdateTask(f.ctx, actor, other.ID, taskboard.TaskUpdate{Title: ptr("kept")}); err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		if err := f.b.DeleteBoard(f.ctx, actor, board); err != nil {
			t.Fatalf("DeleteBoard: %v", err)
		}
		if _, err := f.b.UpdateTask(f.ctx, actor, other.ID, taskboard.TaskUpdate{Title: ptr("gone")}); !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("UpdateTask on a deleted board: %v, want ErrNotFound", err)
		}
		if _, err := f.b.CreateTask(f.ctx, actor, taskboard.TaskCreate{ListID: lists[1], Title: "x"}); !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("CreateTask in a list of a deleted board: %v, want ErrNotFound", err)
		}
		if _, err := f.b.UpdateList(f.ctx, actor, lists[0], taskboard.ListUpdate{Name: ptr("gone")}); !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("UpdateList on a deleted board: %v, want ErrNotFound", err)
		}
	})
}
