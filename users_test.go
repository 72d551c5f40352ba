package taskboard_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

func TestUserWithOwnIDAndByEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b := openStore(t, dsn, nil)
		ctx := t.Context()
		u, err := b.CreateUser(ctx, taskboard.UserCreate{ID: "emp-42", Name: "Erin", Email: "erin@example.com"})
		if err != nil {
			t.Fatalf("CreateUser with an ID: %v", err)
		}
		if u.ID != "emp-42" {
			t.Fatalf("CreateUser with an ID: got ID %q, want emp-42", u.ID)
		}
		_, err = b.CreateUser(ctx, taskboard.UserCreate{ID: "emp-42", Name: "Other", Email: "other@example.com"})
		wantErr(t, "CreateUser with a taken ID", err, taskboard.ErrConflict, "emp-42")
		_, err = b.CreateUser(ctx, taskboard.UserCreate{ID: "bad\x00id", Name: "Nul", Email: "nul@example.com"})
		wantErr(t, "CreateUser with NUL in the ID", err, taskboard.ErrInvalid, "id")

		got, err := b.UserByEmail(ctx, " erin@example.com ")
		if err != nil || got.ID != "emp-42" {
			t.Fatalf("UserByEmail: got %+v, %v; want emp-42", got, err)
		}
		_, err = b.UserByEmail(ctx, "nobody@example.com")
		wantErr(t, "UserByEmail of an unknown address", err, taskboard.ErrNotFound, "User")
		_, err = b.UserByEmail(ctx, "x\x00@example.com")
		wantErr(t, "UserByEmail with NUL", err, taskboard.ErrNotFound, "User")
	})
}

func TestProvisionUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b := openStore(t, dsn, nil)
		ctx := t.Context()
		// Concurrent first requests of one user all get the same row.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := b.ProvisionUser(ctx, taskboard.User{ID: "sso-1", Name: "Frank", Email: "frank@example.com"})
				if err == nil && (u.ID != "sso-1" || u.Name != "Frank") {
					err = errors.New("got another user: " + u.ID + " " + u.Name)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("ProvisionUser #%d: %v", i, err)
			}
		}
		// An existing user is returned as stored.
		u, err := b.ProvisionUser(ctx, taskboard.User{ID: "sso-1", Name: "Renamed", Email: "renamed@example.com"})
		if err != nil || u.Name != "Frank" || u.Email != "frank@example.com" {
			t.Fatalf("ProvisionUser of an existing user: got %+v, %v; want Frank as stored", u, err)
		}
		// A user the store cannot create.
		_, err = b.ProvisionUser(ctx, taskboard.User{ID: "sso-2", Name: "", Email: "g@example.com"})
		wantErr(t, "ProvisionUser without a name", err, taskboard.ErrInvalid, "name")
		_, err = b.ProvisionUser(ctx, taskboard.User{ID: "sso-3", Name: "Gina", Email: "frank@example.com"})
		wantErr(t, "ProvisionUser with a taken email", err, taskboard.ErrConflict, "")
		_, err = b.ProvisionUser(ctx, taskboard.User{Name: "Hank", Email: "h@example.com"})
		wantErr(t, "ProvisionUser without an ID", err, taskboard.ErrInvalid, "id")
	})
}

func TestReadOnlyActor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		board, lists := f.newBoard(t, "Read only", "To Do")
		task := f.newTask(t, lists[0], "Stays")
		before := f.seq(t, board)
		ro := taskboard.Actor{UserID: alice, ReadOnly: true}
		ctx := f.ctx
		name := "Renamed"
		writes := map[string]func() error{
			"CreateBoard": func() error { _, err := f.b.CreateBoard(ctx, ro, "New"); return err },
			"UpdateBoard": func() error {
				_, err := f.b.UpdateBoard(ctx, ro, board, taskboard.BoardUpdate{Name: &name})
				return err
			},
			"CreateList": func() error { _, err := f.b.CreateList(ctx, ro, board, taskboard.ListCreate{Name: "L"}); return err },
			"MoveList":   func() error { _, err := f.b.MoveList(ctx, ro, lists[0], taskboard.ListMove{}); return err },
			"CreateTask": func() error {
				_, err := f.b.CreateTask(ctx, ro, taskboard.TaskCreate{ListID: lists[0], Title: "T"})
				return err
			},
			"UpdateTask": func() error {
				_, err := f.b.UpdateTask(ctx, ro, task.ID, taskboard.TaskUpdate{Title: &name})
				return err
			},
			"MoveTask": func() error {
				_, err := f.b.MoveTask(ctx, ro, task.ID, taskboard.TaskMove{ListID: lists[0]})
				return err
			},
			"DeleteTask": func() error { return f.b.DeleteTask(ctx, ro, task.ID, taskboard.TaskDelete{}) },
			"DeleteList": func() error { return f.b.DeleteList(ctx, ro, lists[0], taskboard.ListDelete{}) },
			"AddMember": func() error {
				_, _, err := f.b.AddMember(ctx, ro, board, taskboard.MemberRef{UserID: f.carol})
				return err
			},
			"RemoveMember": func() error { return f.b.RemoveMember(ctx, ro, board, alice) },
			"DeleteBoard":  func() error { return f.b.DeleteBoard(ctx, ro, board) },
		}
		for name, write := range writes {
			wantErr(t, name+" by a read-only actor", write(), taskboard.ErrForbidden, "")
		}
		if after := f.seq(t, board); after != before {
			t.Fatalf("read-only writes moved the board's seq from %d to %d", before, after)
		}
		// Reads work.
		if _, err := f.b.Snapshot(ctx, ro, board); err != nil {
			t.Fatalf("Snapshot by a read-only actor: %v", err)
		}
		if _, err := f.b.Task(ctx, ro, task.ID); err != nil {
			t.Fatalf("Task by a read-only actor: %v", err)
		}
	})
}

func TestUsers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b := openStore(t, dsn, nil)
		ctx := t.Context()
		u, err := b.CreateUser(ctx, taskboard.UserCreate{Name: "Dana", Email: "dana@example.com"})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if u.ID == "" || u.Name != "Dana" || u.Email != "dana@example.com" {
			t.Fatalf("CreateUser: got %+v, want Dana with a new id", u)
		}
		got, err := b.User(ctx, u.ID)
		if err != nil || got.Name != "Dana" || got.Email != "dana@example.com" {
			t.Fatalf("User: got %+v, %v; want Dana", got, err)
		}
		if has, err := b.HasUsers(ctx); err != nil || !has {
			t.Fatalf("HasUsers: got %v, %v; want true", has, err)
		}
		_, err = b.CreateUser(ctx, taskboard.UserCreate{Name: "Other Dana", Email: "dana@example.com"})
		wantErr(t, "CreateUser with a taken email", err, taskboard.ErrConflict, "")
		_, err = b.CreateUser(ctx, taskboard.UserCreate{Name: "", Email: "x@example.com"})
		wantErr(t, "CreateUser without a name", err, taskboard.ErrInvalid, "name")
		for _, email := range []string{"", "dana", "@example.com", "dana@", "da na@example.com"} {
			_, err = b.CreateUser(ctx, taskboard.UserCreate{Name: "Dana", Email: email})
			wantErr(t, "CreateUser(email "+email+")", err, taskboard.ErrInvalid, "email")
		}
	})
}
