package taskboard_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun/migrate"
)

// roleBoard is a board of Alice's (the owner) with two lists and a task,
// Bob as an editor, and Carol with the role under test.
type roleBoard struct {
	id, list, other, task string
}

func (f *fixture) roleBoard(t *testing.T, carol taskboard.Role) roleBoard {
	t.Helper()
	id, lists := f.newBoard(t, "Roles", "A", "B")
	task := f.newTask(t, lists[0], "T")
	a := taskboard.Actor{UserID: alice}
	if _, _, err := f.b.AddMember(f.ctx, a, id, taskboard.MemberRef{UserID: bob}); err != nil {
		t.Fatalf("AddMember(Bob): %v", err)
	}
	if _, _, err := f.b.AddMember(f.ctx, a, id, taskboard.MemberRef{UserID: f.carol, Role: carol}); err != nil {
		t.Fatalf("AddMember(Carol): %v", err)
	}
	return roleBoard{id: id, list: lists[0], other: lists[1], task: task.ID}
}

// TestRoleMatrix makes every kind of write as a viewer, an editor, an owner
// and a non-member: the ones the role does not allow are ErrForbidden (a
// non-member's ErrNotFound) and change nothing; the others go through.
func TestRoleMatrix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		dave, err := f.b.CreateUser(f.ctx, taskboard.UserCreate{Name: "Dave", Email: "dave@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		name := ptr("Renamed")
		writes := []struct {
			name  string
			need  taskboard.Role // the least role allowed
			write func(a taskboard.Actor, rb roleBoard) error
		}{
			{"CreateList", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.CreateList(f.ctx, a, rb.id, taskboard.ListCreate{Name: "New"})
				return err
			}},
			{"UpdateList", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.UpdateList(f.ctx, a, rb.list, taskboard.ListUpdate{Name: name})
				return err
			}},
			{"MoveList", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.MoveList(f.ctx, a, rb.list, taskboard.ListMove{Position: ptr(1)})
				return err
			}},
			{"DeleteList", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				return f.b.DeleteList(f.ctx, a, rb.other, taskboard.ListDelete{})
			}},
			{"CreateTask", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.CreateTask(f.ctx, a, taskboard.TaskCreate{ListID: rb.list, Title: "New"})
				return err
			}},
			{"UpdateTask", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.UpdateTask(f.ctx, a, rb.task, taskboard.TaskUpdate{Title: name})
				return err
			}},
			{"MoveTask", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.MoveTask(f.ctx, a, rb.task, taskboard.TaskMove{ListID: rb.other})
				return err
			}},
			{"DeleteTask", taskboard.RoleEditor, func(a taskboard.Actor, rb roleBoard) error {
				return f.b.DeleteTask(f.ctx, a, rb.task, taskboard.TaskDelete{})
			}},
			{"UpdateBoard", taskboard.RoleOwner, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.UpdateBoard(f.ctx, a, rb.id, taskboard.BoardUpdate{Name: name})
				return err
			}},
			{"DeleteBoard", taskboard.RoleOwner, func(a taskboard.Actor, rb roleBoard) error {
				return f.b.DeleteBoard(f.ctx, a, rb.id)
			}},
			{"AddMember", taskboard.RoleOwner, func(a taskboard.Actor, rb roleBoard) error {
				_, _, err := f.b.AddMember(f.ctx, a, rb.id, taskboard.MemberRef{Email: "dave@example.com"})
				return err
			}},
			{"UpdateMember of another", taskboard.RoleOwner, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.UpdateMember(f.ctx, a, rb.id, bob, taskboard.RoleViewer)
				return err
			}},
			{"UpdateMember of oneself", taskboard.RoleOwner, func(a taskboard.Actor, rb roleBoard) error {
				_, err := f.b.UpdateMember(f.ctx, a, rb.id, a.UserID, taskboard.RoleOwner)
				return err
			}},
			{"RemoveMember of another", taskboard.RoleOwner, func(a taskboard.Actor, rb roleBoard) error {
				return f.b.RemoveMember(f.ctx, a, rb.id, bob)
			}},
			{"RemoveMember of oneself", taskboard.RoleViewer, func(a taskboard.Actor, rb roleBoard) error {
				return f.b.RemoveMember(f.ctx, a, rb.id, a.UserID)
			}},
		}
		rank := map[taskboard.Role]int{taskboard.RoleViewer: 1, taskboard.RoleEditor: 2, taskboard.RoleOwner: 3}
		for _, role := range []taskboard.Role{taskboard.RoleViewer, taskboard.RoleEditor, taskboard.RoleOwner, ""} {
			for _, w := range writes {
				who := string(role)
				if role == "" {
					who = "non-member"
				}
				t.Run(who+" "+w.name, func(t *testing.T) {
					rb := f.roleBoard(t, taskboard.RoleViewer)
					actor := taskboard.Actor{UserID: f.carol}
					if role == "" {
						actor.UserID = dave.ID
					} else if _, err := f.b.UpdateMember(f.ctx, taskboard.Actor{UserID: alice}, rb.id, f.carol, role); err != nil {
						t.Fatal(err)
					}
					before, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: alice}, rb.id)
					if err != nil {
						t.Fatal(err)
					}
					err = w.write(actor, rb)
					switch {
					case role == "":
						if !errors.Is(err, taskboard.ErrNotFound) {
							t.Fatalf("got %v, want ErrNotFound", err)
						}
					case rank[role] < rank[w.need]:
						if !errors.Is(err, taskboard.ErrForbidden) {
							t.Fatalf("got %v, want ErrForbidden", err)
						}
					default:
						if err != nil {
							t.Fatalf("got %v, want success", err)
						}
						return
					}
					after, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: alice}, rb.id)
					if err != nil || after.Seq != before.Seq || after.Board.Name != before.Board.Name || len(after.Members) != len(before.Members) || len(after.Tasks) != len(before.Tasks) || len(after.Lists) != len(before.Lists) {
						t.Fatalf("a refused write changed the board: %+v, %v; before %+v", after, err, before)
					}
				})
			}
		}

		// Every role reads everything and follows the board.
		rb := f.roleBoard(t, taskboard.RoleViewer)
		viewer := taskboard.Actor{UserID: f.carol}
		if s, err := f.b.Snapshot(f.ctx, viewer, rb.id); err != nil || len(s.Tasks) != 1 {
			t.Fatalf("Snapshot as a viewer: %+v, %v", s, err)
		}
		if _, err := f.b.Task(f.ctx, viewer, rb.task); err != nil {
			t.Fatalf("Task as a viewer: %v", err)
		}
		if _, _, err := f.b.Tasks(f.ctx, viewer, rb.id); err != nil {
			t.Fatalf("Tasks as a viewer: %v", err)
		}
		sub := f.subscribe(t, f.carol, rb.id, 0)
		wantErr(t, "MayWrite of a viewer's subscription", sub.MayWrite(), taskboard.ErrForbidden, "")
		if err := f.subscribe(t, bob, rb.id, -1).MayWrite(); err != nil {
			t.Fatalf("MayWrite of an editor's subscription: %v", err)
		}
		ro, err := f.b.Subscribe(f.ctx, taskboard.Actor{UserID: alice, ReadOnly: true}, rb.id, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		wantErr(t, "MayWrite of a read-only owner's subscription", ro.MayWrite(), taskboard.ErrForbidden, "")
	})
}

// TestRolesAndMembership checks the roles' rules on membership: the
// creator owns a board, the default role is editor, adding a member again
// keeps their role, the last owner stays, and bad roles are refused.
func TestRolesAndMembership(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		a := taskboard.Actor{UserID: alice}
		id, _ := f.newBoard(t, "Mine")
		roles := func() map[string]taskboard.Role {
			t.Helper()
			members, err := f.b.Members(f.ctx, a, id)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]taskboard.Role{}
			for _, u := range members {
				m[u.ID] = u.Role
			}
			return m
		}
		if got := roles(); len(got) != 1 || got[alice] != taskboard.RoleOwner {
			t.Fatalf("roles of a new board: got %v, want Alice owner", got)
		}
		m, added, err := f.b.AddMember(f.ctx, a, id, taskboard.MemberRef{UserID: bob})
		if err != nil || !added || m.Role != taskboard.RoleEditor {
			t.Fatalf("AddMember(Bob) without a role: got %+v, %v, %v; want an editor", m, added, err)
		}
		m, added, err = f.b.AddMember(f.ctx, a, id, taskboard.MemberRef{UserID: bob, Role: taskboard.RoleOwner})
		if err != nil || added || m.Role != taskboard.RoleEditor {
			t.Fatalf("AddMember(Bob) again as owner: got %+v, %v, %v; want nothing changed", m, added, err)
		}
		_, _, err = f.b.AddMember(f.ctx, a, id, taskboard.MemberRef{UserID: f.carol, Role: "admin"})
		wantErr(t, "AddMember with a bad role", err, taskboard.ErrInvalid, "role")
		_, err = f.b.UpdateMember(f.ctx, a, id, bob, "")
		wantErr(t, "UpdateMember with no role", err, taskboard.ErrInvalid, "role")
		_, err = f.b.UpdateMember(f.ctx, a, id, f.carol, taskboard.RoleViewer)
		wantErr(t, "UpdateMember of a non-member", err, taskboard.ErrNotFound, "User")

		// The last owner can be neither demoted nor removed.
		seq := f.seq(t, id)
		_, err = f.b.UpdateMember(f.ctx, a, id, alice, taskboard.RoleEditor)
		wantErr(t, "UpdateMember demoting the last owner", err, taskboard.ErrConflict, "")
		err = f.b.RemoveMember(f.ctx, a, id, alice)
		wantErr(t, "RemoveMember of the last owner", err, taskboard.ErrConflict, "")
		if got := f.seq(t, id); got != seq {
			t.Fatalf("refused changes of the last owner: seq %d, want %d", got, seq)
		}
		// With a second owner, the first may step down, and leave.
		if m, err := f.b.UpdateMember(f.ctx, a, id, bob, taskboard.RoleOwner); err != nil || m.Role != taskboard.RoleOwner {
			t.Fatalf("UpdateMember(Bob, owner): %+v, %v", m, err)
		}
		if m, err := f.b.UpdateMember(f.ctx, a, id, alice, taskboard.RoleViewer); err != nil || m.Role != taskboard.RoleViewer {
			t.Fatalf("UpdateMember(Alice, viewer): %+v, %v", m, err)
		}
		// Giving the role a member has logs nothing.
		seq = f.seq(t, id)
		if _, err := f.b.UpdateMember(f.ctx, taskboard.Actor{UserID: bob}, id, alice, taskboard.RoleViewer); err != nil {
			t.Fatal(err)
		}
		if got := f.seq(t, id); got != seq {
			t.Fatalf("UpdateMember to the same role: seq %d, want %d", got, seq)
		}
		events := f.eventsAfter(t, id, 0)
		var logged []string
		for _, ev := range events {
			env := envelope(t, ev)
			logged = append(logged, env.Type+":"+env.UserID+":"+string(env.Role))
		}
		if got, want := strings.Join(logged, " "), "member_added:user-bob:editor member_updated:user-bob:owner member_updated:user-alice:viewer"; got != want {
			t.Fatalf("events: got %s, want %s", got, want)
		}
		if err := f.b.RemoveMember(f.ctx, a, id, alice); err != nil {
			t.Fatalf("RemoveMember(Alice, a viewer, herself): %v", err)
		}
	})
}

// TestRoleChangeAppliesAtOnce changes the role of a member who follows the
// board: MayWrite answers by the new role as soon as UpdateMember returns,
// the subscription gets member_updated and goes on.
func TestRoleChangeAppliesAtOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		a := taskboard.Actor{UserID: alice}
		sub := f.subscribe(t, bob, board1, -1)
		pushSub, push := f.subscribePush(t, bob, board1, -1)
		for _, s := range []*taskboard.Subscription{sub, pushSub} {
			if err := s.MayWrite(); err != nil {
				t.Fatalf("MayWrite of an editor: %v", err)
			}
		}
		seq := f.seq(t, board1)
		if _, err := f.b.UpdateMember(f.ctx, a, board1, bob, taskboard.RoleViewer); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*taskboard.Subscription{sub, pushSub} {
			wantErr(t, "MayWrite right after the demotion", s.MayWrite(), taskboard.ErrForbidden, "")
		}
		for _, ev := range []taskboard.Event{nextEvent(t, sub), pushNext(t, push)} {
			if env := envelope(t, ev); ev.Seq != seq+1 || env.Type != taskboard.EventMemberUpdated || env.UserID != bob || env.Role != taskboard.RoleViewer {
				t.Fatalf("got %d %s, want member_updated of Bob to viewer", ev.Seq, ev.Data)
			}
		}
		if _, err := f.b.UpdateMember(f.ctx, a, board1, bob, taskboard.RoleEditor); err != nil {
			t.Fatal(err)
		}
		if err := sub.MayWrite(); err != nil {
			t.Fatalf("MayWrite right after the promotion: %v", err)
		}
		// The subscription goes on.
		f.rename(t, "after")
		for _, want := range []string{taskboard.EventMemberUpdated, taskboard.EventTaskUpdated} {
			if ev := nextEvent(t, sub); ev.Type != want {
				t.Fatalf("got %s, want %s", ev.Type, want)
			}
		}
		// A subscription that starts after a change knows it.
		if _, err := f.b.UpdateMember(f.ctx, a, board1, bob, taskboard.RoleViewer); err != nil {
			t.Fatal(err)
		}
		late := f.subscribe(t, bob, board1, 0)
		wantErr(t, "MayWrite of a viewer's later subscription", late.MayWrite(), taskboard.ErrForbidden, "")
	})
}

// TestRoleChangeOtherInstance changes a role through one store while a
// subscription follows the board through another over the same PostgreSQL
// database: MayWrite follows once the other instance hears of it.
func TestRoleChangeOtherInstance(t *testing.T) {
	dsn := dbtest.Postgres(t)
	f := newFixture(t, dsn, nil)
	other := openStore(t, dsn, nil)
	sub, err := other.Subscribe(context.Background(), taskboard.Actor{UserID: bob}, board1, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := f.b.UpdateMember(f.ctx, taskboard.Actor{UserID: alice}, board1, bob, taskboard.RoleViewer); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, sub)
	if ev.Type != taskboard.EventMemberUpdated {
		t.Fatalf("got %s, want member_updated", ev.Type)
	}
	wantErr(t, "MayWrite once member_updated arrived", sub.MayWrite(), taskboard.ErrForbidden, "")
}

// TestMigrateRoles builds a database the way the release before roles did
// and opens it with the current code: every member is an owner, and the
// boards behave as before.
func TestMigrateRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		old, err := taskboard.Open(ctx, dsn, &taskboard.Options{SkipMigrations: true})
		if err != nil {
			t.Fatalf("Open without migrations: %v", err)
		}
		fsys := fstest.MapFS{}
		for _, name := range []string{"20261127000001_initial.tx.up.sql", "20261127000002_presence.tx.up.sql", "20261206000001_order_keys.tx.up.sql"} {
			data, err := os.ReadFile(filepath.Join("migrations", name))
			if err != nil {
				t.Fatal(err)
			}
			fsys[name] = &fstest.MapFile{Data: data}
		}
		ms := migrate.NewMigrations()
		if err := ms.Discover(fsys); err != nil {
			t.Fatal(err)
		}
		data := struct{ RankCollation string }{"BINARY"}
		if strings.HasPrefix(dsn, "postgres") {
			data.RankCollation = `"C"`
		}
		m := migrate.NewMigrator(seam.DB(old), ms, migrate.WithMarkAppliedOnSuccess(true), migrate.WithTemplateData(data))
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Migrate(ctx); err != nil {
			t.Fatalf("old migrations: %v", err)
		}
		at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		db := seam.DB(old)
		for _, q := range []string{
			`INSERT INTO users (id, name, email, created_at) VALUES ('u1', 'Una', 'una@example.com', ?)`,
			`INSERT INTO users (id, name, email, created_at) VALUES ('u2', 'Ugo', 'ugo@example.com', ?)`,
			`INSERT INTO boards (id, name, created_at, seq) VALUES ('b1', 'Old', ?, 7)`,
			`INSERT INTO board_members (board_id, user_id, created_at) VALUES ('b1', 'u1', ?)`,
			`INSERT INTO board_members (board_id, user_id, created_at) VALUES ('b1', 'u2', ?)`,
		} {
			if _, err := db.ExecContext(ctx, q, at); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		b := openStore(t, dsn, nil)
		ugo := taskboard.Actor{UserID: "u2"}
		s, err := b.Snapshot(ctx, ugo, "b1")
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Members) != 2 || s.Members[0].Role != taskboard.RoleOwner || s.Members[1].Role != taskboard.RoleOwner {
			t.Fatalf("members after migration: %+v, want Una and Ugo owners", s.Members)
		}
		// As in the release before, any member may rename the board and
		// remove another.
		if _, err := b.UpdateBoard(ctx, ugo, "b1", taskboard.BoardUpdate{Name: ptr("Renamed")}); err != nil {
			t.Fatalf("UpdateBoard after migration: %v", err)
		}
		if err := b.RemoveMember(ctx, ugo, "b1", "u1"); err != nil {
			t.Fatalf("RemoveMember after migration: %v", err)
		}
		// A role outside the three is refused by the schema too.
		if _, err := seam.DB(b).ExecContext(ctx, `UPDATE board_members SET role = 'admin' WHERE board_id = 'b1'`); err == nil {
			t.Fatal("the schema took the role admin")
		}
	})
}

// TestRoleChangeReadFromLog changes a role through a second store on the
// same database, as `taskboard member set` does from another process: a
// subscription of the first store applies the change when it reads the
// event (on SQLite, which tells no other process, after the board's next
// write there).
func TestRoleChangeReadFromLog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		sub := f.subscribe(t, bob, board1, -1)
		other := openStore(t, dsn, &taskboard.Options{MaintenanceInterval: -1})
		if _, err := other.SetMemberRole(f.ctx, board1, bob, taskboard.RoleViewer); err != nil {
			t.Fatal(err)
		}
		f.rename(t, "next")
		ev := nextEvent(t, sub)
		if env := envelope(t, ev); ev.Type != taskboard.EventMemberUpdated || env.Role != taskboard.RoleViewer || env.ActorID != bob {
			t.Fatalf("got %s, want member_updated of Bob to viewer", ev.Data)
		}
		wantErr(t, "MayWrite once member_updated was read", sub.MayWrite(), taskboard.ErrForbidden, "")
	})
}
