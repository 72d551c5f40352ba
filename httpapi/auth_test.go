package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// authCase is a route called with some credentials.
type authCase struct {
	method, path, body string
	member             int    // the status a member gets
	hiddenMsg          string // the 404 message a non-member gets; "" when the route is not board-scoped
}

// boardRoutes are the board-scoped routes, as Alice (a member of board-1)
// calls them on the demo data.
func boardRoutes() []authCase {
	return []authCase{
		{"GET", "/boards/board-1/tasks", "", http.StatusOK, "Board not found"},
		{"GET", "/boards/board-1", "", http.StatusOK, "Board not found"},
		{"PATCH", "/boards/board-1", `{"name":"Renamed"}`, http.StatusOK, "Board not found"},
		{"DELETE", "/boards/board-1", "", http.StatusNoContent, "Board not found"},
		{"POST", "/boards/board-1/members", `{"userId":"user-bob"}`, http.StatusOK, "Board not found"},
		{"DELETE", "/boards/board-1/members/user-bob", "", http.StatusNoContent, "Board not found"},
		{"POST", "/boards/board-1/lists", `{"name":"Review"}`, http.StatusCreated, "Board not found"},
		{"POST", "/tasks", `{"title":"New","listId":"list-todo"}`, http.StatusCreated, "List not found"},
		{"GET", "/tasks/task-1", "", http.StatusOK, "Task not found"},
		{"PATCH", "/tasks/task-1", `{"title":"Renamed"}`, http.StatusOK, "Task not found"},
		{"PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":0}`, http.StatusOK, "Task not found"},
		{"DELETE", "/tasks/task-1", "", http.StatusNoContent, "Task not found"},
		{"PATCH", "/lists/list-todo", `{"name":"Renamed"}`, http.StatusOK, "List not found"},
		{"PATCH", "/lists/list-todo/move", `{"position":2}`, http.StatusOK, "List not found"},
		{"DELETE", "/lists/list-todo", "", http.StatusNoContent, "List not found"},
		// The polling JSON routes.
		{"GET", "/boards/board-1/updates", "", http.StatusOK, "Board not found"},
		{"GET", "/boards/board-1/updates?after=0", "", http.StatusOK, "Board not found"},
		{"GET", "/boards/board-1/poll?timeout=1", "", http.StatusOK, "Board not found"},
		{"GET", "/boards/board-1/presence", "", http.StatusOK, "Board not found"},
	}
}

// userRoutes need a user but no board.
func userRoutes() []authCase {
	return []authCase{
		{"GET", "/users/me", "", http.StatusOK, ""},
		{"GET", "/boards", "", http.StatusOK, ""},
		{"POST", "/boards", `{"name":"Mine"}`, http.StatusCreated, ""},
		{"POST", "/realtime/tickets", "", http.StatusCreated, ""},
	}
}

// patternOf returns the mux pattern of a route of the table.
func patternOf(c authCase) string {
	path, _, _ := strings.Cut(c.path, "?")
	r := strings.NewReplacer("board-1", "{boardId}", "task-1", "{id}", "list-todo", "{id}", "user-bob", "{userId}")
	return c.method + " " + r.Replace(path)
}

// TestAuthorizationMatrix calls every route that needs a user with no
// credentials, a bad token, a revoked token, a non-member's token and a
// member's token.
func TestAuthorizationMatrix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		for _, c := range append(boardRoutes(), userRoutes()...) {
			t.Run(c.method+" "+c.path, func(t *testing.T) {
				e := newRESTEnv(t, sameEngine(t, dsn), nil)
				if !e.serves(patternOf(c)) {
					t.Skipf("%s is not served", patternOf(c))
				}
				// Revoke a second token of Alice's.
				_, revoked, err := e.creds.CreateToken(t.Context(), demo.Alice)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.creds.RevokeToken(t.Context(), revoked); err != nil {
					t.Fatal(err)
				}
				seq := e.boardSeq("board-1")
				for _, cred := range []struct {
					name string
					h    restHdr
				}{
					{"no credentials", restHdr{}},
					{"unknown token", bearerHdr("tb_0123456789abcdef")},
					{"not a token", bearerHdr("hello")},
					{"empty bearer", restHdr{"Authorization": "Bearer "}},
					{"basic auth", restHdr{"Authorization": "Basic YWxpY2U6c2VjcmV0"}},
					{"revoked token", bearerHdr(revoked)},
					{"unknown cookie", restHdr{"Cookie": httpapi.SessionCookie + "=nope"}},
				} {
					res := e.do(c.method, c.path, c.body, cred.h)
					res.call = cred.name + ": " + res.call
					res.wantError(t, http.StatusUnauthorized, "Unauthorized")
					if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
						t.Errorf("%s: got WWW-Authenticate %q, want Bearer", res.call, got)
					}
				}
				if c.hiddenMsg != "" {
					res := e.as(e.carol, c.method, c.path, c.body)
					res.call = "non-member: " + res.call
					res.wantError(t, http.StatusNotFound, c.hiddenMsg)
				}
				if got := e.boardSeq("board-1"); got != seq {
					t.Fatalf("refused requests changed board-1: seq %d, want %d", got, seq)
				}
				res := e.as(e.alice, c.method, c.path, c.body)
				res.call = "member: " + res.call
				res.want(t, c.member)
			})
		}
	})
}

// sessionCookie signs in with a token through POST /sessions and returns
// the session cookie.
func (e *restEnv) sessionCookie(token string) *http.Cookie {
	e.t.Helper()
	res := e.do("POST", "/sessions", `{"token":`+quoteJSON(token)+`}`, nil).want(e.t, http.StatusCreated)
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == httpapi.SessionCookie {
			return c
		}
	}
	e.t.Fatalf("POST /sessions: no %s cookie in %v", httpapi.SessionCookie, res.Header["Set-Cookie"])
	return nil
}

// cookieHdr returns the Cookie header of a session cookie.
func cookieHdr(c *http.Cookie) restHdr {
	return restHdr{"Cookie": c.Name + "=" + c.Value}
}

// TestSessions checks browser sign-in with a token, the cookie's
// attributes, and sign-out.
// TestCookiePath checks that the session cookie keeps to the prefix the
// API is mounted under, and is cleared there.
func TestCookiePath(t *testing.T) {
	e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{CookiePath: "/board/"})
	res := e.do("POST", "/sessions", `{"token":`+quoteJSON(e.alice)+`}`, nil).want(t, http.StatusCreated)
	cookies := (&http.Response{Header: res.Header}).Cookies()
	if len(cookies) != 1 || cookies[0].Path != "/board/" {
		t.Fatalf("POST /sessions with CookiePath /board/: got %q, want Path=/board/", res.Header.Get("Set-Cookie"))
	}
	res = e.do("DELETE", "/sessions", "", cookieHdr(cookies[0])).want(t, http.StatusNoContent)
	cleared := (&http.Response{Header: res.Header}).Cookies()
	if len(cleared) != 1 || cleared[0].Path != "/board/" || cleared[0].MaxAge >= 0 {
		t.Fatalf("DELETE /sessions with CookiePath /board/: got %q, want the cookie at /board/ cleared", res.Header.Get("Set-Cookie"))
	}
}

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)

		res := e.do("POST", "/sessions", `{"token":`+quoteJSON(e.alice)+`}`, nil).want(t, http.StatusCreated)
		if want := `{"user":{"id":"user-alice","name":"Alice","email":"alice@example.com"}}` + "\n"; string(res.Body) != want {
			t.Errorf("POST /sessions: got %s, want %s", res.Body, want)
		}
		cookies := (&http.Response{Header: res.Header}).Cookies()
		if len(cookies) != 1 {
			t.Fatalf("POST /sessions: got cookies %v, want one", res.Header["Set-Cookie"])
		}
		c := cookies[0]
		if c.Name != "session" || c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" ||
			c.MaxAge != 30*24*60*60 || c.Secure {
			t.Errorf("POST /sessions: got cookie %q, want session=...; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax, not Secure", res.Header.Get("Set-Cookie"))
		}
		if strings.Contains(c.Value, e.alice) {
			t.Errorf("the session cookie holds the token")
		}

		// The cookie authenticates.
		var me taskboard.User
		e.do("GET", "/users/me", "", cookieHdr(c)).want(t, http.StatusOK).decode(t, &me)
		if me.ID != demo.Alice {
			t.Errorf("GET /users/me with the cookie: got %q, want user-alice", me.ID)
		}
		e.do("GET", "/boards/board-1/tasks", "", cookieHdr(c)).want(t, http.StatusOK)
		e.do("PATCH", "/tasks/task-1", `{"title":"By cookie"}`, cookieHdr(c)).want(t, http.StatusOK)
		// A bearer token wins over the cookie.
		e.do("GET", "/users/me", "", cookieHdr(c).with("Authorization", "Bearer "+e.bob)).want(t, http.StatusOK).decode(t, &me)
		if me.ID != demo.Bob {
			t.Errorf("GET /users/me with Bob's token and Alice's cookie: got %q, want user-bob", me.ID)
		}

		// Bad tokens.
		e.do("POST", "/sessions", `{"token":"tb_nope"}`, nil).wantError(t, http.StatusUnauthorized, "Unauthorized")
		e.do("POST", "/sessions", `{"token":"nope"}`, nil).wantError(t, http.StatusUnauthorized, "Unauthorized")
		e.do("POST", "/sessions", `{"token":`, nil).wantError(t, http.StatusBadRequest, "Invalid JSON")

		// DELETE /sessions ends it and clears the cookie.
		res = e.do("DELETE", "/sessions", "", cookieHdr(c)).want(t, http.StatusNoContent)
		cleared := (&http.Response{Header: res.Header}).Cookies()
		if len(cleared) != 1 || cleared[0].Name != "session" || cleared[0].MaxAge >= 0 || cleared[0].Value != "" {
			t.Errorf("DELETE /sessions: got Set-Cookie %q, want the session cookie cleared", res.Header.Get("Set-Cookie"))
		}
		e.do("GET", "/users/me", "", cookieHdr(c)).wantError(t, http.StatusUnauthorized, "Unauthorized")
		// Without a cookie it is still 204.
		e.do("DELETE", "/sessions", "", nil).want(t, http.StatusNoContent)

		// Revoking the token ends the sessions made from it.
		c = e.sessionCookie(e.alice)
		e.do("GET", "/users/me", "", cookieHdr(c)).want(t, http.StatusOK)
		if _, err := e.creds.RevokeToken(t.Context(), e.aliceTokenID); err != nil {
			t.Fatal(err)
		}
		e.do("GET", "/users/me", "", cookieHdr(c)).wantError(t, http.StatusUnauthorized, "Unauthorized")
		e.as(e.alice, "GET", "/users/me", "").wantError(t, http.StatusUnauthorized, "Unauthorized")
	})
}

// TestSecureCookie checks that an https public URL makes the cookie Secure.
func TestSecureCookie(t *testing.T) {
	for _, tc := range []struct {
		publicURL  string
		wantSecure bool
	}{
		{"", false},
		{"http://board.example.com", false},
		{"https://board.example.com", true},
	} {
		t.Run(tc.publicURL, func(t *testing.T) {
			e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{PublicURL: tc.publicURL})
			c := e.sessionCookie(e.alice)
			if c.Secure != tc.wantSecure {
				t.Errorf("PublicURL %q: got Secure %v, want %v", tc.publicURL, c.Secure, tc.wantSecure)
			}
		})
	}
}

// TestCookieOrigins checks that cookie-authenticated writes come from an
// allowed origin, and that reads and bearer writes need none.
func TestCookieOrigins(t *testing.T) {
	const public = "https://board.example.com"
	const extra = "https://app.example.com"
	const foreign = "https://evil.example.com"
	type call struct {
		name        string
		method      string
		path, body  string
		origin      string // Origin header; "self" is the test server's own origin
		referer     string
		bearerOnly  bool // send Alice's token instead of the cookie
		want        int
		wantCORSfor bool // Access-Control-Allow-Origin names the origin
	}
	tests := []struct {
		name  string
		opts  httpapi.Options
		calls []call
	}{
		{"no public URL", httpapi.Options{}, []call{
			{"write from the own host", "POST", "/boards", `{"name":"x"}`, "self", "", false, http.StatusCreated, false},
			{"write without Origin", "POST", "/boards", `{"name":"x"}`, "", "", false, http.StatusCreated, false},
			{"write from a foreign origin", "POST", "/boards", `{"name":"x"}`, foreign, "", false, http.StatusForbidden, false},
			{"patch from a foreign origin", "PATCH", "/tasks/task-1", `{"title":"x"}`, foreign, "", false, http.StatusForbidden, false},
			{"delete from a foreign origin", "DELETE", "/tasks/task-1", "", foreign, "", false, http.StatusForbidden, false},
			{"write with a foreign Referer", "POST", "/boards", `{"name":"x"}`, "", foreign + "/page", false, http.StatusForbidden, false},
			{"write with the own Referer", "POST", "/boards", `{"name":"x"}`, "", "self/page", false, http.StatusCreated, false},
			{"read from a foreign origin", "GET", "/boards/board-1/tasks", "", foreign, "", false, http.StatusOK, false},
			{"bearer write from a foreign origin", "POST", "/boards", `{"name":"x"}`, foreign, "", true, http.StatusCreated, false},
			{"sign-out from a foreign origin", "DELETE", "/sessions", "", foreign, "", false, http.StatusForbidden, false},
		}},
		{"public URL", httpapi.Options{PublicURL: public}, []call{
			{"write from the public URL", "POST", "/boards", `{"name":"x"}`, public, "", false, http.StatusCreated, false},
			{"write from the own host", "POST", "/boards", `{"name":"x"}`, "self", "", false, http.StatusForbidden, false},
			{"write from a foreign origin", "POST", "/boards", `{"name":"x"}`, foreign, "", false, http.StatusForbidden, false},
			{"ticket from a foreign origin", "POST", "/realtime/tickets", "", foreign, "", false, http.StatusForbidden, false},
		}},
		{"allowed origins", httpapi.Options{PublicURL: public, AllowedOrigins: []string{extra + "/"}}, []call{
			{"write from an allowed origin", "POST", "/boards", `{"name":"x"}`, extra, "", false, http.StatusCreated, true},
			{"read from an allowed origin", "GET", "/users/me", "", extra, "", false, http.StatusOK, true},
			{"write from the public URL", "POST", "/boards", `{"name":"x"}`, public, "", false, http.StatusCreated, true},
			{"write from a foreign origin", "POST", "/boards", `{"name":"x"}`, foreign, "", false, http.StatusForbidden, false},
			{"read from a foreign origin", "GET", "/users/me", "", foreign, "", false, http.StatusOK, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newRESTEnv(t, dbtest.SQLite(t), &tc.opts)
			cookie := e.sessionCookie(e.alice)
			for _, c := range tc.calls {
				t.Run(c.name, func(t *testing.T) {
					h := cookieHdr(cookie)
					if c.bearerOnly {
						h = bearerHdr(e.alice)
					}
					if c.origin != "" {
						h = h.with("Origin", strings.Replace(c.origin, "self", e.srv.URL, 1))
					}
					if c.referer != "" {
						h = h.with("Referer", strings.Replace(c.referer, "self", e.srv.URL, 1))
					}
					res := e.do(c.method, c.path, c.body, h)
					if c.want == http.StatusForbidden {
						res.wantError(t, http.StatusForbidden, "Forbidden")
					} else {
						res.want(t, c.want)
					}
					acao := res.Header.Get("Access-Control-Allow-Origin")
					if c.wantCORSfor && acao != c.origin {
						t.Errorf("%s: got Access-Control-Allow-Origin %q, want %q", res.call, acao, c.origin)
					}
					if !c.wantCORSfor && acao != "" {
						t.Errorf("%s: got Access-Control-Allow-Origin %q, want none", res.call, acao)
					}
				})
			}
			if len(tc.opts.AllowedOrigins) > 0 {
				// A preflight from an allowed origin.
				res := e.do("OPTIONS", "/tasks/task-1", "", restHdr{"Origin": extra, "Access-Control-Request-Method": "PATCH"}).want(t, http.StatusNoContent)
				if got := res.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "PATCH") {
					t.Errorf("preflight: got Access-Control-Allow-Methods %q, want PATCH among them", got)
				}
				if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
					t.Errorf("preflight: got Access-Control-Allow-Credentials %q, want true", got)
				}
			}
		})
	}
}

// TestDemoSession checks one-click demo sign-in: only with Options.Demo on
// a demo database.
func TestDemoSession(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, &httpapi.Options{Demo: true})
		res := e.do("POST", "/sessions/demo", `{"userId":"user-bob"}`, nil).want(t, http.StatusCreated)
		if want := `{"user":{"id":"user-bob","name":"Bob","email":"bob@example.com"}}` + "\n"; string(res.Body) != want {
			t.Errorf("POST /sessions/demo: got %s, want %s", res.Body, want)
		}
		var c *http.Cookie
		for _, x := range (&http.Response{Header: res.Header}).Cookies() {
			if x.Name == httpapi.SessionCookie {
				c = x
			}
		}
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
			t.Fatalf("POST /sessions/demo: got Set-Cookie %q, want an HttpOnly SameSite=Lax session cookie", res.Header.Get("Set-Cookie"))
		}
		var me taskboard.User
		e.do("GET", "/users/me", "", cookieHdr(c)).want(t, http.StatusOK).decode(t, &me)
		if me.ID != demo.Bob {
			t.Errorf("GET /users/me with the demo cookie: got %q, want user-bob", me.ID)
		}
		e.do("POST", "/sessions/demo", `{"userId":"`+e.carolID+`"}`, nil).wantError(t, http.StatusNotFound, "User not found")
		e.do("POST", "/sessions/demo", `{}`, nil).wantValidation(t, "userId")
		e.do("POST", "/sessions/demo", `{`, nil).wantError(t, http.StatusBadRequest, "Invalid JSON")
	})
	t.Run("demo off", func(t *testing.T) {
		e := newRESTEnv(t, dbtest.SQLite(t), nil)
		res := e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil)
		res.wantError(t, http.StatusNotFound, "Not Found")
		if sc := res.Header.Get("Set-Cookie"); sc != "" {
			t.Errorf("POST /sessions/demo with demo off: got Set-Cookie %q, want none", sc)
		}
	})
	t.Run("not a demo database", func(t *testing.T) {
		ctx := context.Background()
		store, err := taskboard.Open(ctx, dbtest.SQLite(t), &taskboard.Options{MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if _, err := store.CreateUser(ctx, taskboard.UserCreate{Name: "Alice", Email: "alice@example.com"}); err != nil {
			t.Fatal(err)
		}
		// A database with users is never seeded, so it is no demo database.
		if ok, err := demo.Seed(ctx, store); ok || err != nil {
			t.Fatalf("demo.Seed on a database with users: got %v, %v, want false, nil", ok, err)
		}
		api := httpapi.New(store, &httpapi.Options{Demo: true})
		defer api.Close()
		e := &restEnv{t: t, store: store, api: api, srv: httptest.NewServer(api)}
		defer e.srv.Close()
		e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil).wantError(t, http.StatusNotFound, "Not Found")
	})
}

// TestTickets checks POST /realtime/tickets, and that a ticket is no
// credential on the REST routes.
func TestTickets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		newTicket := func() string {
			res := e.as(e.alice, "POST", "/realtime/tickets", "").want(t, http.StatusCreated)
			m := res.object(t)
			if got := keysOf(m); len(got) != 2 || got[0] != "expires_at" || got[1] != "ticket" {
				t.Fatalf("POST /realtime/tickets: got keys %v, want expires_at and ticket", got)
			}
			exp := wantUTC(t, "expires_at", m["expires_at"])
			if d := time.Until(exp); d < 50*time.Second || d > 70*time.Second {
				t.Errorf("POST /realtime/tickets: expires in %v, want 60 s", d)
			}
			s, _ := m["ticket"].(string)
			if s == "" {
				t.Fatalf("POST /realtime/tickets: empty ticket in %s", res.Body)
			}
			return s
		}
		ticket := newTicket()
		for _, path := range []string{"/boards/board-1/tasks", "/boards/board-1", "/users/me", "/tasks/task-1", "/boards/board-1/updates", "/boards/board-1/presence"} {
			if !e.serves("GET "+strings.Replace(path, "board-1", "{boardId}", 1)) && !strings.Contains(path, "task-1") {
				continue
			}
			res := e.do("GET", path+"?ticket="+url.QueryEscape(ticket), "", nil)
			res.wantError(t, http.StatusUnauthorized, "Unauthorized")
		}
		e.do("PATCH", "/tasks/task-1?ticket="+url.QueryEscape(ticket), `{"title":"x"}`, nil).wantError(t, http.StatusUnauthorized, "Unauthorized")
		// The REST routes did not use it up: a streaming route still takes it.
		p, err := e.creds.RedeemTicket(t.Context(), ticket)
		if err != nil || p.User.ID != demo.Alice {
			t.Fatalf("RedeemTicket after the REST attempts: got %v, %v, want Alice's", p, err)
		}
		if _, err := e.creds.RedeemTicket(t.Context(), ticket); !errors.Is(err, httpapi.ErrUnauthorized) {
			t.Errorf("RedeemTicket twice: got %v, want ErrUnauthorized", err)
		}
		if e.serves("GET /boards/{boardId}/events") {
			ticket = newTicket()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/boards/board-1/events?ticket="+url.QueryEscape(ticket), nil)
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
				t.Errorf("GET /boards/board-1/events?ticket=: got %d %q, want 200 text/event-stream", res.StatusCode, res.Header.Get("Content-Type"))
			}
			cancel()
			res.Body.Close()
		}
	})
}

// TestAuthenticator checks an embedding program's authenticator: its users
// are served, its ErrUnauthorized is 401, and any other error is a 500 whose
// cause is logged and never sent.
func TestAuthenticator(t *testing.T) {
	const cause = "directory server on fire"
	auth := httpapi.AuthenticatorFunc(func(r *http.Request) (*httpapi.Identity, error) {
		switch r.Header.Get("X-User") {
		case "alice":
			return &httpapi.Identity{User: taskboard.User{ID: demo.Alice, Name: "Alice", Email: "alice@example.com"}}, nil
		case "":
			return nil, fmt.Errorf("sso: no header: %w", httpapi.ErrUnauthorized)
		default:
			return nil, errors.New(cause)
		}
	})
	e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{Authenticator: auth})

	var me taskboard.User
	e.do("GET", "/users/me", "", restHdr{"X-User": "alice"}).want(t, http.StatusOK).decode(t, &me)
	if me.ID != demo.Alice {
		t.Errorf("GET /users/me: got %q, want user-alice", me.ID)
	}
	e.do("PATCH", "/tasks/task-1", `{"title":"SSO"}`, restHdr{"X-User": "alice"}).want(t, http.StatusOK)

	res := e.do("GET", "/boards/board-1/tasks", "", nil)
	res.wantError(t, http.StatusUnauthorized, "Unauthorized")
	if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("got WWW-Authenticate %q, want Bearer", got)
	}
	// The built-in credentials are not consulted.
	e.as(e.alice, "GET", "/users/me", "").wantError(t, http.StatusUnauthorized, "Unauthorized")

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/boards/board-1/tasks", ""},
		{"POST", "/tasks", `{"title":"t","listId":"list-todo"}`},
	} {
		res := e.do(c.method, c.path, c.body, restHdr{"X-User": "mallory"})
		res.wantError(t, http.StatusInternalServerError, "Internal Server Error")
		if strings.Contains(string(res.Body), "fire") || strings.Contains(fmt.Sprint(res.Header), "fire") {
			t.Errorf("%s: the cause leaked: %s %v", res.call, res.Body, res.Header)
		}
	}
	if logs := e.logs.String(); !strings.Contains(logs, cause) || !strings.Contains(logs, "level=ERROR") {
		t.Errorf("log: got %q, want an error naming %q", logs, cause)
	}
}
