package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
)

// The GET /sessions bodies of the demo data.
const (
	aliceJSON     = `{"id":"user-alice","name":"Alice","email":"alice@example.com"}`
	bobJSON       = `{"id":"user-bob","name":"Bob","email":"bob@example.com"}`
	demoUsersJSON = `[` + aliceJSON + `,` + bobJSON + `]`
)

// wantState fails the test unless res is GET /sessions's 200 with body
// want, not cached and setting no cookie.
func (r *restResp) wantState(t testing.TB, want string) {
	t.Helper()
	r.want(t, http.StatusOK)
	if string(r.Body) != want+"\n" {
		t.Errorf("%s: got %s, want %s", r.call, r.Body, want)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: got Cache-Control %q, want no-store", r.call, got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("%s: got Content-Type %q, want application/json; charset=utf-8", r.call, got)
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
		t.Errorf("%s: got Set-Cookie %q, want none", r.call, sc)
	}
}

// TestSessionState checks GET /sessions on a demo server: who the request's
// credentials belong to, by token or cookie, nobody for every credential
// that is missing or not valid (never 401), and the demo sign-in offered.
func TestSessionState(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		// Sign-ins are limited to one: GET /sessions takes nothing from
		// that bucket.
		e := newRESTEnv(t, dsn, &httpapi.Options{Demo: true, SessionRate: 1e-6, SessionBurst: 1})
		ctx := context.Background()
		offered := `"token":true,"demo":true,"demoUsers":` + demoUsersJSON
		nobody := `{"user":null,` + offered + `}`
		e.do("GET", "/sessions", "", nil).wantState(t, nobody)
		e.as(e.alice, "GET", "/sessions", "").wantState(t, `{"user":`+aliceJSON+`,`+offered+`}`)

		// HEAD is GET without the body; other methods are not GET.
		head := e.do("HEAD", "/sessions", "", bearerHdr(e.alice)).want(t, http.StatusOK)
		if len(head.Body) != 0 || head.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("HEAD /sessions: got body %q, Cache-Control %q, want none, no-store", head.Body, head.Header.Get("Cache-Control"))
		}
		opts := e.do("OPTIONS", "/sessions", "", nil)
		opts.wantError(t, http.StatusMethodNotAllowed, "Method Not Allowed")
		if got := opts.Header.Get("Allow"); got != "GET, POST, DELETE" {
			t.Errorf("OPTIONS /sessions: got Allow %q, want GET, POST, DELETE", got)
		}

		// A session cookie, made by the demo sign-in (the one sign-in of
		// the bucket, after all the GETs above).
		res := e.do("POST", "/sessions/demo", `{"userId":"user-bob"}`, nil).want(t, http.StatusCreated)
		var bobCookie *http.Cookie
		for _, c := range (&http.Response{Header: res.Header}).Cookies() {
			if c.Name == httpapi.SessionCookie {
				bobCookie = c
			}
		}
		if bobCookie == nil {
			t.Fatalf("POST /sessions/demo: no session cookie in %q", res.Header.Values("Set-Cookie"))
		}
		e.do("GET", "/sessions", "", cookieHdr(bobCookie)).wantState(t, `{"user":`+bobJSON+`,`+offered+`}`)
		// A bearer token wins over the cookie, as everywhere.
		e.do("GET", "/sessions", "", cookieHdr(bobCookie).with("Authorization", "Bearer "+e.alice)).
			wantState(t, `{"user":`+aliceJSON+`,`+offered+`}`)
		// A GET from another site is no write: the cookie is read as is.
		e.do("GET", "/sessions", "", cookieHdr(bobCookie).with("Origin", "https://evil.example.com")).
			wantState(t, `{"user":`+bobJSON+`,`+offered+`}`)
		e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil).
			wantError(t, http.StatusTooManyRequests, "Too Many Requests: session rate exceeded")

		// Credentials that are not valid are nobody's.
		_, revoked, err := e.creds.CreateToken(ctx, demo.Alice)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.creds.RevokeToken(ctx, revoked); err != nil {
			t.Fatal(err)
		}
		// An expired token and an expired session, never used before they
		// expire (a check that succeeded is remembered for a while).
		later := time.Now().Add(time.Hour)
		expiring, expired, err := e.creds.IssueToken(ctx, demo.Alice, auth.TokenSpec{ExpiresAt: &later})
		if err != nil {
			t.Fatal(err)
		}
		_, carolCookie, err := e.creds.CreateSession(ctx, e.carolID, "")
		if err != nil {
			t.Fatal(err)
		}
		past := time.Now().UTC().Add(-time.Second)
		db := seam.DB(e.store)
		if _, err := db.NewRaw("UPDATE tokens SET expires_at = ? WHERE id = ?", past, expiring.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewRaw("UPDATE sessions SET expires_at = ? WHERE user_id = ?", past, e.carolID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// A session that was signed in, then out.
		_, endedCookie, err := e.creds.CreateSession(ctx, demo.Bob, "")
		if err != nil {
			t.Fatal(err)
		}
		e.do("GET", "/sessions", "", restHdr{"Cookie": httpapi.SessionCookie + "=" + endedCookie}).
			wantState(t, `{"user":`+bobJSON+`,`+offered+`}`)
		e.do("DELETE", "/sessions", "", restHdr{"Cookie": httpapi.SessionCookie + "=" + endedCookie}).want(t, http.StatusNoContent)

		seq := e.boardSeq(demo.Board)
		for _, cred := range []struct {
			name string
			h    restHdr
		}{
			{"unknown token", bearerHdr("tb_0123456789abcdef")},
			{"not a token", bearerHdr("hello")},
			{"empty bearer", restHdr{"Authorization": "Bearer "}},
			{"basic auth", restHdr{"Authorization": "Basic YWxpY2U6c2VjcmV0"}},
			{"revoked token", bearerHdr(revoked)},
			{"expired token", bearerHdr(expired)},
			{"unknown cookie", restHdr{"Cookie": httpapi.SessionCookie + "=nope"}},
			{"empty cookie", restHdr{"Cookie": httpapi.SessionCookie + "="}},
			{"expired session", restHdr{"Cookie": httpapi.SessionCookie + "=" + carolCookie}},
			{"ended session", restHdr{"Cookie": httpapi.SessionCookie + "=" + endedCookie}},
			{"ticket", restHdr{}}, // below, as ?ticket=
		} {
			path := "/sessions"
			if cred.name == "ticket" {
				var tk struct{ Ticket string }
				e.as(e.alice, "POST", "/realtime/tickets", "").want(t, http.StatusCreated).decode(t, &tk)
				path += "?ticket=" + tk.Ticket
			}
			res := e.do("GET", path, "", cred.h)
			res.call = cred.name + ": " + res.call
			res.wantState(t, nobody)
		}
		if got := e.boardSeq(demo.Board); got != seq {
			t.Errorf("GET /sessions changed board-1: seq %d, want %d", got, seq)
		}
	})
}

// TestSessionStateOffers checks what GET /sessions says the server offers:
// no demo sign-in with demo mode off or on a database that is not a demo
// one, and neither sign-in route with an authenticator of the program's
// own, whose users it still names.
func TestSessionStateOffers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		t.Run("demo off", func(t *testing.T) {
			e := newRESTEnv(t, sameEngine(t, dsn), nil)
			const offered = `"token":true,"demo":false,"demoUsers":[]`
			e.do("GET", "/sessions", "", nil).wantState(t, `{"user":null,`+offered+`}`)
			e.as(e.bob, "GET", "/sessions", "").wantState(t, `{"user":`+bobJSON+`,`+offered+`}`)
			c := e.sessionCookie(e.alice)
			e.do("GET", "/sessions", "", cookieHdr(c)).wantState(t, `{"user":`+aliceJSON+`,`+offered+`}`)
			// As it says, the demo sign-in is 404.
			e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil).wantError(t, http.StatusNotFound, "Not Found")
		})
		t.Run("not a demo database", func(t *testing.T) {
			ctx := context.Background()
			store, err := taskboard.Open(ctx, sameEngine(t, dsn), &taskboard.Options{MaintenanceInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			// The demo users, but not seeded: no demo database.
			for _, u := range []taskboard.UserCreate{
				{ID: demo.Alice, Name: "Alice", Email: "alice@example.com"},
				{ID: demo.Bob, Name: "Bob", Email: "bob@example.com"},
			} {
				if _, err := store.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			e := newRESTEnvOn(t, store, &httpapi.Options{Demo: true})
			e.as(e.alice, "GET", "/sessions", "").wantState(t, `{"user":`+aliceJSON+`,"token":true,"demo":false,"demoUsers":[]}`)
			e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil).wantError(t, http.StatusNotFound, "Not Found")
		})
		t.Run("custom authenticator", func(t *testing.T) {
			e := newRESTEnvStore(t, sameEngine(t, dsn), &httpapi.Options{Authenticator: headerAuth, Demo: true}, nil, nil)
			const offered = `"token":false,"demo":false,"demoUsers":[]`
			e.do("GET", "/sessions", "", nil).wantState(t, `{"user":null,`+offered+`}`)
			e.do("GET", "/sessions", "", restHdr{"X-User": demo.Bob}).wantState(t, `{"user":`+bobJSON+`,`+offered+`}`)
			// A user the store does not have (no provisioning) is nobody.
			e.do("GET", "/sessions", "", restHdr{"X-User": "sso-ghost"}).wantState(t, `{"user":null,`+offered+`}`)
			// The authenticator's own failure is no answer about the user.
			e.do("GET", "/sessions", "", restHdr{"X-User": "broken"}).wantError(t, http.StatusInternalServerError, "Internal Server Error")
			// The routes it does not serve stay 404, not 405.
			for _, m := range []string{"POST", "DELETE", "PATCH", "OPTIONS"} {
				e.do(m, "/sessions", "", nil).wantError(t, http.StatusNotFound, "Not Found")
			}
		})
	})
}
