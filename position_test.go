package taskboard_test

import (
	"flag"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// TestTaskPositions starts each case from list A = [a0 a1 a2 a3], list
// B = [b0 b1] and an empty list C, applies one write and checks every
// list's order, the positions, the versions and the logged event.
func TestTaskPositions(t *testing.T) {
	type lists struct{ a, b, c []string }
	cases := []struct {
		name  string
		write func(f *fixture, ids map[string]string, lists []string) (*taskboard.Task, error)
		event string
		want  lists
		// moved is the task the write created or moved, with its version.
		moved   string
		version int64
	}{
		{"create at 0", create(0, 0), taskboard.EventTaskCreated, lists{[]string{"new", "a0", "a1", "a2", "a3"}, []string{"b0", "b1"}, nil}, "new", 1},
		{"create in the middle", create(0, 2), taskboard.EventTaskCreated, lists{[]string{"a0", "a1", "new", "a2", "a3"}, []string{"b0", "b1"}, nil}, "new", 1},
		{"create at the end", create(0, 4), taskboard.EventTaskCreated, lists{[]string{"a0", "a1", "a2", "a3", "new"}, []string{"b0", "b1"}, nil}, "new", 1},
		{"create past the end", create(0, 99), taskboard.EventTaskCreated, lists{[]string{"a0", "a1", "a2", "a3", "new"}, []string{"b0", "b1"}, nil}, "new", 1},
		{"create without position", create(0, -1), taskboard.EventTaskCreated, lists{[]string{"a0", "a1", "a2", "a3", "new"}, []string{"b0", "b1"}, nil}, "new", 1},
		{"create in an empty list", create(2, 5), taskboard.EventTaskCreated, lists{[]string{"a0", "a1", "a2", "a3"}, []string{"b0", "b1"}, []string{"new"}}, "new", 1},
		{"move up within", move("a3", 0, 1), taskboard.EventTaskMoved, lists{[]string{"a0", "a3", "a1", "a2"}, []string{"b0", "b1"}, nil}, "a3", 2},
		{"move to the top within", move("a2", 0, 0), taskboard.EventTaskMoved, lists{[]string{"a2", "a0", "a1", "a3"}, []string{"b0", "b1"}, nil}, "a2", 2},
		{"move down within", move("a0", 0, 2), taskboard.EventTaskMoved, lists{[]string{"a1", "a2", "a0", "a3"}, []string{"b0", "b1"}, nil}, "a0", 2},
		{"move to the last position within", move("a1", 0, 3), taskboard.EventTaskMoved, lists{[]string{"a0", "a2", "a3", "a1"}, []string{"b0", "b1"}, nil}, "a1", 2},
		{"move past the end within", move("a0", 0, 99), taskboard.EventTaskMoved, lists{[]string{"a1", "a2", "a3", "a0"}, []string{"b0", "b1"}, nil}, "a0", 2},
		{"move across to the top", move("a1", 1, 0), taskboard.EventTaskMoved, lists{[]string{"a0", "a2", "a3"}, []string{"a1", "b0", "b1"}, nil}, "a1", 2},
		{"move across to the middle", move("a1", 1, 1), taskboard.EventTaskMoved, lists{[]string{"a0", "a2", "a3"}, []string{"b0", "a1", "b1"}, nil}, "a1", 2},
		{"move across to the end", move("a0", 1, 2), taskboard.EventTaskMoved, lists{[]string{"a1", "a2", "a3"}, []string{"b0", "b1", "a0"}, nil}, "a0", 2},
		{"move across past the end", move("a3", 1, 99), taskboard.EventTaskMoved, lists{[]string{"a0", "a1", "a2"}, []string{"b0", "b1", "a3"}, nil}, "a3", 2},
		{"move to an empty list", move("b1", 2, 7), taskboard.EventTaskMoved, lists{[]string{"a0", "a1", "a2", "a3"}, []string{"b0"}, []string{"b1"}}, "b1", 2},
		{"delete in the middle", remove("a1"), taskboard.EventTaskDeleted, lists{[]string{"a0", "a2", "a3"}, []string{"b0", "b1"}, nil}, "", 0},
		{"delete the first", remove("b0"), taskboard.EventTaskDeleted, lists{[]string{"a0", "a1", "a2", "a3"}, []string{"b1"}, nil}, "", 0},
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				board, listIDs := f.newBoard(t, tc.name, "A", "B", "C")
				ids := map[string]string{} // name → id
				for i, names := range [][]string{{"a0", "a1", "a2", "a3"}, {"b0", "b1"}} {
					for _, n := range names {
						ids[n] = f.newTask(t, listIDs[i], n).ID
					}
				}
				seq := f.seq(t, board)
				task, err := tc.write(f, ids, listIDs)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if tc.moved == "new" {
					ids["new"] = task.ID
				}
				names := map[string]string{} // id → name
				for n, id := range ids {
					names[id] = n
				}
				for i, want := range [][]string{tc.want.a, tc.want.b, tc.want.c} {
					var got []string
					for _, id := range f.taskIDs(t, board, listIDs[i]) {
						got = append(got, names[id])
					}
					if !slices.Equal(got, want) {
						t.Errorf("list %c after %s: got %v, want %v", 'A'+i, tc.name, got, want)
					}
				}
				tasks, _, err := f.b.Tasks(f.ctx, taskboard.Actor{UserID: alice}, board)
				if err != nil {
					t.Fatalf("Tasks: %v", err)
				}
				for _, task := range tasks {
					want := int64(1)
					if names[task.ID] == tc.moved {
						want = tc.version
					}
					if task.Version != want {
						t.Errorf("Tasks: %s has version %d, want %d", names[task.ID], task.Version, want)
					}
				}
				if task != nil && (task.Version != tc.version || names[task.ID] != tc.moved) {
					t.Errorf("%s returned %s at version %d, want %s at version %d", tc.name, names[task.ID], task.Version, tc.moved, tc.version)
				}
				events := f.eventsAfter(t, board, seq)
				wantEvents(t, tc.name, events, seq, tc.event)
				if task != nil {
					env := envelope(t, events[0])
					if env.Task == nil || env.Task.ID != task.ID || env.Task.Position != task.Position || env.Task.ListID != task.ListID {
						t.Errorf("%s event task: got %+v, want the task as written (%+v)", tc.event, env.Task, task)
					}
				}
			})
		}
	})
}

// create returns a write creating task "new" in the list with index list at
// position pos (none when negative).
func create(list, pos int) func(*fixture, map[string]string, []string) (*taskboard.Task, error) {
	return func(f *fixture, _ map[string]string, lists []string) (*taskboard.Task, error) {
		in := taskboard.TaskCreate{ListID: lists[list], Title: "new"}
		if pos >= 0 {
			in.Position = &pos
		}
		return f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, in)
	}
}

func move(name string, list, pos int) func(*fixture, map[string]string, []string) (*taskboard.Task, error) {
	return func(f *fixture, ids map[string]string, lists []string) (*taskboard.Task, error) {
		return f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, ids[name], taskboard.TaskMove{ListID: lists[list], Position: ptr(pos)})
	}
}

func remove(name string) func(*fixture, map[string]string, []string) (*taskboard.Task, error) {
	return func(f *fixture, ids map[string]string, _ []string) (*taskboard.Task, error) {
		return nil, f.b.DeleteTask(f.ctx, taskboard.Actor{UserID: alice}, ids[name], taskboard.TaskDelete{IfVersion: 0})
	}
}

func TestNoOpWritesLogNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		// list-todo holds task-1 (0) and task-2 (1); lists are todo, progress, done.
		cases := []struct {
			name string
			call func() (int64, error) // returns the version written back
		}{
			{"MoveTask to its own position", func() (int64, error) {
				task, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listTodo, Position: ptr(0)})
				return version(task, err)
			}},
			{"MoveTask of the last task to its own position", func() (int64, error) {
				task, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-2", taskboard.TaskMove{ListID: listTodo, Position: ptr(1)})
				return version(task, err)
			}},
			{"MoveTask of the last task past the end", func() (int64, error) {
				task, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-2", taskboard.TaskMove{ListID: listTodo, Position: ptr(50)})
				return version(task, err)
			}},
			{"MoveTask of a single task past the end", func() (int64, error) {
				task, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-4", taskboard.TaskMove{ListID: listDone, Position: ptr(1)})
				return version(task, err)
			}},
			{"MoveList to its own position", func() (int64, error) {
				list, err := f.b.MoveList(f.ctx, taskboard.Actor{UserID: alice}, listProgress, taskboard.ListMove{Position: ptr(1), IfVersion: 0})
				return listVersion(list, err)
			}},
			{"MoveList of the last list past the end", func() (int64, error) {
				list, err := f.b.MoveList(f.ctx, taskboard.Actor{UserID: alice}, listDone, taskboard.ListMove{Position: ptr(9), IfVersion: 1})
				return listVersion(list, err)
			}},
			{"UpdateTask to the same values", func() (int64, error) {
				task, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{
					Title:      ptr("Design login page"),
					AssigneeID: taskboard.Nullable[string]{Set: true, Value: ptr(alice)},
				})
				return version(task, err)
			}},
			{"UpdateTask with nothing set", func() (int64, error) {
				task, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{})
				return version(task, err)
			}},
			{"UpdateList to the same name", func() (int64, error) {
				list, err := f.b.UpdateList(f.ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListUpdate{Name: ptr("To Do")})
				return listVersion(list, err)
			}},
			{"UpdateBoard to the same name", func() (int64, error) {
				_, err := f.b.UpdateBoard(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.BoardUpdate{Name: ptr("Sprint 12")})
				return 1, err
			}},
		}
		before, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				v, err := tc.call()
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if v != 1 {
					t.Errorf("%s: returned version %d, want 1", tc.name, v)
				}
				if events := f.eventsAfter(t, board1, 0); len(events) != 0 {
					t.Errorf("EventsAfter(0) after %s: got %d events (first %s), want none", tc.name, len(events), events[0].Type)
				}
			})
		}
		after, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("Snapshot after no-op writes:\ngot  %+v\nwant %+v", after, before)
		}
	})
}

func version(task *taskboard.Task, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return task.Version, nil
}

func listVersion(list *taskboard.List, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return list.Version, nil
}

func TestVersions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		steps := []struct {
			name string
			call func() error
			// want maps ids of tasks and lists to their versions after the step.
			want map[string]int64
		}{
			{"start", func() error { return nil }, map[string]int64{
				"task-1": 1, "task-2": 1, "task-3": 1, "task-4": 1, listTodo: 1, listProgress: 1, listDone: 1}},
			{"update task-1's title", func() error {
				_, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("Design sign-in page")})
				return err
			}, map[string]int64{"task-1": 2, "task-2": 1}},
			{"clear task-1's assignee and set a description", func() error {
				_, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{
					AssigneeID:  taskboard.Nullable[string]{Set: true},
					Description: taskboard.Nullable[string]{Set: true, Value: ptr("with SSO")},
				})
				return err
			}, map[string]int64{"task-1": 3, "task-2": 1}},
			{"move task-2 above task-1 (task-1 shifts)", func() error {
				_, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-2", taskboard.TaskMove{ListID: listTodo, Position: ptr(0)})
				return err
			}, map[string]int64{"task-1": 3, "task-2": 2}},
			{"move task-3 to the top of done (task-4 shifts)", func() error {
				_, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-3", taskboard.TaskMove{ListID: listDone, Position: ptr(0)})
				return err
			}, map[string]int64{"task-3": 2, "task-4": 1}},
			{"delete task-2 (task-1 shifts)", func() error {
				return f.b.DeleteTask(f.ctx, taskboard.Actor{UserID: alice}, "task-2", taskboard.TaskDelete{IfVersion: 0})
			}, map[string]int64{"task-1": 3}},
			{"rename list-todo", func() error {
				_, err := f.b.UpdateList(f.ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListUpdate{Name: ptr("Backlog")})
				return err
			}, map[string]int64{listTodo: 2, listProgress: 1, listDone: 1}},
			{"move list-done first (the others shift)", func() error {
				_, err := f.b.MoveList(f.ctx, taskboard.Actor{UserID: alice}, listDone, taskboard.ListMove{Position: ptr(0), IfVersion: 0})
				return err
			}, map[string]int64{listTodo: 2, listProgress: 1, listDone: 2}},
			{"create a list at 0 (the others shift)", func() error {
				_, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: "Ideas", Position: ptr(0)})
				return err
			}, map[string]int64{listTodo: 2, listProgress: 1, listDone: 2}},
		}
		for _, step := range steps {
			if err := step.call(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			snap, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: alice}, board1)
			if err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			have := map[string]int64{}
			for _, task := range snap.Tasks {
				have[task.ID] = task.Version
			}
			for _, l := range snap.Lists {
				have[l.ID] = l.Version
			}
			for id, want := range step.want {
				if have[id] != want {
					t.Errorf("after %s: %s has version %d, want %d", step.name, id, have[id], want)
				}
			}
		}
		task, err := f.b.Task(f.ctx, taskboard.Actor{UserID: alice}, "task-1")
		if err != nil {
			t.Fatalf("Task: %v", err)
		}
		if task.AssigneeID != nil || task.Description == nil || *task.Description != "with SSO" || task.Title != "Design sign-in page" {
			t.Errorf("Task(task-1): got title %q, assignee %v, description %v; want the updates", task.Title, task.AssigneeID, task.Description)
		}
	})
}

func TestListPositionsAndCascades(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		listNames := func() []string {
			t.Helper()
			lists, err := f.b.Lists(f.ctx, taskboard.Actor{UserID: alice}, board1)
			if err != nil {
				t.Fatalf("Lists: %v", err)
			}
			var names []string
			for i, l := range lists {
				if l.Position != i {
					t.Fatalf("Lists: %s has position %d, want %d", l.Name, l.Position, i)
				}
				names = append(names, l.Name)
			}
			return names
		}
		ids := map[string]string{"To Do": listTodo, "In Progress": listProgress, "Done": listDone}
		steps := []struct {
			name string
			call func() error
			want []string
		}{
			{"create at 0", func() error { return createList(f, ids, "Ideas", ptr(0)) }, []string{"Ideas", "To Do", "In Progress", "Done"}},
			{"create in the middle", func() error { return createList(f, ids, "Review", ptr(3)) }, []string{"Ideas", "To Do", "In Progress", "Review", "Done"}},
			{"create past the end", func() error { return createList(f, ids, "Archive", ptr(42)) }, []string{"Ideas", "To Do", "In Progress", "Review", "Done", "Archive"}},
			{"create without position", func() error { return createList(f, ids, "Later", nil) }, []string{"Ideas", "To Do", "In Progress", "Review", "Done", "Archive", "Later"}},
			{"move down", func() error {
				_, err := f.b.MoveList(f.ctx, taskboard.Actor{UserID: alice}, ids["Ideas"], taskboard.ListMove{Position: ptr(2), IfVersion: 0})
				return err
			}, []string{"To Do", "In Progress", "Ideas", "Review", "Done", "Archive", "Later"}},
			{"move up", func() error {
				_, err := f.b.MoveList(f.ctx, taskboard.Actor{UserID: alice}, ids["Done"], taskboard.ListMove{Position: ptr(0), IfVersion: 0})
				return err
			}, []string{"Done", "To Do", "In Progress", "Ideas", "Review", "Archive", "Later"}},
			{"move past the end", func() error {
				_, err := f.b.MoveList(f.ctx, taskboard.Actor{UserID: alice}, ids["To Do"], taskboard.ListMove{Position: ptr(100), IfVersion: 0})
				return err
			}, []string{"Done", "In Progress", "Ideas", "Review", "Archive", "Later", "To Do"}},
			{"delete in the middle", func() error {
				return f.b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, ids["Review"], taskboard.ListDelete{IfVersion: 0})
			}, []string{"Done", "In Progress", "Ideas", "Archive", "Later", "To Do"}},
		}
		for _, step := range steps {
			if err := step.call(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			if got := listNames(); !slices.Equal(got, step.want) {
				t.Fatalf("Lists after %s: got %v, want %v", step.name, got, step.want)
			}
		}

		// Deleting a list takes its tasks and names them in list_deleted.
		seq := f.seq(t, board1)
		if err := f.b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, listTodo, taskboard.ListDelete{IfVersion: 0}); err != nil {
			t.Fatalf("DeleteList(list-todo): %v", err)
		}
		events := f.eventsAfter(t, board1, seq)
		wantEvents(t, "DeleteList(list-todo)", events, seq, taskboard.EventListDeleted)
		env := envelope(t, events[0])
		if !slices.Equal(env.TaskIDs, []string{"task-1", "task-2"}) || env.List == nil || env.List.ID != listTodo {
			t.Errorf("list_deleted: got taskIds %v and list %+v, want [task-1 task-2] and list-todo", env.TaskIDs, env.List)
		}
		if !strings.Contains(string(events[0].Data), `"taskIds":["task-1","task-2"]`) {
			t.Errorf("list_deleted data: got %s, want taskIds in it", events[0].Data)
		}
		for _, id := range []string{"task-1", "task-2"} {
			_, err := f.b.Task(f.ctx, taskboard.Actor{UserID: alice}, id)
			wantErr(t, "Task("+id+") after its list was deleted", err, taskboard.ErrNotFound, "Task")
		}
		_, err := f.b.List(f.ctx, taskboard.Actor{UserID: alice}, listTodo)
		wantErr(t, "List(list-todo) after DeleteList", err, taskboard.ErrNotFound, "List")

		// An empty list's deletion names no tasks.
		seq = f.seq(t, board1)
		if err := f.b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, ids["Later"], taskboard.ListDelete{IfVersion: 0}); err != nil {
			t.Fatalf("DeleteList(Later): %v", err)
		}
		events = f.eventsAfter(t, board1, seq)
		if env := envelope(t, events[0]); len(env.TaskIDs) != 0 || !strings.Contains(string(events[0].Data), `"taskIds":[]`) {
			t.Errorf("list_deleted of an empty list: got %s, want \"taskIds\":[]", events[0].Data)
		}

		// Deleting the board takes everything, its log included.
		if err := f.b.DeleteBoard(f.ctx, taskboard.Actor{UserID: alice}, board1); err != nil {
			t.Fatalf("DeleteBoard: %v", err)
		}
		checks := []struct {
			call   string
			err    error
			entity string
		}{
			{"BoardInfo", func() error { _, err := f.b.BoardInfo(f.ctx, taskboard.Actor{UserID: alice}, board1); return err }(), "Board"},
			{"List(list-done)", func() error { _, err := f.b.List(f.ctx, taskboard.Actor{UserID: alice}, listDone); return err }(), "List"},
			{"Task(task-4)", func() error { _, err := f.b.Task(f.ctx, taskboard.Actor{UserID: alice}, "task-4"); return err }(), "Task"},
			{"EventsAfter", func() error {
				_, err := f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: alice}, board1, 0, 0)
				return err
			}(), "Board"},
		}
		for _, c := range checks {
			wantErr(t, c.call+" after DeleteBoard", c.err, taskboard.ErrNotFound, c.entity)
		}
		boards, err := f.b.Boards(f.ctx, taskboard.Actor{UserID: alice})
		if err != nil || len(boards) != 0 {
			t.Errorf("Boards(alice) after DeleteBoard: got %v, %v; want none", boards, err)
		}
		for _, table := range []string{"events", "tasks", "lists", "board_members"} {
			n, err := seam.DB(f.b).NewSelect().Table(table).Where("board_id = ?", board1).Count(f.ctx)
			if err != nil || n != 0 {
				t.Errorf("rows of %s for the deleted board: got %d, %v; want 0", table, n, err)
			}
		}
	})
}

func createList(f *fixture, ids map[string]string, name string, pos *int) error {
	l, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.ListCreate{Name: name, Position: pos})
	if err == nil {
		ids[name] = l.ID
	}
	return err
}

var modelSeed = flag.Int64("model-seed", 0, "seed of TestRandomOperationsMatchModel (0 picks one from the clock)")

// boardModel is the expected state of a board: lists in order, each with
// its tasks in order, the versions, and the board's seq.
type boardModel struct {
	lists    []*modelList
	versions map[string]int64
	seq      int64
}

type modelList struct {
	id    string
	tasks []string
}

func (m *boardModel) list(id string) (int, *modelList) {
	for i, l := range m.lists {
		if l.id == id {
			return i, l
		}
	}
	return -1, nil
}

func (m *boardModel) taskAt(id string) (*modelList, int) {
	for _, l := range m.lists {
		if i := slices.Index(l.tasks, id); i >= 0 {
			return l, i
		}
	}
	return nil, -1
}

func (m *boardModel) allTasks() []string {
	var ids []string
	for _, l := range m.lists {
		ids = append(ids, l.tasks...)
	}
	return ids
}

func insertAt[T any](s []T, p int, v T) []T { return slices.Insert(s, min(p, len(s)), v) }

// The operations, as the API defines them. Each reports whether it logs.
func (m *boardModel) createTask(list, id string, pos int) {
	_, l := m.list(list)
	l.tasks = insertAt(l.tasks, pos, id)
	m.versions[id] = 1
}

func (m *boardModel) moveTask(id, list string, pos int) bool {
	from, i := m.taskAt(id)
	_, to := m.list(list)
	if from == to && min(pos, len(from.tasks)-1) == i {
		return false
	}
	from.tasks = slices.Delete(from.tasks, i, i+1)
	to.tasks = insertAt(to.tasks, pos, id)
	m.versions[id]++
	return true
}

func (m *boardModel) deleteTask(id string) {
	l, i := m.taskAt(id)
	l.tasks = slices.Delete(l.tasks, i, i+1)
	delete(m.versions, id)
}

func (m *boardModel) createList(id string, pos int) {
	m.lists = insertAt(m.lists, pos, &modelList{id: id})
	m.versions[id] = 1
}

func (m *boardModel) moveList(id string, pos int) bool {
	i, l := m.list(id)
	if min(pos, len(m.lists)-1) == i {
		return false
	}
	m.lists = insertAt(slices.Delete(m.lists, i, i+1), pos, l)
	m.versions[id]++
	return true
}

func (m *boardModel) deleteList(id string) []string {
	i, l := m.list(id)
	m.lists = slices.Delete(m.lists, i, i+1)
	for _, t := range l.tasks {
		delete(m.versions, t)
	}
	delete(m.versions, id)
	return l.tasks
}

func (m *boardModel) String() string {
	var b strings.Builder
	for _, l := range m.lists {
		fmt.Fprintf(&b, "%s%v ", short(l.id), shorts(l.tasks))
	}
	return b.String()
}

func short(id string) string { return id[:min(len(id), 6)] }

func shorts(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = short(id)
	}
	return out
}

// TestRandomOperationsMatchModel runs random task and list writes against
// the store and an in-memory model, comparing them after every step, and
// finally checks that replaying the board's log rebuilds the same state.
func TestRandomOperationsMatchModel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		seed := *modelSeed
		if seed == 0 {
			seed = time.Now().UnixNano()
		}
		t.Logf("seed %d (rerun with -model-seed=%d)", seed, seed)
		rng := rand.New(rand.NewSource(seed))
		f := newFixture(t, dsn, nil)
		board, lists := f.newBoard(t, "Model", "L0", "L1", "L2")
		m := &boardModel{versions: map[string]int64{}, seq: int64(len(lists))}
		for _, id := range lists {
			m.createList(id, len(m.lists))
		}

		const steps = 300
		for step := range steps {
			desc, logged, err := randomStep(f, m, board, rng)
			if err != nil {
				t.Fatalf("step %d, %s: %v", step, desc, err)
			}
			if logged {
				m.seq++
			}
			compareModel(t, f, board, m, fmt.Sprintf("step %d, %s", step, desc))
		}

		// Replaying the log from the start rebuilds the same board.
		replayed := &boardModel{versions: map[string]int64{}}
		for _, ev := range f.eventsAfter(t, board, 0) {
			env := envelope(t, ev)
			replayed.seq = ev.Seq
			switch ev.Type {
			case taskboard.EventTaskCreated:
				replayed.createTask(env.Task.ListID, env.Task.ID, env.Task.Position)
			case taskboard.EventTaskMoved:
				replayed.moveTask(env.Task.ID, env.Task.ListID, env.Task.Position)
			case taskboard.EventTaskDeleted:
				replayed.deleteTask(env.TaskID)
			case taskboard.EventListCreated:
				replayed.createList(env.List.ID, env.List.Position)
			case taskboard.EventListMoved:
				replayed.moveList(env.List.ID, env.List.Position)
			case taskboard.EventListDeleted:
				replayed.deleteList(env.List.ID)
			default:
				t.Fatalf("unexpected event %d %s", ev.Seq, ev.Type)
			}
		}
		if replayed.String() != m.String() || replayed.seq != m.seq {
			t.Errorf("replaying the log: got %s at seq %d, want %s at seq %d", replayed, replayed.seq, m, m.seq)
		}
	})
}

// randomStep applies one random write to the store and the model.
func randomStep(f *fixture, m *boardModel, board string, rng *rand.Rand) (desc string, logged bool, err error) {
	tasks := m.allTasks()
	randomList := func() *modelList { return m.lists[rng.Intn(len(m.lists))] }
	r := rng.Intn(100)
	switch {
	case r < 6 && len(m.lists) < 6:
		pos := rng.Intn(len(m.lists) + 3)
		desc = fmt.Sprintf("create list at %d", pos)
		l, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board, taskboard.ListCreate{Name: "L", Position: &pos})
		if err != nil {
			return desc, false, err
		}
		m.createList(l.ID, pos)
		if want := min(pos, len(m.lists)-1); l.Position != want {
			return desc, true, fmt.Errorf("CreateList returned position %d, want %d", l.Position, want)
		}
		return desc, true, nil
	case r < 12:
		l := randomList()
		pos := rng.Intn(len(m.lists) + 2)
		desc = fmt.Sprintf("move list %s to %d", short(l.id), pos)
		got, err := f.b.MoveList(f.ctx, taskboard.Actor{UserID: alice}, l.id, taskboard.ListMove{Position: ptr(pos), IfVersion: 0})
		if err != nil {
			return desc, false, err
		}
		logged = m.moveList(l.id, pos)
		if got.Version != m.versions[l.id] {
			return desc, logged, fmt.Errorf("MoveList returned version %d, want %d", got.Version, m.versions[l.id])
		}
		return desc, logged, nil
	case r < 16 && len(m.lists) > 1:
		l := randomList()
		desc = fmt.Sprintf("delete list %s with %d tasks", short(l.id), len(l.tasks))
		if err := f.b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, l.id, taskboard.ListDelete{IfVersion: 0}); err != nil {
			return desc, false, err
		}
		want := m.deleteList(l.id)
		page, err := f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: alice}, board, m.seq, 0)
		if err != nil {
			return desc, true, err
		}
		if len(page.Events) != 1 {
			return desc, true, fmt.Errorf("got %d events, want 1", len(page.Events))
		}
		env, err := page.Events[0].Envelope()
		if err != nil {
			return desc, true, err
		}
		if !slices.Equal(env.TaskIDs, want) && !(len(want) == 0 && len(env.TaskIDs) == 0) {
			return desc, true, fmt.Errorf("list_deleted names tasks %v, want %v", shorts(env.TaskIDs), shorts(want))
		}
		return desc, true, nil
	case r < 45 || len(tasks) == 0:
		l := randomList()
		in := taskboard.TaskCreate{ListID: l.id, Title: fmt.Sprintf("T%d", len(tasks))}
		pos := len(l.tasks)
		if rng.Intn(4) > 0 {
			pos = rng.Intn(len(l.tasks) + 3)
			in.Position = &pos
		}
		desc = fmt.Sprintf("create task in %s at %d", short(l.id), pos)
		task, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, in)
		if err != nil {
			return desc, false, err
		}
		m.createTask(l.id, task.ID, pos)
		if want := min(pos, len(l.tasks)-1); task.Position != want || task.Version != 1 {
			return desc, true, fmt.Errorf("CreateTask returned position %d version %d, want %d and 1", task.Position, task.Version, want)
		}
		return desc, true, nil
	case r < 88:
		id := tasks[rng.Intn(len(tasks))]
		from, _ := m.taskAt(id)
		to := from
		if rng.Intn(2) == 0 {
			to = randomList()
		}
		pos := rng.Intn(len(to.tasks) + 3)
		desc = fmt.Sprintf("move task %s from %s to %s at %d", short(id), short(from.id), short(to.id), pos)
		task, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, id, taskboard.TaskMove{ListID: to.id, Position: ptr(pos)})
		if err != nil {
			return desc, false, err
		}
		logged = m.moveTask(id, to.id, pos)
		if l, i := m.taskAt(id); task.ListID != l.id || task.Position != i || task.Version != m.versions[id] {
			return desc, logged, fmt.Errorf("MoveTask returned list %s position %d version %d, want %s, %d, %d",
				short(task.ListID), task.Position, task.Version, short(l.id), i, m.versions[id])
		}
		return desc, logged, nil
	default:
		id := tasks[rng.Intn(len(tasks))]
		desc = fmt.Sprintf("delete task %s", short(id))
		if err := f.b.DeleteTask(f.ctx, taskboard.Actor{UserID: alice}, id, taskboard.TaskDelete{IfVersion: 0}); err != nil {
			return desc, false, err
		}
		m.deleteTask(id)
		return desc, true, nil
	}
}

// compareModel checks the store's snapshot and task list against m.
func compareModel(t *testing.T, f *fixture, board string, m *boardModel, after string) {
	t.Helper()
	snap, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: alice}, board)
	if err != nil {
		t.Fatalf("Snapshot after %s: %v", after, err)
	}
	got := &boardModel{versions: map[string]int64{}, seq: snap.Seq}
	for i, l := range snap.Lists {
		if l.Position != i {
			t.Fatalf("after %s: list %s has position %d, want %d", after, short(l.ID), l.Position, i)
		}
		got.lists = append(got.lists, &modelList{id: l.ID})
		got.versions[l.ID] = l.Version
	}
	for _, task := range snap.Tasks {
		_, l := got.list(task.ListID)
		if l == nil {
			t.Fatalf("after %s: task %s is in unknown list %s", after, short(task.ID), short(task.ListID))
		}
		if task.Position != len(l.tasks) {
			t.Fatalf("after %s: task %s has position %d in list %s, want %d", after, short(task.ID), task.Position, short(l.id), len(l.tasks))
		}
		l.tasks = append(l.tasks, task.ID)
		got.versions[task.ID] = task.Version
	}
	if got.String() != m.String() {
		t.Fatalf("after %s: got board %s, want %s", after, got, m)
	}
	if got.seq != m.seq {
		t.Fatalf("after %s: got seq %d, want %d", after, got.seq, m.seq)
	}
	for id, v := range m.versions {
		if got.versions[id] != v {
			t.Fatalf("after %s: %s has version %d, want %d", after, short(id), got.versions[id], v)
		}
	}
	tasks, seq, err := f.b.Tasks(f.ctx, taskboard.Actor{UserID: alice}, board)
	if err != nil {
		t.Fatalf("Tasks after %s: %v", after, err)
	}
	var ids []string
	for _, task := range tasks {
		ids = append(ids, task.ID)
	}
	if want := m.allTasks(); !slices.Equal(ids, want) || seq != m.seq {
		t.Fatalf("Tasks after %s: got %v at seq %d, want %v at seq %d", after, shorts(ids), seq, shorts(want), m.seq)
	}
}
