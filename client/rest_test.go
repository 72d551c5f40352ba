package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr checks that err is an *client.Error of status that matches
// sentinel.
func wantErr(t *testing.T, what string, err error, status int, sentinel error) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != status || !errors.Is(err, sentinel) || e.Message == "" {
		t.Fatalf("%s: got %v, want a %d error matching %v", what, err, status, sentinel)
	}
}

func ptr[T any](v T) *T { return &v }

func TestBoardsListsTasks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice, bob, carol := e.client(e.alice), e.client(e.bob), e.client(e.carol)

		check(t, "Health", alice.Health(ctx))
		check(t, "Ready", alice.Ready(ctx))
		me, err := alice.Me(ctx)
		check(t, "Me", err)
		if me.ID != demo.Alice {
			t.Fatalf("Me: got %+v", me)
		}
		_, err = e.client("tb_wrong").Me(ctx)
		wantErr(t, "Me with a bad token", err, 401, client.ErrUnauthorized)

		b, err := alice.CreateBoard(ctx, "Client")
		check(t, "CreateBoard", err)
		_, err = alice.CreateBoard(ctx, "")
		wantErr(t, "CreateBoard without a name", err, 400, client.ErrInvalid)
		boards, err := alice.Boards(ctx)
		check(t, "Boards", err)
		if len(boards) != 2 {
			t.Fatalf("Boards: got %d, want 2", len(boards))
		}
		if _, err := alice.RenameBoard(ctx, b.ID, "Client 2"); err != nil {
			t.Fatalf("RenameBoard: %v", err)
		}
		_, err = bob.RenameBoard(ctx, b.ID, "Bob's")
		wantErr(t, "RenameBoard by a non-member", err, 404, client.ErrNotFound)

		todo, err := alice.CreateList(ctx, b.ID, "To do", nil)
		check(t, "CreateList", err)
		done, err := alice.CreateList(ctx, b.ID, "Done", ptr(0))
		check(t, "CreateList at 0", err)
		if done.Position != 0 {
			t.Fatalf("CreateList at 0: position %d", done.Position)
		}
		_, err = carol.CreateList(ctx, b.ID, "x", nil)
		wantErr(t, "CreateList by a non-member", err, 404, client.ErrNotFound)
		l, err := alice.RenameList(ctx, todo.ID, "Doing", todo.Version)
		check(t, "RenameList", err)
		_, err = alice.RenameList(ctx, todo.ID, "Stale", todo.Version)
		wantErr(t, "RenameList with a stale version", err, 412, client.ErrPreconditionFailed)
		l, err = alice.MoveList(ctx, l.ID, 0, l.Version)
		check(t, "MoveList", err)
		if l.Position != 0 {
			t.Fatalf("MoveList: position %d", l.Position)
		}
		_, err = alice.MoveList(ctx, l.ID, -1, 0)
		wantErr(t, "MoveList to -1", err, 400, client.ErrInvalid)

		task, err := alice.CreateTask(ctx, client.TaskCreate{Title: "Write", ListID: todo.ID, Description: ptr("words")})
		check(t, "CreateTask", err)
		_, err = alice.CreateTask(ctx, client.TaskCreate{Title: "x", ListID: "list-none"})
		wantErr(t, "CreateTask in an unknown list", err, 404, client.ErrNotFound)
		got, err := alice.Task(ctx, task.ID)
		check(t, "Task", err)
		if got.Title != "Write" || *got.Description != "words" {
			t.Fatalf("Task: got %+v", got)
		}
		_, err = carol.Task(ctx, task.ID)
		wantErr(t, "Task of a non-member", err, 404, client.ErrNotFound)
		up, err := alice.UpdateTask(ctx, task.ID, client.TaskUpdate{Title: ptr("Rewrite"), ClearDescription: true, Version: task.Version})
		check(t, "UpdateTask", err)
		if up.Title != "Rewrite" || up.Description != nil || up.Version != task.Version+1 {
			t.Fatalf("UpdateTask: got %+v", up)
		}
		_, err = alice.UpdateTask(ctx, task.ID, client.TaskUpdate{Title: ptr("Stale"), Version: task.Version})
		wantErr(t, "UpdateTask with a stale version", err, 412, client.ErrPreconditionFailed)
		mv, err := alice.MoveTask(ctx, task.ID, done.ID, 0, up.Version)
		check(t, "MoveTask", err)
		if mv.ListID != done.ID {
			t.Fatalf("MoveTask: got %+v", mv)
		}
		_, err = alice.MoveTask(ctx, task.ID, "list-todo", 0, 0)
		wantErr(t, "MoveTask to another board's list", err, 400, client.ErrInvalid)
		tasks, err := alice.Tasks(ctx, b.ID)
		check(t, "Tasks", err)
		if len(tasks) != 1 || tasks[0].ID != task.ID {
			t.Fatalf("Tasks: got %+v", tasks)
		}
		_, err = carol.Tasks(ctx, b.ID)
		wantErr(t, "Tasks of a non-member", err, 404, client.ErrNotFound)

		snap, err := alice.Snapshot(ctx, b.ID)
		check(t, "Snapshot", err)
		if len(snap.Lists) != 2 || len(snap.Tasks) != 1 || len(snap.Members) != 1 || snap.Seq == 0 {
			t.Fatalf("Snapshot: got %+v", snap)
		}
		_, err = carol.Snapshot(ctx, b.ID)
		wantErr(t, "Snapshot of a non-member", err, 404, client.ErrNotFound)

		// Short and long polling.
		page, err := alice.Updates(ctx, b.ID, 0, 2)
		check(t, "Updates", err)
		if len(page.Data) != 2 || !page.More || page.Data[0].Seq != 1 || page.Seq != 2 {
			t.Fatalf("Updates: got %+v", page)
		}
		_, err = alice.Updates(ctx, b.ID, snap.Seq+5, 0)
		var ge *client.Error
		if !errors.As(err, &ge) || !errors.Is(err, client.ErrGone) || ge.Reason != "ahead" || ge.Seq != snap.Seq {
			t.Fatalf("Updates ahead: got %v", err)
		}
		ch, err := alice.UpdatesSince(ctx, b.ID, time.Time{})
		check(t, "UpdatesSince", err)
		if len(ch.Data) != 1 || ch.Timestamp.IsZero() {
			t.Fatalf("UpdatesSince: got %+v", ch)
		}
		polled, err := alice.Poll(ctx, b.ID, snap.Seq-1, time.Second)
		check(t, "Poll", err)
		if len(polled.Data) != 1 || polled.Seq != snap.Seq {
			t.Fatalf("Poll: got %+v", polled)
		}
		_, err = alice.Poll(ctx, b.ID, 0, 2*time.Minute)
		wantErr(t, "Poll with a timeout over 60s", err, 400, client.ErrInvalid)

		pres, err := alice.Presence(ctx, b.ID)
		check(t, "Presence", err)
		if len(pres) != 0 {
			t.Fatalf("Presence: got %+v", pres)
		}
		_, err = carol.Presence(ctx, b.ID)
		wantErr(t, "Presence of a non-member", err, 404, client.ErrNotFound)

		conns, err := e.client(adminToken).AdminConnections(ctx)
		check(t, "AdminConnections", err)
		if conns.Total != 0 {
			t.Fatalf("AdminConnections: got %+v", conns)
		}
		_, err = alice.AdminConnections(ctx)
		wantErr(t, "AdminConnections without the admin token", err, 401, client.ErrUnauthorized)

		check(t, "DeleteTask", alice.DeleteTask(ctx, task.ID, mv.Version))
		wantErr(t, "DeleteTask again", alice.DeleteTask(ctx, task.ID, 0), 404, client.ErrNotFound)
		check(t, "DeleteList", alice.DeleteList(ctx, done.ID, 0))
		wantErr(t, "DeleteList again", alice.DeleteList(ctx, done.ID, 0), 404, client.ErrNotFound)
		check(t, "DeleteBoard", alice.DeleteBoard(ctx, b.ID))
		wantErr(t, "DeleteBoard again", alice.DeleteBoard(ctx, b.ID), 404, client.ErrNotFound)
	})
}

func TestMembersAndRoles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice, bob, carol := e.client(e.alice), e.client(e.bob), e.client(e.carol)

		m, err := alice.AddMember(ctx, demo.Board, client.MemberAdd{Email: "carol@example.com", Role: taskboard.RoleViewer})
		check(t, "AddMember", err)
		if m.UserID != e.carolID || m.Role != taskboard.RoleViewer {
			t.Fatalf("AddMember: got %+v", m)
		}
		_, err = bob.AddMember(ctx, demo.Board, client.MemberAdd{UserID: e.carolID})
		wantErr(t, "AddMember by an editor", err, 403, client.ErrForbidden)
		_, err = carol.CreateList(ctx, demo.Board, "Viewer's", nil)
		wantErr(t, "a viewer's write", err, 403, client.ErrForbidden)

		m, err = alice.SetRole(ctx, demo.Board, e.carolID, taskboard.RoleEditor)
		check(t, "SetRole", err)
		if m.Role != taskboard.RoleEditor {
			t.Fatalf("SetRole: got %+v", m)
		}
		_, err = alice.SetRole(ctx, demo.Board, demo.Alice, taskboard.RoleViewer)
		wantErr(t, "SetRole demoting the last owner", err, 409, client.ErrConflict)
		_, err = alice.SetRole(ctx, demo.Board, e.carolID, "king")
		wantErr(t, "SetRole to an unknown role", err, 400, client.ErrInvalid)

		check(t, "RemoveMember", alice.RemoveMember(ctx, demo.Board, e.carolID))
		wantErr(t, "RemoveMember of the last owner", alice.RemoveMember(ctx, demo.Board, demo.Alice), 409, client.ErrConflict)
		_, err = carol.Snapshot(ctx, demo.Board)
		wantErr(t, "Snapshot of a removed member", err, 404, client.ErrNotFound)
	})
}

func TestTokensAndTickets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice := e.client(e.alice)

		tok, err := alice.CreateToken(ctx, client.TokenCreate{Name: "reader", Scope: "read", ExpiresIn: time.Hour})
		check(t, "CreateToken", err)
		if tok.Secret == "" || tok.Scope != "read" || tok.ExpiresAt == nil {
			t.Fatalf("CreateToken: got %+v", tok)
		}
		_, err = alice.CreateToken(ctx, client.TokenCreate{Name: "short", ExpiresIn: time.Second})
		wantErr(t, "CreateToken expiring in 1s", err, 400, client.ErrInvalid)
		reader := e.client(tok.Secret)
		if _, err := reader.Boards(ctx); err != nil {
			t.Fatalf("Boards with a read token: %v", err)
		}
		_, err = reader.CreateBoard(ctx, "no")
		wantErr(t, "a read token's write", err, 403, client.ErrForbidden)
		_, err = reader.CreateToken(ctx, client.TokenCreate{Name: "wider", Scope: "write"})
		wantErr(t, "a read token making a write token", err, 403, client.ErrForbidden)

		toks, err := alice.Tokens(ctx)
		check(t, "Tokens", err)
		if len(toks) != 2 || toks[1].ID != tok.ID || toks[1].Secret != "" {
			t.Fatalf("Tokens: got %+v", toks)
		}
		tk, err := reader.CreateTicket(ctx)
		check(t, "CreateTicket", err)
		if tk.Ticket == "" || !tk.ExpiresAt.After(time.Now()) {
			t.Fatalf("CreateTicket: got %+v", tk)
		}
		_, err = e.client("").CreateTicket(ctx)
		wantErr(t, "CreateTicket without credentials", err, 401, client.ErrUnauthorized)

		check(t, "RevokeToken", alice.RevokeToken(ctx, tok.ID))
		wantErr(t, "RevokeToken again", alice.RevokeToken(ctx, tok.ID), 404, client.ErrNotFound)
		_, err = reader.Boards(ctx)
		wantErr(t, "a revoked token", err, 401, client.ErrUnauthorized)
	})
}

func TestWebhooks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice, bob := e.client(e.alice), e.client(e.bob)
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(receiver.Close)

		w, err := alice.CreateWebhook(ctx, demo.Board, client.WebhookCreate{URL: receiver.URL, Events: []string{"task_created"}, Description: "tasks"})
		check(t, "CreateWebhook", err)
		if w.Secret == "" || w.Status != "active" || len(w.Events) != 1 {
			t.Fatalf("CreateWebhook: got %+v", w)
		}
		_, err = alice.CreateWebhook(ctx, demo.Board, client.WebhookCreate{URL: "ftp://example.com"})
		wantErr(t, "CreateWebhook with an ftp URL", err, 400, client.ErrInvalid)
		_, err = bob.CreateWebhook(ctx, demo.Board, client.WebhookCreate{URL: receiver.URL})
		wantErr(t, "CreateWebhook by an editor", err, 403, client.ErrForbidden)

		list, err := alice.Webhooks(ctx, demo.Board)
		check(t, "Webhooks", err)
		if len(list) != 1 || list[0].ID != w.ID || list[0].Secret != "" {
			t.Fatalf("Webhooks: got %+v", list)
		}
		_, err = bob.Webhooks(ctx, demo.Board)
		wantErr(t, "Webhooks by an editor", err, 403, client.ErrForbidden)
		got, err := alice.Webhook(ctx, w.ID)
		check(t, "Webhook", err)
		if got.URL != receiver.URL {
			t.Fatalf("Webhook: got %+v", got)
		}
		_, err = alice.Webhook(ctx, "wh-none")
		wantErr(t, "Webhook unknown", err, 404, client.ErrNotFound)

		up, err := alice.UpdateWebhook(ctx, w.ID, client.WebhookUpdate{AllEvents: true, Status: ptr("paused")})
		check(t, "UpdateWebhook", err)
		if up.Events != nil || up.Status != "paused" {
			t.Fatalf("UpdateWebhook: got %+v", up)
		}
		_, err = alice.UpdateWebhook(ctx, w.ID, client.WebhookUpdate{Status: ptr("disabled")})
		wantErr(t, "UpdateWebhook to disabled", err, 400, client.ErrInvalid)

		snap, err := alice.Snapshot(ctx, demo.Board)
		check(t, "Snapshot", err)
		if _, err := alice.ReplayWebhook(ctx, w.ID, 0); err != nil {
			t.Fatalf("ReplayWebhook: %v", err)
		}
		_, err = alice.ReplayWebhook(ctx, w.ID, snap.Seq+1)
		wantErr(t, "ReplayWebhook after the board's seq", err, 400, client.ErrInvalid)
		ds, err := alice.WebhookDeliveries(ctx, w.ID, 10)
		check(t, "WebhookDeliveries", err)
		if len(ds) != 0 { // paused, nothing delivered
			t.Fatalf("WebhookDeliveries: got %+v", ds)
		}
		_, err = bob.WebhookDeliveries(ctx, w.ID, 0)
		wantErr(t, "WebhookDeliveries by an editor", err, 403, client.ErrForbidden)

		check(t, "DeleteWebhook", alice.DeleteWebhook(ctx, w.ID))
		wantErr(t, "DeleteWebhook again", alice.DeleteWebhook(ctx, w.ID), 404, client.ErrNotFound)
	})
}

func TestExportImport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		alice, carol := e.client(e.alice), e.client(e.carol)

		doc, err := alice.Export(ctx, demo.Board)
		check(t, "Export", err)
		if doc.Format != "taskboard/1" || len(doc.Tasks) != 4 || len(doc.Lists) != 3 {
			t.Fatalf("Export: got %+v", doc)
		}
		_, err = carol.Export(ctx, demo.Board)
		wantErr(t, "Export by a non-member", err, 404, client.ErrNotFound)

		data, err := json.Marshal(doc)
		check(t, "encode the export", err)
		ictx := client.WithMutationID(ctx, "import-1")
		snap, err := carol.Import(ictx, data)
		check(t, "Import", err)
		if snap.Board.ID == demo.Board || len(snap.Tasks) != 4 || snap.Seq != 1 {
			t.Fatalf("Import: got %+v", snap)
		}
		again, err := carol.Import(ictx, data)
		check(t, "Import repeated with the same key", err)
		if again.Board.ID != snap.Board.ID {
			t.Fatalf("Import repeated: a second board %s", again.Board.ID)
		}
		page, err := carol.Updates(ctx, snap.Board.ID, 0, 0)
		check(t, "Updates", err)
		if len(page.Data) != 1 || page.Data[0].MutationID == nil || *page.Data[0].MutationID != "import-1" {
			t.Fatalf("board_imported: got %+v", page.Data)
		}
		_, err = carol.Import(ctx, []byte(`{"format":"other/1"}`))
		wantErr(t, "Import of an unknown format", err, 400, client.ErrInvalid)
	})
}

// A write retried after a lost answer is applied once: the client sends
// the same Idempotency-Key on its retries.
func TestWriteRetriedOnce(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), nil)
	ctx := context.Background()
	// A proxy that loses the answer of the first POST /tasks after the
	// server has applied it.
	lost := false
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		r.RequestURI = ""
		e.api.ServeHTTP(rec, r)
		if r.Method == http.MethodPost && !lost {
			lost = true
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(proxy.Close)
	c, err := client.New(proxy.URL, client.WithToken(e.alice), client.WithBackoff(time.Millisecond))
	check(t, "New", err)
	task, err := c.CreateTask(ctx, client.TaskCreate{Title: "Once", ListID: "list-todo"})
	check(t, "CreateTask", err)
	if !lost {
		t.Fatal("the proxy lost no answer")
	}
	tasks, err := c.Tasks(ctx, demo.Board)
	check(t, "Tasks", err)
	n := 0
	for _, tk := range tasks {
		if tk.Title == "Once" {
			n++
			if tk.ID != task.ID {
				t.Fatalf("CreateTask answered %s, the board has %s", task.ID, tk.ID)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d tasks made by one retried CreateTask, want 1", n)
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), nil)
	ctx := context.Background()
	jar, err := cookiejar.New(nil)
	check(t, "cookiejar", err)
	c := e.client("", client.WithHTTPClient(&http.Client{Jar: jar}))
	u, err := c.SignIn(ctx, e.alice)
	check(t, "SignIn", err)
	if u.ID != demo.Alice {
		t.Fatalf("SignIn: got %+v", u)
	}
	me, err := c.Me(ctx)
	check(t, "Me with the cookie", err)
	if me.ID != demo.Alice {
		t.Fatalf("Me: got %+v", me)
	}
	_, err = c.SignIn(ctx, "tb_wrong")
	wantErr(t, "SignIn with a bad token", err, 401, client.ErrUnauthorized)
	check(t, "SignOut", c.SignOut(ctx))
	_, err = c.Me(ctx)
	wantErr(t, "Me after SignOut", err, 401, client.ErrUnauthorized)
	// Not a demo server: the route is 404.
	_, err = c.SignInDemo(ctx, demo.Alice)
	wantErr(t, "SignInDemo off a demo server", err, 404, client.ErrNotFound)
}

// TestSessionState checks Session: the caller of the token or the cookie,
// nobody (and no error) for a token that is not valid, and the sign-ins
// offered, without and with demo mode.
func TestSessionState(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		ctx := context.Background()
		userOf := func(s *client.SessionState) string {
			if s.User == nil {
				return ""
			}
			return s.User.ID
		}
		s, err := e.client("").Session(ctx)
		check(t, "Session signed out", err)
		if s.User != nil || !s.Token || s.Demo || s.DemoUsers == nil || len(s.DemoUsers) != 0 {
			t.Errorf("Session signed out, demo off: got %+v, want no user, token sign-in, no demo", s)
		}
		s, err = e.client(e.alice).Session(ctx)
		check(t, "Session with a token", err)
		if userOf(s) != demo.Alice || s.User.Name != "Alice" {
			t.Errorf("Session with Alice's token: got %+v, want Alice", s.User)
		}
		s, err = e.client("tb_wrong").Session(ctx)
		check(t, "Session with a bad token", err)
		if s.User != nil {
			t.Errorf("Session with a bad token: got %+v, want no user", s.User)
		}

		jar, err := cookiejar.New(nil)
		check(t, "cookiejar", err)
		c := e.client("", client.WithHTTPClient(&http.Client{Jar: jar}))
		_, err = c.SignIn(ctx, e.bob)
		check(t, "SignIn", err)
		s, err = c.Session(ctx)
		check(t, "Session with the cookie", err)
		if userOf(s) != demo.Bob {
			t.Errorf("Session with Bob's cookie: got %+v, want Bob", s.User)
		}
		check(t, "SignOut", c.SignOut(ctx))
		s, err = c.Session(ctx)
		check(t, "Session after SignOut", err)
		if s.User != nil {
			t.Errorf("Session after SignOut: got %+v, want no user", s.User)
		}

		// The same database served in demo mode.
		api := httpapi.New(e.store, &httpapi.Options{Demo: true, SessionRate: -1})
		srv := httptest.NewServer(api)
		t.Cleanup(func() {
			srv.Close()
			api.Close()
		})
		jar, err = cookiejar.New(nil)
		check(t, "cookiejar", err)
		dc, err := client.New(srv.URL, client.WithHTTPClient(&http.Client{Jar: jar}))
		check(t, "client.New", err)
		s, err = dc.Session(ctx)
		check(t, "Session on a demo server", err)
		if s.User != nil || !s.Token || !s.Demo || len(s.DemoUsers) != 2 ||
			s.DemoUsers[0].ID != demo.Alice || s.DemoUsers[1].ID != demo.Bob || s.DemoUsers[1].Name != "Bob" {
			t.Fatalf("Session on a demo server: got %+v, want no user, both sign-ins, Alice and Bob", s)
		}
		_, err = dc.SignInDemo(ctx, s.DemoUsers[1].ID)
		check(t, "SignInDemo", err)
		s, err = dc.Session(ctx)
		check(t, "Session after SignInDemo", err)
		if userOf(s) != demo.Bob {
			t.Errorf("Session after SignInDemo as Bob: got %+v, want Bob", s.User)
		}
	})
}
