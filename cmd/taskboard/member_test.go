package main

import (
	"context"
	"strings"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// TestMemberSet brings an operator back into a board whose owners are
// gone: member set adds a user with a role, changes a member's role, logs
// each, and refuses what it cannot do without changing anything.
func TestMemberSet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		store, err := taskboard.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer store.Close()
		if ok, err := demo.Seed(ctx, store); err != nil || !ok {
			t.Fatalf("demo.Seed: %v, %v", ok, err)
		}
		carol, err := store.CreateUser(ctx, taskboard.UserCreate{Name: "Carol", Email: "carol@example.com"})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		alice := taskboard.Actor{UserID: demo.Alice}
		// Alice, the only owner, goes: only a viewer-to-be and an editor
		// are left.
		if _, err := store.UpdateMember(ctx, alice, demo.Board, demo.Bob, taskboard.RoleViewer); err != nil {
			t.Fatalf("UpdateMember(Bob): %v", err)
		}
		if err := store.RemoveMember(ctx, alice, demo.Board, demo.Alice); err == nil {
			t.Fatal("RemoveMember(the last owner) succeeded")
		}
		if _, err := store.SetMemberRole(ctx, demo.Board, demo.Bob, taskboard.RoleEditor); err != nil {
			t.Fatalf("SetMemberRole(Bob): %v", err)
		}
		roles := func() map[string]taskboard.Role {
			t.Helper()
			members, err := store.Members(ctx, taskboard.Actor{UserID: demo.Bob}, demo.Board)
			if err != nil {
				t.Fatalf("Members: %v", err)
			}
			m := map[string]taskboard.Role{}
			for _, u := range members {
				m[u.ID] = u.Role
			}
			return m
		}
		seq := func() int64 {
			t.Helper()
			s, err := store.BoardSeq(ctx, taskboard.Actor{UserID: demo.Bob}, demo.Board)
			if err != nil {
				t.Fatalf("BoardSeq: %v", err)
			}
			return s
		}
		before := seq()

		out, errOut, code := cli(t, nil, "member", "set", "--db", dsn, "--board", demo.Board, "--user", carol.ID, "--role", "owner")
		if code != 0 || out != "user "+carol.ID+" is owner of board board-1\n" {
			t.Fatalf("member set (add Carol): got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		out, errOut, code = cli(t, nil, "member", "set", "--db", dsn, "--board", demo.Board, "--user", demo.Bob, "--role", "owner")
		if code != 0 || !strings.Contains(out, "is owner") {
			t.Fatalf("member set (promote Bob): got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		// The same role again changes and logs nothing.
		if _, errOut, code := cli(t, nil, "member", "set", "--db", dsn, "--board", demo.Board, "--user", demo.Bob, "--role", "owner"); code != 0 {
			t.Fatalf("member set (Bob again): got exit %d, stderr %q", code, errOut)
		}
		if got, want := roles(), map[string]taskboard.Role{demo.Alice: taskboard.RoleOwner, demo.Bob: taskboard.RoleOwner, carol.ID: taskboard.RoleOwner}; len(got) != 3 || got[demo.Bob] != want[demo.Bob] || got[carol.ID] != want[carol.ID] {
			t.Fatalf("roles after member set: got %v, want %v", got, want)
		}
		page, err := store.EventsAfter(ctx, taskboard.Actor{UserID: demo.Bob}, demo.Board, before, 100)
		if err != nil {
			t.Fatalf("EventsAfter: %v", err)
		}
		var logged []string
		for _, ev := range page.Events {
			env, _ := ev.Envelope()
			logged = append(logged, env.Type+":"+env.UserID+":"+string(env.Role)+" by "+env.ActorID)
		}
		want := []string{"member_added:" + carol.ID + ":owner by " + carol.ID, "member_updated:user-bob:owner by user-bob"}
		if strings.Join(logged, ",") != strings.Join(want, ",") {
			t.Errorf("events: got %v, want %v", logged, want)
		}
		// Carol, an owner now, manages the board.
		if err := store.RemoveMember(ctx, taskboard.Actor{UserID: carol.ID}, demo.Board, demo.Alice); err != nil {
			t.Errorf("RemoveMember by the new owner: %v", err)
		}

		after := seq()
		for _, tc := range []struct {
			args []string
			err  string
		}{
			{[]string{"--board", demo.Board, "--user", demo.Bob, "--role", "admin"}, "--role must be owner, editor or viewer"},
			{[]string{"--board", demo.Board, "--user", demo.Bob}, "required"},
			{[]string{"--board", "nowhere", "--user", demo.Bob, "--role", "owner"}, "Board not found"},
			{[]string{"--board", demo.Board, "--user", "nobody", "--role", "owner"}, "User not found"},
		} {
			out, errOut, code := cli(t, nil, append([]string{"member", "set", "--db", dsn}, tc.args...)...)
			if code != 1 || out != "" || !strings.Contains(errOut, tc.err) {
				t.Errorf("member set %v: got exit %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, out, errOut, tc.err)
			}
		}
		if got := seq(); got != after {
			t.Errorf("refused member set commands: seq went from %d to %d", after, got)
		}
		// Demoting the last owner is refused here too.
		if _, err := store.UpdateMember(ctx, taskboard.Actor{UserID: carol.ID}, demo.Board, demo.Bob, taskboard.RoleEditor); err != nil {
			t.Fatalf("UpdateMember(Bob): %v", err)
		}
		after = seq()
		if out, errOut, code := cli(t, nil, "member", "set", "--db", dsn, "--board", demo.Board, "--user", carol.ID, "--role", "viewer"); code != 1 || out != "" || !strings.Contains(errOut, "owner") {
			t.Errorf("member set demoting the last owner: got exit %d, stdout %q, stderr %q; want 1", code, out, errOut)
		}
		if got := seq(); got != after {
			t.Errorf("refused member set commands: seq went from %d to %d", after, got)
		}
	})
}
