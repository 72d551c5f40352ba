package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
)

// tokenBody is a token as the token routes show it.
type tokenBody struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Token      string     `json:"token"`
}

func (e *rtEnv) createToken(token, body string, status int) tokenBody {
	e.t.Helper()
	var tb tokenBody
	r := e.do(http.MethodPost, "/tokens", body, "Authorization", "Bearer "+token, "Content-Type", "application/json")
	if status == http.StatusCreated {
		r.want(e.t, status, &tb)
	} else {
		r.want(e.t, status, nil)
	}
	return tb
}

// sessionMaxAge signs in with a token and returns the cookie and its
// Max-Age.
func (e *rtEnv) sessionMaxAge(token string) (string, int) {
	e.t.Helper()
	r := e.do(http.MethodPost, "/sessions", `{"token":"`+token+`"}`, "Content-Type", "application/json")
	r.want(e.t, http.StatusCreated, nil)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "session" {
			return c.Value, c.MaxAge
		}
	}
	e.t.Fatalf("POST /sessions: no cookie in %v", r.Header)
	return "", 0
}

// TestTokenRoutes checks GET, POST and DELETE /tokens, scopes, expiry and
// what is made with a read token.
func TestTokenRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		read := e.createToken(e.alice, `{"name":"ci","scope":"read","expiresIn":3600}`, http.StatusCreated)
		if read.Scope != "read" || read.Name != "ci" || !strings.HasPrefix(read.Token, read.Prefix) || len(read.Prefix) != 11 ||
			read.ExpiresAt == nil || read.ExpiresAt.After(time.Now().Add(time.Hour+time.Minute)) {
			t.Fatalf("POST /tokens: got %+v", read)
		}
		var list struct {
			Data []map[string]any `json:"data"`
		}
		e.get(e.alice, "/tokens").want(t, http.StatusOK, &list)
		found := false
		for _, tok := range list.Data {
			if _, ok := tok["token"]; ok {
				t.Errorf("GET /tokens shows a secret: %v", tok)
			}
			found = found || tok["id"] == read.ID
		}
		if !found || len(list.Data) != 2 {
			t.Errorf("GET /tokens: got %v, want Alice's two tokens", list.Data)
		}

		// The read token reads, and writes nothing.
		e.get(read.Token, "/boards/board-1/tasks").want(t, http.StatusOK, nil)
		e.do(http.MethodPost, "/boards", `{"name":"x"}`, "Authorization", "Bearer "+read.Token).want(t, http.StatusForbidden, nil)
		e.do(http.MethodPatch, "/tasks/task-1", `{"title":"x"}`, "Authorization", "Bearer "+read.Token).want(t, http.StatusForbidden, nil)
		if got := e.get(e.alice, "/tasks/task-1"); !strings.Contains(string(got.Body), `"title":"`) || strings.Contains(string(got.Body), `"title":"x"`) {
			t.Errorf("a read token's write changed the task: %s", got.Body)
		}
		// It makes read tokens that end with it, nothing wider or longer.
		e.createToken(read.Token, `{"name":"w","scope":"write"}`, http.StatusForbidden)
		e.createToken(read.Token, `{"name":"long","expiresIn":7200}`, http.StatusForbidden)
		child := e.createToken(read.Token, `{"name":"child"}`, http.StatusCreated)
		if child.Scope != "read" || child.ExpiresAt == nil || !child.ExpiresAt.Equal(*read.ExpiresAt) {
			t.Errorf("a token made with the read token: got %+v, want read, expiring at %v", child, read.ExpiresAt)
		}
		// Its session reads only, and its cookie ends with the token.
		cookie, maxAge := e.sessionMaxAge(read.Token)
		if maxAge <= 0 || maxAge > 3600 {
			t.Errorf("the session cookie of an hour's token: Max-Age %d, want at most 3600", maxAge)
		}
		e.do(http.MethodPost, "/boards", `{"name":"x"}`, "Cookie", "session="+cookie).want(t, http.StatusForbidden, nil)
		e.do(http.MethodGet, "/boards", "", "Cookie", "session="+cookie).want(t, http.StatusOK, nil)

		// Bad bodies.
		for _, body := range []string{`{}`, `{"name":""}`, `{"name":"x","scope":"admin"}`, `{"name":"x","expiresIn":59}`,
			`{"name":"x","expiresIn":31536001}`, `{"name":"x","expiresIn":"60"}`, `{"name":"x","expiresIn":1.5}`} {
			e.createToken(e.alice, body, http.StatusBadRequest)
		}

		// Someone else's token is not found; the owner revokes it.
		e.do(http.MethodDelete, "/tokens/"+read.ID, "", "Authorization", "Bearer "+e.bob).want(t, http.StatusNotFound, nil)
		e.do(http.MethodDelete, "/tokens/nope", "", "Authorization", "Bearer "+e.alice).want(t, http.StatusNotFound, nil)
		e.do(http.MethodDelete, "/tokens/"+read.ID, "", "Authorization", "Bearer "+e.alice).want(t, http.StatusNoContent, nil)
		e.get(read.Token, "/boards").want(t, http.StatusUnauthorized, nil)
		e.do(http.MethodGet, "/boards", "", "Cookie", "session="+cookie).want(t, http.StatusUnauthorized, nil)
		e.get(child.Token, "/boards").want(t, http.StatusOK, nil)
	})
}

// TestReadTokenTyping checks that a read credential's WebSocket typing is
// refused like a write, and that the connection stays open.
func TestReadTokenTyping(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		read := e.createToken(e.alice, `{"name":"r","scope":"read"}`, http.StatusCreated)
		ws := e.dialWS("?ticket=" + e.ticket(read.Token))
		ws.join("board-1", -1)
		ws.send(map[string]any{"type": "typing", "boardId": "board-1", "taskId": "task-1"})
		if m := ws.expect("error"); !strings.Contains(string(m.raw), `"Forbidden"`) {
			t.Fatalf("typing with a read ticket: got %s, want Forbidden", m.raw)
		}
		ws.send(map[string]any{"type": "ping"})
		ws.expect("pong")
	})
}

// TestTokenStreamsEnd checks that revoking a token through DELETE /tokens
// ends the streams it and its sessions opened, and that an expired token's
// streams end within the credential-check interval.
func TestTokenStreamsEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		tok := e.createToken(e.alice, `{"name":"s"}`, http.StatusCreated)
		byToken := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+tok.Token)
		byToken.preamble()
		cookie, _ := e.sessionMaxAge(tok.Token)
		bySession := e.openSSE("/boards/board-1/events", "Cookie", "session="+cookie)
		bySession.preamble()
		e.do(http.MethodDelete, "/tokens/"+tok.ID, "", "Authorization", "Bearer "+e.alice).want(t, http.StatusNoContent, nil)
		byToken.wantEndAfterEphemeral()
		bySession.wantEndAfterEphemeral()

		// An expiring token's stream ends when it expires.
		exp := time.Now().Add(time.Hour)
		short, secret, err := e.creds.IssueToken(context.Background(), demo.Alice, auth.TokenSpec{ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		s := e.openSSE("/boards/board-1/events", "Authorization", "Bearer "+secret)
		s.preamble()
		if _, err := seam.DB(e.store).NewRaw("UPDATE tokens SET expires_at = ? WHERE id = ?", time.Now().UTC().Add(-time.Second), short.ID).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.wantEndAfterEphemeral()
		rtWaitFor(t, "the expired token refused", func() bool {
			return e.get(secret, "/boards").Status == http.StatusUnauthorized
		})
	})
}

// TestRevokedTokenSessions reproduces a token revoked by another process
// (the command line) while the server's cache still vouches for it: no
// session is made from it any more, and the sessions and streams made
// before end within the credential-check interval.
func TestRevokedTokenSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		opts := rtOptions()
		opts.Authenticator = nil
		e := newRTEnv(t, dsn, opts, nil)
		tok := e.createToken(e.alice, `{"name":"leaked"}`, http.StatusCreated)
		cookie, _ := e.sessionMaxAge(tok.Token) // the server now caches the token
		s := e.openSSE("/boards/board-1/events", "Cookie", "session="+cookie)
		s.preamble()
		ws := e.dialWS("", "Cookie", "session="+cookie)
		ws.join("board-1", -1)

		// Another process revokes the token.
		if _, err := auth.New(e.store, nil).RevokeToken(context.Background(), tok.Prefix); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			r := e.do(http.MethodPost, "/sessions", `{"token":"`+tok.Token+`"}`, "Content-Type", "application/json")
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("POST /sessions #%d after the revocation: %d %s, want 401", i, r.Status, r.Body)
			}
		}
		s.wantEndAfterEphemeral()
		ws.wantClose(4001)
		rtWaitFor(t, "the revoked token's session refused", func() bool {
			return e.do(http.MethodGet, "/boards", "", "Cookie", "session="+cookie).Status == http.StatusUnauthorized
		})
	})
}

// TestTokenLastUsed checks that GET /tokens shows when a token was last
// used.
func TestTokenLastUsed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		tok := e.createToken(e.alice, `{"name":"u"}`, http.StatusCreated)
		if tok.LastUsedAt != nil {
			t.Fatalf("a new token: last_used_at %v, want null", tok.LastUsedAt)
		}
		e.get(tok.Token, "/boards").want(t, http.StatusOK, nil)
		var list struct {
			Data []tokenBody `json:"data"`
		}
		e.get(e.alice, "/tokens").want(t, http.StatusOK, &list)
		for _, got := range list.Data {
			if got.ID == tok.ID && got.LastUsedAt == nil {
				t.Errorf("GET /tokens after a use: last_used_at null, want set")
			}
		}
	})
}

// TestTicketsNotKept checks that a ticket is neither kept in the
// idempotency store nor handed out twice for a repeated key.
func TestTicketsNotKept(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		var first, second struct {
			Ticket string `json:"ticket"`
		}
		hdr := []string{"Authorization", "Bearer " + e.alice, "Idempotency-Key", "same-key"}
		r1 := e.do(http.MethodPost, "/realtime/tickets", "", hdr...).want(t, http.StatusCreated, &first)
		r2 := e.do(http.MethodPost, "/realtime/tickets", "", hdr...).want(t, http.StatusCreated, &second)
		if first.Ticket == second.Ticket || r2.Header.Get("Idempotent-Replayed") != "" || r1.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("a repeated ticket request: got %q then %q (replayed %q), want two tickets", first.Ticket, second.Ticket, r2.Header.Get("Idempotent-Replayed"))
		}
		var n int
		if err := seam.DB(e.store).NewRaw("SELECT count(*) FROM idempotency_keys WHERE body LIKE ?", "%tk_%").Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("the idempotency store keeps %d ticket(s) in plain text", n)
		}
	})
}

// TestReadTokenWritesNothing sends every write route with a read token:
// each is 403 and changes nothing.
func TestReadTokenWritesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		read := e.createToken(e.alice, `{"name":"r","scope":"read"}`, http.StatusCreated)
		before := e.seq("board-1")
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/tasks", `{"title":"x","listId":"list-todo"}`},
			{"PATCH", "/tasks/task-1", `{"title":"x"}`},
			{"PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":0}`},
			{"DELETE", "/tasks/task-1", ""},
			{"POST", "/boards", `{"name":"x"}`},
			{"PATCH", "/boards/board-1", `{"name":"x"}`},
			{"DELETE", "/boards/board-1", ""},
			{"POST", "/boards/board-1/members", `{"email":"carol@example.com"}`},
			{"DELETE", "/boards/board-1/members/user-bob", ""},
			{"POST", "/boards/board-1/lists", `{"name":"x"}`},
			{"PATCH", "/lists/list-todo", `{"name":"x"}`},
			{"PATCH", "/lists/list-todo/move", `{"position":2}`},
			{"DELETE", "/lists/list-todo", ""},
		} {
			if r := e.do(tc.method, tc.path, tc.body, "Authorization", "Bearer "+read.Token); r.Status != http.StatusForbidden {
				t.Errorf("%s %s with a read token: got %d %s, want 403", tc.method, tc.path, r.Status, r.Body)
			}
		}
		if got := e.seq("board-1"); got != before {
			t.Errorf("board-1's seq went from %d to %d under a read token", before, got)
		}
	})
}
