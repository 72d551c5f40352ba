package taskboard_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

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

func TestTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx := f.ctx
		tok, secret, err := f.b.CreateToken(ctx, alice)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		if !strings.HasPrefix(secret, "tb_") || !strings.HasPrefix(secret, tok.Prefix) || len(tok.Prefix) < 4 || tok.UserID != alice {
			t.Fatalf("CreateToken: got token %+v with secret %q, want a tb_ secret that starts with the prefix", tok, secret)
		}
		if strings.Contains(tok.Hash, secret) || tok.Hash == "" {
			t.Fatalf("CreateToken: the stored hash %q holds the secret", tok.Hash)
		}

		p, err := f.b.AuthenticateToken(ctx, secret)
		if err != nil {
			t.Fatalf("AuthenticateToken: %v", err)
		}
		if p.User.ID != alice || p.User.Name != "Alice" || p.CredentialID != tok.ID {
			t.Fatalf("AuthenticateToken: got %+v, want Alice with credential %s", p, tok.ID)
		}
		for _, bad := range []string{"", "tb_", secret + "x", secret[:len(secret)-1], strings.TrimPrefix(secret, "tb_"), "Bearer " + secret} {
			if _, err := f.b.AuthenticateToken(ctx, bad); !errors.Is(err, taskboard.ErrUnauthorized) {
				t.Errorf("AuthenticateToken(%q): got %v, want ErrUnauthorized", bad, err)
			}
		}
		if ok, err := f.b.CredentialValid(ctx, tok.ID); err != nil || !ok {
			t.Fatalf("CredentialValid(token): got %v, %v; want true", ok, err)
		}

		// Revoking by id.
		revoked, err := f.b.RevokeToken(ctx, tok.ID)
		if err != nil || revoked.ID != tok.ID || revoked.RevokedAt == nil {
			t.Fatalf("RevokeToken(id): got %+v, %v; want the token, revoked", revoked, err)
		}
		if _, err := f.b.AuthenticateToken(ctx, secret); !errors.Is(err, taskboard.ErrUnauthorized) {
			t.Errorf("AuthenticateToken after RevokeToken: got %v, want ErrUnauthorized", err)
		}
		if ok, err := f.b.CredentialValid(ctx, tok.ID); err != nil || ok {
			t.Errorf("CredentialValid after RevokeToken: got %v, %v; want false", ok, err)
		}
		_, err = f.b.RevokeToken(ctx, tok.ID)
		wantErr(t, "RevokeToken of a revoked token", err, taskboard.ErrNotFound, "Token")

		// Revoking by prefix, or by the whole secret, leaves other tokens alone.
		for _, by := range []string{"prefix", "secret"} {
			tok2, secret2, err := f.b.CreateToken(ctx, bob)
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			_, keep, err := f.b.CreateToken(ctx, bob)
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			arg := tok2.Prefix
			if by == "secret" {
				arg = secret2
			}
			if revoked, err := f.b.RevokeToken(ctx, arg); err != nil || revoked.ID != tok2.ID {
				t.Fatalf("RevokeToken(%s): got %+v, %v; want token %s", by, revoked, err, tok2.ID)
			}
			if _, err := f.b.AuthenticateToken(ctx, secret2); !errors.Is(err, taskboard.ErrUnauthorized) {
				t.Errorf("AuthenticateToken after RevokeToken(%s): got %v, want ErrUnauthorized", by, err)
			}
			if p, err := f.b.AuthenticateToken(ctx, keep); err != nil || p.User.ID != bob {
				t.Errorf("AuthenticateToken of another token: got %v, %v; want Bob", p, err)
			}
		}
		for _, arg := range []string{"", "tb_", "no-such-token"} {
			_, err := f.b.RevokeToken(ctx, arg)
			wantErr(t, "RevokeToken("+arg+")", err, taskboard.ErrNotFound, "Token")
		}
	})
}

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx := f.ctx
		tok, _, err := f.b.CreateToken(ctx, alice)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		fromToken, cookie, err := f.b.CreateSession(ctx, alice, tok.ID)
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if cookie == "" || fromToken.ID == cookie || fromToken.TokenID == nil || *fromToken.TokenID != tok.ID {
			t.Fatalf("CreateSession: got %+v with cookie %q, want a hashed id tied to the token", fromToken, cookie)
		}
		if !fromToken.ExpiresAt.After(time.Now().Add(taskboard.SessionIdleTTL - time.Hour)) {
			t.Errorf("CreateSession: expires at %v, want about %v from now", fromToken.ExpiresAt, taskboard.SessionIdleTTL)
		}
		p, err := f.b.AuthenticateSession(ctx, cookie)
		if err != nil || p.User.ID != alice || p.CredentialID != fromToken.ID {
			t.Fatalf("AuthenticateSession: got %+v, %v; want Alice with credential %s", p, err, fromToken.ID)
		}
		if ok, err := f.b.CredentialValid(ctx, fromToken.ID); err != nil || !ok {
			t.Fatalf("CredentialValid(session): got %v, %v; want true", ok, err)
		}
		for _, bad := range []string{"", "x", cookie + "x", fromToken.ID} {
			if _, err := f.b.AuthenticateSession(ctx, bad); !errors.Is(err, taskboard.ErrUnauthorized) {
				t.Errorf("AuthenticateSession(%q): got %v, want ErrUnauthorized", bad, err)
			}
		}

		// Ending a session signs it out.
		plain, cookie2, err := f.b.CreateSession(ctx, bob, "")
		if err != nil {
			t.Fatalf("CreateSession without token: %v", err)
		}
		if p, err := f.b.AuthenticateSession(ctx, cookie2); err != nil || p.User.ID != bob {
			t.Fatalf("AuthenticateSession: got %v, %v; want Bob", p, err)
		}
		id, err := f.b.EndSession(ctx, cookie2)
		if err != nil || id != plain.ID {
			t.Fatalf("EndSession: got %q, %v; want %q", id, err, plain.ID)
		}
		if _, err := f.b.AuthenticateSession(ctx, cookie2); !errors.Is(err, taskboard.ErrUnauthorized) {
			t.Errorf("AuthenticateSession after EndSession: got %v, want ErrUnauthorized", err)
		}
		if ok, err := f.b.CredentialValid(ctx, plain.ID); err != nil || ok {
			t.Errorf("CredentialValid after EndSession: got %v, %v; want false", ok, err)
		}
		if _, err := f.b.EndSession(ctx, "unknown"); err != nil {
			t.Errorf("EndSession(unknown): got %v, want nil", err)
		}

		// Revoking the token ends the sessions made from it.
		if _, err := f.b.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if _, err := f.b.AuthenticateSession(ctx, cookie); !errors.Is(err, taskboard.ErrUnauthorized) {
			t.Errorf("AuthenticateSession after its token was revoked: got %v, want ErrUnauthorized", err)
		}
		if ok, err := f.b.CredentialValid(ctx, fromToken.ID); err != nil || ok {
			t.Errorf("CredentialValid of a session whose token was revoked: got %v, %v; want false", ok, err)
		}
		if ok, err := f.b.CredentialValid(ctx, "no-such-credential"); err != nil || ok {
			t.Errorf("CredentialValid(unknown): got %v, %v; want false", ok, err)
		}
	})
}

func TestTickets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx := f.ctx
		tok, secret, err := f.b.CreateToken(ctx, bob)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		p, err := f.b.AuthenticateToken(ctx, secret)
		if err != nil {
			t.Fatalf("AuthenticateToken: %v", err)
		}
		before := time.Now()
		ticket, expires, err := f.b.CreateTicket(ctx, p)
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		if ticket == "" || ticket == secret || expires.Before(before.Add(taskboard.TicketTTL-time.Second)) || expires.After(time.Now().Add(taskboard.TicketTTL)) {
			t.Fatalf("CreateTicket: got %q expiring at %v, want a new ticket valid for %v", ticket, expires, taskboard.TicketTTL)
		}
		got, err := f.b.RedeemTicket(ctx, ticket)
		if err != nil || got.User.ID != bob || got.CredentialID != tok.ID {
			t.Fatalf("RedeemTicket: got %+v, %v; want Bob under token %s", got, err, tok.ID)
		}
		if _, err := f.b.RedeemTicket(ctx, ticket); !errors.Is(err, taskboard.ErrUnauthorized) {
			t.Errorf("second RedeemTicket: got %v, want ErrUnauthorized", err)
		}
		for _, bad := range []string{"", "tk_unknown", secret} {
			if _, err := f.b.RedeemTicket(ctx, bad); !errors.Is(err, taskboard.ErrUnauthorized) {
				t.Errorf("RedeemTicket(%q): got %v, want ErrUnauthorized", bad, err)
			}
		}

		// A ticket dies with the credential it was issued under.
		ticket, _, err = f.b.CreateTicket(ctx, p)
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		if _, err := f.b.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if _, err := f.b.RedeemTicket(ctx, ticket); !errors.Is(err, taskboard.ErrUnauthorized) {
			t.Errorf("RedeemTicket after its token was revoked: got %v, want ErrUnauthorized", err)
		}

		// Tickets issued under a session work the same way.
		_, cookie, err := f.b.CreateSession(ctx, alice, "")
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		sp, err := f.b.AuthenticateSession(ctx, cookie)
		if err != nil {
			t.Fatalf("AuthenticateSession: %v", err)
		}
		ticket, _, err = f.b.CreateTicket(ctx, sp)
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		if got, err := f.b.RedeemTicket(ctx, ticket); err != nil || got.User.ID != alice || got.CredentialID != sp.CredentialID {
			t.Errorf("RedeemTicket of a session's ticket: got %+v, %v; want Alice under the session", got, err)
		}
	})
}

func TestIdempotency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx := f.ctx
		k := taskboard.IdempotencyKey{UserID: alice, Method: "POST", Path: "/tasks", Key: "k-1", RequestHash: "h-1"}

		if stored, err := f.b.BeginIdempotent(ctx, k); err != nil || stored != nil {
			t.Fatalf("BeginIdempotent(new key): got %v, %v; want nil, nil", stored, err)
		}
		if _, err := f.b.BeginIdempotent(ctx, k); !errors.Is(err, taskboard.ErrIdempotencyInFlight) {
			t.Fatalf("BeginIdempotent while in flight: got %v, want ErrIdempotencyInFlight", err)
		}
		resp := taskboard.StoredResponse{Status: 201, ETag: `"1"`, Body: []byte(`{"id":"t"}`)}
		if err := f.b.FinishIdempotent(ctx, k, resp); err != nil {
			t.Fatalf("FinishIdempotent: %v", err)
		}
		stored, err := f.b.BeginIdempotent(ctx, k)
		if err != nil || stored == nil || stored.Status != 201 || string(stored.Body) != `{"id":"t"}` || stored.ETag != `"1"` {
			t.Fatalf("BeginIdempotent after Finish: got %+v, %v; want the stored 201 response", stored, err)
		}
		other := k
		other.RequestHash = "h-2"
		if _, err := f.b.BeginIdempotent(ctx, other); !errors.Is(err, taskboard.ErrIdempotencyMismatch) {
			t.Fatalf("BeginIdempotent with another body: got %v, want ErrIdempotencyMismatch", err)
		}
		// Abandoning a finished key keeps its response.
		if err := f.b.AbandonIdempotent(ctx, k); err != nil {
			t.Fatalf("AbandonIdempotent: %v", err)
		}
		if stored, err := f.b.BeginIdempotent(ctx, k); err != nil || stored == nil || stored.Status != 201 {
			t.Fatalf("BeginIdempotent after abandoning a finished key: got %+v, %v; want the stored response", stored, err)
		}

		// Keys are scoped to the user, method and path.
		scoped := []func(k *taskboard.IdempotencyKey){
			func(k *taskboard.IdempotencyKey) { k.UserID = bob },
			func(k *taskboard.IdempotencyKey) { k.Method = "PATCH" },
			func(k *taskboard.IdempotencyKey) { k.Path = "/tasks/t/move" },
		}
		for i, change := range scoped {
			k2 := k
			change(&k2)
			if stored, err := f.b.BeginIdempotent(ctx, k2); err != nil || stored != nil {
				t.Errorf("BeginIdempotent with scope change %d: got %v, %v; want nil, nil", i, stored, err)
			}
		}

		// Abandoning an unfinished key releases it.
		k3 := k
		k3.Key = "k-3"
		if stored, err := f.b.BeginIdempotent(ctx, k3); err != nil || stored != nil {
			t.Fatalf("BeginIdempotent(k-3): got %v, %v; want nil, nil", stored, err)
		}
		if err := f.b.AbandonIdempotent(ctx, k3); err != nil {
			t.Fatalf("AbandonIdempotent: %v", err)
		}
		k3.RequestHash = "h-other"
		if stored, err := f.b.BeginIdempotent(ctx, k3); err != nil || stored != nil {
			t.Fatalf("BeginIdempotent after AbandonIdempotent: got %v, %v; want nil, nil", stored, err)
		}
		// 4xx answers are kept like 2xx ones.
		if err := f.b.FinishIdempotent(ctx, k3, taskboard.StoredResponse{Status: 400, Body: []byte(`{"error":"x"}`)}); err != nil {
			t.Fatalf("FinishIdempotent: %v", err)
		}
		if stored, err := f.b.BeginIdempotent(ctx, k3); err != nil || stored == nil || stored.Status != 400 || string(stored.Body) != `{"error":"x"}` {
			t.Fatalf("BeginIdempotent after a 400: got %+v, %v; want the stored 400", stored, err)
		}
	})
}
