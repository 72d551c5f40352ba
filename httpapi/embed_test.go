package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// headerAuth is an embedding program's authenticator: X-User names the
// user (its ID; name and email are made from it), X-Read-Only makes it
// read-only, X-Browser marks a credential the browser sent on its own, and
// X-User: broken is a failure of the program's own.
var headerAuth = httpapi.AuthenticatorFunc(func(r *http.Request) (*httpapi.Identity, error) {
	id := r.Header.Get("X-User")
	switch id {
	case "":
		return nil, httpapi.ErrUnauthorized
	case "broken":
		return nil, errors.New("directory unreachable")
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(id, "user-"), "@")
	return &httpapi.Identity{
		User:          taskboard.User{ID: id, Name: name, Email: name + "@example.com"},
		ReadOnly:      r.Header.Get("X-Read-Only") != "",
		SentByBrowser: r.Header.Get("X-Browser") != "",
	}, nil
})

// builtinRoutes are the routes of the built-in credentials.
var builtinRoutes = []string{"POST /sessions", "DELETE /sessions", "POST /sessions/demo", "POST /realtime/tickets"}

// TestProvisionUsers checks that with Options.ProvisionUsers a user of a
// custom authenticator is created on its first request, and can then work
// like any other.
func TestProvisionUsers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, &httpapi.Options{Authenticator: headerAuth, ProvisionUsers: true})
		dana := restHdr{"X-User": "sso-dana"}
		if _, err := e.store.User(t.Context(), "sso-dana"); !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("User(sso-dana) before the first request: got %v, want ErrNotFound", err)
		}
		var me taskboard.User
		e.do("GET", "/users/me", "", dana).want(t, http.StatusOK).decode(t, &me)
		if me.ID != "sso-dana" || me.Name != "sso-dana" || me.Email != "sso-dana@example.com" {
			t.Errorf("GET /users/me: got %+v, want the provisioned sso-dana", me)
		}
		if u, err := e.store.User(t.Context(), "sso-dana"); err != nil || u.Email != "sso-dana@example.com" {
			t.Fatalf("User(sso-dana) after the first request: got %v, %v", u, err)
		}
		board := e.do("POST", "/boards", `{"name":"Dana's"}`, dana).want(t, http.StatusCreated).object(t)
		boardID, _ := board["id"].(string)
		e.do("POST", "/boards/"+boardID+"/lists", `{"name":"Inbox"}`, dana).want(t, http.StatusCreated)
		var boards struct{ Data []taskboard.BoardInfo }
		e.do("GET", "/boards", "", dana).want(t, http.StatusOK).decode(t, &boards)
		if len(boards.Data) != 1 || boards.Data[0].ID != boardID {
			t.Errorf("GET /boards: got %+v, want Dana's board", boards.Data)
		}
		// An existing user is taken as stored.
		e.do("GET", "/users/me", "", restHdr{"X-User": demo.Alice}).want(t, http.StatusOK).decode(t, &me)
		if me.Name != "Alice" {
			t.Errorf("GET /users/me as user-alice: got %+v, want the stored Alice", me)
		}
		// A user that cannot be created (another has its email) is the
		// program's problem: 500.
		e.do("GET", "/users/me", "", restHdr{"X-User": "sso-erin"}).want(t, http.StatusOK)
		res := e.do("GET", "/users/me", "", restHdr{"X-User": "sso-erin@second"})
		res.wantError(t, http.StatusInternalServerError, "Internal Server Error")
	})
}

// TestUnknownUser checks that without Options.ProvisionUsers a user of a
// custom authenticator must exist: an unknown one is 401 on every route,
// /users/me included, and a user created with the program's ID is served.
func TestUnknownUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, &httpapi.Options{Authenticator: headerAuth})
		ghost := restHdr{"X-User": "sso-ghost"}
		seq := e.boardSeq(demo.Board)
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/users/me", ""},
			{"GET", "/boards", ""},
			{"POST", "/boards", `{"name":"x"}`},
			{"GET", "/boards/board-1/tasks", ""},
			{"PATCH", "/tasks/task-1", `{"title":"x"}`},
			{"GET", "/boards/board-1/events", ""},
			{"GET", "/boards/board-1/poll?timeout=1", ""},
		} {
			path, _, _ := strings.Cut(c.path, "?")
			if !e.serves(c.method + " " + strings.NewReplacer("board-1", "{boardId}", "task-1", "{id}").Replace(path)) {
				continue
			}
			res := e.do(c.method, c.path, c.body, ghost)
			res.wantError(t, http.StatusUnauthorized, "Unauthorized")
		}
		if got := e.boardSeq(demo.Board); got != seq {
			t.Errorf("refused requests changed board-1: seq %d, want %d", got, seq)
		}
		if _, err := e.store.User(t.Context(), "sso-ghost"); !errors.Is(err, taskboard.ErrNotFound) {
			t.Errorf("User(sso-ghost): got %v, want ErrNotFound (nothing provisioned)", err)
		}
		if _, err := e.store.CreateUser(t.Context(), taskboard.UserCreate{ID: "sso-ghost", Name: "Ghost", Email: "ghost@example.com"}); err != nil {
			t.Fatal(err)
		}
		var me taskboard.User
		e.do("GET", "/users/me", "", ghost).want(t, http.StatusOK).decode(t, &me)
		if me.ID != "sso-ghost" || me.Name != "Ghost" {
			t.Errorf("GET /users/me: got %+v, want the stored Ghost", me)
		}
		e.do("POST", "/boards", `{"name":"Ghost's"}`, ghost).want(t, http.StatusCreated)
	})
}

// TestCustomAuthenticatorAlone checks that a custom authenticator without
// the built-in one has no routes of the built-in credentials, and that its
// Identity's ReadOnly and SentByBrowser are honoured.
func TestCustomAuthenticatorAlone(t *testing.T) {
	e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{Authenticator: headerAuth, Demo: true})
	for _, pattern := range builtinRoutes {
		if slices.Contains(e.api.Routes(), pattern) {
			t.Errorf("Routes(): got %s, want it absent", pattern)
		}
	}
	alice := restHdr{"X-User": demo.Alice}
	e.do("POST", "/sessions", `{"token":`+quoteJSON(e.alice)+`}`, nil).wantError(t, http.StatusNotFound, "Not Found")
	e.do("DELETE", "/sessions", "", alice).wantError(t, http.StatusNotFound, "Not Found")
	e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil).wantError(t, http.StatusNotFound, "Not Found")
	e.do("POST", "/realtime/tickets", "", alice).wantError(t, http.StatusNotFound, "Not Found")

	// A read-only identity reads and may not write.
	ro := alice.with("X-Read-Only", "1")
	e.do("GET", "/boards/board-1/tasks", "", ro).want(t, http.StatusOK)
	seq := e.boardSeq(demo.Board)
	e.do("PATCH", "/tasks/task-1", `{"title":"x"}`, ro).wantError(t, http.StatusForbidden, "Forbidden")
	e.do("POST", "/boards", `{"name":"x"}`, ro).wantError(t, http.StatusForbidden, "Forbidden")
	if got := e.boardSeq(demo.Board); got != seq {
		t.Errorf("a read-only write changed board-1: seq %d, want %d", got, seq)
	}
	// A credential the browser sent by itself writes only from an allowed
	// origin.
	browser := alice.with("X-Browser", "1").with("Origin", "https://evil.example.com")
	e.do("PATCH", "/tasks/task-1", `{"title":"x"}`, browser).wantError(t, http.StatusForbidden, "Forbidden")
	e.do("PATCH", "/tasks/task-1", `{"title":"x"}`, alice.with("Origin", "https://evil.example.com")).want(t, http.StatusOK)
	e.do("PATCH", "/tasks/task-1", `{"title":"y"}`, alice.with("X-Browser", "1").with("Origin", e.srv.URL)).want(t, http.StatusOK)

	// Maintenance has no credentials to expire here.
	if err := e.api.Maintain(t.Context()); err != nil {
		t.Errorf("Maintain: %v", err)
	}
}

// TestFirstOf checks a custom authenticator before the built-in one: each
// answers for its own credentials, the first answer that is not
// ErrUnauthorized wins, the built-in routes are served, and a user of the
// custom authenticator gets a ticket that the built-in one redeems.
func TestFirstOf(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		store, err := taskboard.Open(t.Context(), dsn, &taskboard.Options{MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if _, err := demo.Seed(t.Context(), store); err != nil {
			t.Fatal(err)
		}
		creds := auth.New(store, nil)
		e := newRESTEnvOn(t, store, &httpapi.Options{
			Authenticator:  httpapi.FirstOf(headerAuth, httpapi.NewBuiltin(creds)),
			ProvisionUsers: true,
		})
		for _, pattern := range builtinRoutes {
			if !e.serves(pattern) {
				t.Errorf("Routes(): got no %s, want it served", pattern)
			}
		}
		var me taskboard.User
		e.do("GET", "/users/me", "", restHdr{"X-User": demo.Bob}).want(t, http.StatusOK).decode(t, &me)
		if me.ID != demo.Bob {
			t.Errorf("GET /users/me by header: got %q, want user-bob", me.ID)
		}
		e.as(e.alice, "GET", "/users/me", "").want(t, http.StatusOK).decode(t, &me)
		if me.ID != demo.Alice {
			t.Errorf("GET /users/me by token: got %q, want user-alice", me.ID)
		}
		// The custom authenticator answers first.
		e.do("GET", "/users/me", "", bearerHdr(e.alice).with("X-User", demo.Bob)).want(t, http.StatusOK).decode(t, &me)
		if me.ID != demo.Bob {
			t.Errorf("GET /users/me with both: got %q, want user-bob", me.ID)
		}
		e.do("GET", "/users/me", "", bearerHdr(e.alice).with("X-User", "broken")).wantError(t, http.StatusInternalServerError, "Internal Server Error")
		e.do("GET", "/users/me", "", bearerHdr("tb_unknown")).wantError(t, http.StatusUnauthorized, "Unauthorized")
		e.do("GET", "/users/me", "", nil).wantError(t, http.StatusUnauthorized, "Unauthorized")
		// Sessions from tokens work as with the built-in one alone.
		c := e.sessionCookie(e.alice)
		e.do("GET", "/users/me", "", cookieHdr(c)).want(t, http.StatusOK)

		// A ticket for a user of the custom authenticator.
		res := e.do("POST", "/realtime/tickets", "", restHdr{"X-User": demo.Bob}).want(t, http.StatusCreated)
		ticket, _ := res.object(t)["ticket"].(string)
		if ticket == "" {
			t.Fatalf("POST /realtime/tickets: no ticket in %s", res.Body)
		}
		// A REST route does not take it.
		e.do("GET", "/users/me?ticket="+url.QueryEscape(ticket), "", nil).wantError(t, http.StatusUnauthorized, "Unauthorized")
		if e.serves("GET /boards/{boardId}/events") {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/boards/board-1/events?ticket="+url.QueryEscape(ticket), nil)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Errorf("GET /boards/board-1/events?ticket=: got %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			cancel()
			resp.Body.Close()
		}
		// Used once.
		if _, err := creds.RedeemTicket(t.Context(), ticket); !errors.Is(err, httpapi.ErrUnauthorized) {
			t.Errorf("RedeemTicket of a used ticket: got %v, want ErrUnauthorized", err)
		}
		if err := e.api.Maintain(t.Context()); err != nil {
			t.Errorf("Maintain: %v", err)
		}
	})
}
