package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

func ptrTime(t time.Time) *time.Time { return &t }

// TestTokenScopes checks that a read token, and the sessions, tickets and
// tokens made with it, may only read, and that nothing made with a
// credential outlives it.
func TestTokenScopes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx, s := f.ctx, f.s
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		tok, secret, err := s.IssueToken(ctx, alice, auth.TokenSpec{Name: "ci", Scope: auth.ScopeRead, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Scope != auth.ScopeRead || tok.Name != "ci" || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(exp) {
			t.Fatalf("IssueToken: got %+v, want a read token named ci expiring at %v", tok, exp)
		}
		p, err := s.AuthenticateToken(ctx, secret)
		if err != nil || !p.ReadOnly || p.ExpiresAt == nil || !p.ExpiresAt.Equal(exp) {
			t.Fatalf("AuthenticateToken: got %+v, %v; want a read-only principal expiring at %v", p, err, exp)
		}

		sess, cookie, err := s.CreateSession(ctx, alice, tok.ID)
		if err != nil || !sess.ReadOnly || sess.ExpiresAt.After(exp) {
			t.Fatalf("CreateSession: got %+v, %v; want a read-only session ending by %v", sess, err, exp)
		}
		sp, err := s.AuthenticateSession(ctx, cookie)
		if err != nil || !sp.ReadOnly {
			t.Fatalf("AuthenticateSession: got %+v, %v; want read-only", sp, err)
		}
		ticket, tExp, err := s.CreateTicket(ctx, *sp)
		if err != nil || tExp.After(exp) {
			t.Fatalf("CreateTicket: got %v, %v", tExp, err)
		}
		if tp, err := s.RedeemTicket(ctx, ticket); err != nil || !tp.ReadOnly {
			t.Fatalf("RedeemTicket: got %+v, %v; want read-only", tp, err)
		}

		// Tokens made with the read credential.
		if _, _, err := s.IssueToken(ctx, alice, auth.TokenSpec{Scope: auth.ScopeWrite, By: p}); !errors.Is(err, taskboard.ErrForbidden) {
			t.Errorf("a write token made with a read token: got %v, want ErrForbidden", err)
		}
		later := exp.Add(time.Minute)
		if _, _, err := s.IssueToken(ctx, alice, auth.TokenSpec{ExpiresAt: &later, By: sp}); !errors.Is(err, taskboard.ErrForbidden) {
			t.Errorf("a token outliving the session's token: got %v, want ErrForbidden", err)
		}
		if _, _, err := s.IssueToken(ctx, bob, auth.TokenSpec{By: p}); !errors.Is(err, taskboard.ErrForbidden) {
			t.Errorf("a token for another user: got %v, want ErrForbidden", err)
		}
		child, _, err := s.IssueToken(ctx, alice, auth.TokenSpec{By: sp})
		if err != nil || child.Scope != auth.ScopeRead || child.ExpiresAt == nil || !child.ExpiresAt.Equal(exp) {
			t.Fatalf("a token made with the read session: got %+v, %v; want read, expiring at %v", child, err, exp)
		}
		if _, _, err := s.IssueToken(ctx, alice, auth.TokenSpec{Scope: "admin"}); !errors.Is(err, taskboard.ErrInvalid) {
			t.Errorf("scope admin: got %v, want ErrInvalid", err)
		}

		// A write token by default; a demo session writes.
		w, _, err := s.CreateToken(ctx, alice)
		if err != nil || w.Scope != auth.ScopeWrite || w.ExpiresAt != nil {
			t.Fatalf("CreateToken: got %+v, %v; want a write token without expiry", w, err)
		}
		_, demoCookie, err := s.CreateSession(ctx, alice, "")
		if err != nil {
			t.Fatal(err)
		}
		if dp, err := s.AuthenticateSession(ctx, demoCookie); err != nil || dp.ReadOnly || dp.ExpiresAt != nil {
			t.Fatalf("a session without a token: got %+v, %v; want a write credential without fixed end", dp, err)
		}

		list, err := s.Tokens(ctx, alice)
		if err != nil || len(list) != 3 {
			t.Fatalf("Tokens: got %d tokens, %v; want 3", len(list), err)
		}
		if _, err := s.RevokeUserToken(ctx, bob, tok.ID, false); !errors.Is(err, taskboard.ErrNotFound) {
			t.Errorf("revoking another user's token: got %v, want ErrNotFound", err)
		}
		if _, err := s.RevokeUserToken(ctx, alice, w.ID, true); !errors.Is(err, taskboard.ErrForbidden) {
			t.Errorf("a read credential revoking a write token: got %v, want ErrForbidden", err)
		}
		rev, err := s.RevokeUserToken(ctx, alice, tok.ID, true)
		if err != nil || len(rev.Sessions) != 1 || rev.Sessions[0] != sess.ID {
			t.Fatalf("RevokeUserToken: got %+v, %v; want the session %s ended", rev, err, sess.ID)
		}
	})
}

// TestTokenExpiry checks that an expired token, and the sessions made from
// it, authenticate nothing.
func TestTokenExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx := f.ctx
		s := auth.New(f.b, &auth.Options{CacheTTL: -1})
		tok, secret, err := s.IssueToken(ctx, alice, auth.TokenSpec{ExpiresAt: ptrTime(time.Now().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		sess, cookie, err := s.CreateSession(ctx, alice, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The token's hour passes.
		if _, err := seam.DB(f.b).NewRaw("UPDATE tokens SET expires_at = ? WHERE id = ?", time.Now().UTC().Add(-time.Second), tok.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateToken(ctx, secret); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("AuthenticateToken of an expired token: got %v, want ErrUnauthorized", err)
		}
		if _, err := s.AuthenticateSession(ctx, cookie); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("AuthenticateSession of an expired token's session: got %v, want ErrUnauthorized", err)
		}
		for _, id := range []string{tok.ID, sess.ID} {
			if ok, err := s.CredentialValid(ctx, id); err != nil || ok {
				t.Errorf("CredentialValid(%s) after expiry: got %v, %v; want false", id, ok, err)
			}
		}
		if _, _, err := s.CreateSession(ctx, alice, tok.ID); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("CreateSession with an expired token: got %v, want ErrUnauthorized", err)
		}
	})
}

// TestRevokedElsewhere reproduces a revoked token exchanged for sessions
// by a server whose cache still vouched for it: the exchange checks the
// token in the database, and the sessions made before die with it.
func TestRevokedElsewhere(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx := f.ctx
		server := auth.New(f.b, &auth.Options{CacheTTL: time.Hour})
		cli := auth.New(f.b, nil)
		tok, secret, err := cli.CreateToken(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		p, err := server.AuthenticateToken(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		before, cookie, err := server.CreateSession(ctx, alice, p.CredentialID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.AuthenticateSession(ctx, cookie); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		// The server's cache still vouches for the token...
		if _, err := server.AuthenticateToken(ctx, secret); err != nil {
			t.Fatalf("the cached check: %v", err)
		}
		// ...but no session, ticket or token is made from it.
		if _, _, err := server.CreateSession(ctx, alice, p.CredentialID); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("CreateSession with a token revoked elsewhere: got %v, want ErrUnauthorized", err)
		}
		if _, _, err := server.CreateTicket(ctx, *p); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("CreateTicket with a token revoked elsewhere: got %v, want ErrUnauthorized", err)
		}
		if _, _, err := server.IssueToken(ctx, alice, auth.TokenSpec{By: p}); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("IssueToken with a token revoked elsewhere: got %v, want ErrUnauthorized", err)
		}
		if ok, err := server.CredentialValid(ctx, before.ID); err != nil || ok {
			t.Errorf("CredentialValid of a session of the revoked token: got %v, %v; want false", ok, err)
		}
	})
}

// TestLastUsed checks that a token's use is noted, at most once a minute.
func TestLastUsed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx := f.ctx
		s := auth.New(f.b, &auth.Options{CacheTTL: -1})
		tok, secret, err := s.CreateToken(ctx, alice)
		if err != nil || tok.LastUsedAt != nil {
			t.Fatalf("CreateToken: got %+v, %v; want a token never used", tok, err)
		}
		lastUsed := func() *time.Time {
			list, err := s.Tokens(ctx, alice)
			if err != nil || len(list) != 1 {
				t.Fatalf("Tokens: got %v, %v", list, err)
			}
			return list[0].LastUsedAt
		}
		if _, err := s.AuthenticateToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		first := lastUsed()
		if first == nil {
			t.Fatal("last_used_at not set by a use")
		}
		if _, err := s.AuthenticateToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if second := lastUsed(); second == nil || !second.Equal(*first) {
			t.Errorf("a second use within the minute: last_used_at %v, want it kept at %v", second, first)
		}
		// A minute later, the next use is noted.
		if _, err := seam.DB(f.b).NewRaw("UPDATE tokens SET last_used_at = ? WHERE id = ?", first.Add(-2*time.Minute), tok.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if third := lastUsed(); third == nil || !third.After(first.Add(-time.Minute)) {
			t.Errorf("a use after a minute: last_used_at %v, want it moved on", third)
		}
	})
}
