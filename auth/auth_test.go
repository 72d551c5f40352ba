package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
)

// The demo users.
const (
	alice = demo.Alice
	bob   = demo.Bob
)

// fixture is a store holding the demo data, and a Store of credentials
// over it.
type fixture struct {
	b   *taskboard.Board
	s   *auth.Store
	ctx context.Context
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	b, err := taskboard.Open(ctx, dsn, &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if ok, err := demo.Seed(ctx, b); err != nil || !ok {
		t.Fatalf("demo.Seed: got %v, %v; want true, nil", ok, err)
	}
	return &fixture{b: b, s: auth.New(b, nil), ctx: ctx}
}

// wantErr checks that err matches want and, for taskboard.ErrNotFound,
// names entity.
func wantErr(t *testing.T, call string, err, want error, entity string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", call, err, want)
	}
	if want == taskboard.ErrNotFound {
		var nf *taskboard.NotFoundError
		if !errors.As(err, &nf) || nf.Entity != entity {
			t.Fatalf("%s: got %v, want a NotFoundError for %s", call, err, entity)
		}
	}
}

func TestTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx := f.ctx
		tok, secret, err := f.s.CreateToken(ctx, alice)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		if !strings.HasPrefix(secret, "tb_") || !strings.HasPrefix(secret, tok.Prefix) || len(tok.Prefix) < 4 || tok.UserID != alice {
			t.Fatalf("CreateToken: got token %+v with secret %q, want a tb_ secret that starts with the prefix", tok, secret)
		}
		var stored []string
		if err := seam.DB(f.b).NewSelect().Table("tokens").Column("hash").Where("id = ?", tok.ID).Scan(ctx, &stored); err != nil {
			t.Fatalf("read the token's hash: %v", err)
		}
		if len(stored) != 1 || stored[0] == "" || strings.Contains(stored[0], secret) {
			t.Fatalf("CreateToken: got stored hash %q, want one that does not hold the secret", stored)
		}

		p, err := f.s.AuthenticateToken(ctx, secret)
		if err != nil {
			t.Fatalf("AuthenticateToken: %v", err)
		}
		if p.User.ID != alice || p.User.Name != "Alice" || p.CredentialID != tok.ID {
			t.Fatalf("AuthenticateToken: got %+v, want Alice with credential %s", p, tok.ID)
		}
		for _, bad := range []string{"", "tb_", secret + "x", secret[:len(secret)-1], strings.TrimPrefix(secret, "tb_"), "Bearer " + secret} {
			if _, err := f.s.AuthenticateToken(ctx, bad); !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("AuthenticateToken(%q): got %v, want ErrUnauthorized", bad, err)
			}
		}
		if ok, err := f.s.CredentialValid(ctx, tok.ID); err != nil || !ok {
			t.Fatalf("CredentialValid(token): got %v, %v; want true", ok, err)
		}

		// Revoking by id.
		revoked, err := f.s.RevokeToken(ctx, tok.ID)
		if err != nil || revoked.ID != tok.ID || revoked.RevokedAt == nil {
			t.Fatalf("RevokeToken(id): got %+v, %v; want the token, revoked", revoked, err)
		}
		if _, err := f.s.AuthenticateToken(ctx, secret); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("AuthenticateToken after RevokeToken: got %v, want ErrUnauthorized", err)
		}
		if ok, err := f.s.CredentialValid(ctx, tok.ID); err != nil || ok {
			t.Errorf("CredentialValid after RevokeToken: got %v, %v; want false", ok, err)
		}
		_, err = f.s.RevokeToken(ctx, tok.ID)
		wantErr(t, "RevokeToken of a revoked token", err, taskboard.ErrNotFound, "Token")

		// Revoking by prefix, or by the whole secret, leaves other tokens alone.
		for _, by := range []string{"prefix", "secret"} {
			tok2, secret2, err := f.s.CreateToken(ctx, bob)
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			_, keep, err := f.s.CreateToken(ctx, bob)
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			arg := tok2.Prefix
			if by == "secret" {
				arg = secret2
			}
			if revoked, err := f.s.RevokeToken(ctx, arg); err != nil || revoked.ID != tok2.ID {
				t.Fatalf("RevokeToken(%s): got %+v, %v; want token %s", by, revoked, err, tok2.ID)
			}
			if _, err := f.s.AuthenticateToken(ctx, secret2); !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("AuthenticateToken after RevokeToken(%s): got %v, want ErrUnauthorized", by, err)
			}
			if p, err := f.s.AuthenticateToken(ctx, keep); err != nil || p.User.ID != bob {
				t.Errorf("AuthenticateToken of another token: got %v, %v; want Bob", p, err)
			}
		}
		for _, arg := range []string{"", "tb_", "no-such-token"} {
			_, err := f.s.RevokeToken(ctx, arg)
			wantErr(t, "RevokeToken("+arg+")", err, taskboard.ErrNotFound, "Token")
		}
	})
}

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx := f.ctx
		tok, _, err := f.s.CreateToken(ctx, alice)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		fromToken, cookie, err := f.s.CreateSession(ctx, alice, tok.ID)
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if cookie == "" || fromToken.ID == cookie || fromToken.TokenID != tok.ID {
			t.Fatalf("CreateSession: got %+v with cookie %q, want a hashed id tied to the token", fromToken, cookie)
		}
		if !fromToken.ExpiresAt.After(time.Now().Add(auth.SessionIdleTTL - time.Hour)) {
			t.Errorf("CreateSession: expires at %v, want about %v from now", fromToken.ExpiresAt, auth.SessionIdleTTL)
		}
		p, err := f.s.AuthenticateSession(ctx, cookie)
		if err != nil || p.User.ID != alice || p.CredentialID != fromToken.ID {
			t.Fatalf("AuthenticateSession: got %+v, %v; want Alice with credential %s", p, err, fromToken.ID)
		}
		if ok, err := f.s.CredentialValid(ctx, fromToken.ID); err != nil || !ok {
			t.Fatalf("CredentialValid(session): got %v, %v; want true", ok, err)
		}
		for _, bad := range []string{"", "x", cookie + "x", fromToken.ID} {
			if _, err := f.s.AuthenticateSession(ctx, bad); !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("AuthenticateSession(%q): got %v, want ErrUnauthorized", bad, err)
			}
		}

		// Ending a session signs it out.
		plain, cookie2, err := f.s.CreateSession(ctx, bob, "")
		if err != nil {
			t.Fatalf("CreateSession without token: %v", err)
		}
		if p, err := f.s.AuthenticateSession(ctx, cookie2); err != nil || p.User.ID != bob {
			t.Fatalf("AuthenticateSession: got %v, %v; want Bob", p, err)
		}
		id, err := f.s.EndSession(ctx, cookie2)
		if err != nil || id != plain.ID {
			t.Fatalf("EndSession: got %q, %v; want %q", id, err, plain.ID)
		}
		if _, err := f.s.AuthenticateSession(ctx, cookie2); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("AuthenticateSession after EndSession: got %v, want ErrUnauthorized", err)
		}
		if ok, err := f.s.CredentialValid(ctx, plain.ID); err != nil || ok {
			t.Errorf("CredentialValid after EndSession: got %v, %v; want false", ok, err)
		}
		if _, err := f.s.EndSession(ctx, "unknown"); err != nil {
			t.Errorf("EndSession(unknown): got %v, want nil", err)
		}

		// Revoking the token ends the sessions made from it.
		if _, err := f.s.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if _, err := f.s.AuthenticateSession(ctx, cookie); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("AuthenticateSession after its token was revoked: got %v, want ErrUnauthorized", err)
		}
		if ok, err := f.s.CredentialValid(ctx, fromToken.ID); err != nil || ok {
			t.Errorf("CredentialValid of a session whose token was revoked: got %v, %v; want false", ok, err)
		}
		if ok, err := f.s.CredentialValid(ctx, "no-such-credential"); err != nil || ok {
			t.Errorf("CredentialValid(unknown): got %v, %v; want false", ok, err)
		}
	})
}

func TestTickets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx := f.ctx
		tok, secret, err := f.s.CreateToken(ctx, bob)
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		p, err := f.s.AuthenticateToken(ctx, secret)
		if err != nil {
			t.Fatalf("AuthenticateToken: %v", err)
		}
		before := time.Now()
		ticket, expires, err := f.s.CreateTicket(ctx, *p)
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		if ticket == "" || ticket == secret || expires.Before(before.Add(auth.TicketTTL-time.Second)) || expires.After(time.Now().Add(auth.TicketTTL)) {
			t.Fatalf("CreateTicket: got %q expiring at %v, want a new ticket valid for %v", ticket, expires, auth.TicketTTL)
		}
		got, err := f.s.RedeemTicket(ctx, ticket)
		if err != nil || got.User.ID != bob || got.CredentialID != tok.ID {
			t.Fatalf("RedeemTicket: got %+v, %v; want Bob under token %s", got, err, tok.ID)
		}
		if _, err := f.s.RedeemTicket(ctx, ticket); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("second RedeemTicket: got %v, want ErrUnauthorized", err)
		}
		for _, bad := range []string{"", "tk_unknown", secret} {
			if _, err := f.s.RedeemTicket(ctx, bad); !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("RedeemTicket(%q): got %v, want ErrUnauthorized", bad, err)
			}
		}

		// A ticket dies with the credential it was issued under.
		ticket, _, err = f.s.CreateTicket(ctx, *p)
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		if _, err := f.s.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if _, err := f.s.RedeemTicket(ctx, ticket); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("RedeemTicket after its token was revoked: got %v, want ErrUnauthorized", err)
		}

		// Tickets issued under a session work the same way.
		_, cookie, err := f.s.CreateSession(ctx, alice, "")
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		sp, err := f.s.AuthenticateSession(ctx, cookie)
		if err != nil {
			t.Fatalf("AuthenticateSession: %v", err)
		}
		ticket, _, err = f.s.CreateTicket(ctx, *sp)
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		if got, err := f.s.RedeemTicket(ctx, ticket); err != nil || got.User.ID != alice || got.CredentialID != sp.CredentialID {
			t.Errorf("RedeemTicket of a session's ticket: got %+v, %v; want Alice under the session", got, err)
		}
	})
}

// TestNUL checks that IDs and secrets holding the NUL character, which
// neither database stores, name nothing.
func TestNUL(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx, s := f.ctx, f.s
		const nul = "task-1\x00"
		for _, tc := range []struct {
			name   string
			call   func() error
			want   error
			entity string
		}{
			{"CreateToken for an unknown user", func() error { _, _, err := s.CreateToken(ctx, "no-such-user"); return err }, taskboard.ErrNotFound, "User"},
			{"CreateToken", func() error { _, _, err := s.CreateToken(ctx, nul); return err }, taskboard.ErrNotFound, "User"},
			{"RevokeToken by ID", func() error { _, err := s.RevokeToken(ctx, nul); return err }, taskboard.ErrNotFound, "Token"},
			{"RevokeToken by prefix", func() error { _, err := s.RevokeToken(ctx, "tb_\x00\x00\x00\x00\x00\x00\x00\x00"); return err }, taskboard.ErrNotFound, "Token"},
			{"AuthenticateToken", func() error { _, err := s.AuthenticateToken(ctx, "tb_\x00"); return err }, auth.ErrUnauthorized, ""},
			{"AuthenticateSession", func() error { _, err := s.AuthenticateSession(ctx, "\x00"); return err }, auth.ErrUnauthorized, ""},
			{"RedeemTicket", func() error { _, err := s.RedeemTicket(ctx, "tk_\x00"); return err }, auth.ErrUnauthorized, ""},
			{"CreateSession user", func() error { _, _, err := s.CreateSession(ctx, nul, ""); return err }, taskboard.ErrNotFound, "User"},
			{"CreateSession token", func() error { _, _, err := s.CreateSession(ctx, alice, nul); return err }, auth.ErrUnauthorized, ""},
			{"CreateSession unknown token", func() error { _, _, err := s.CreateSession(ctx, alice, "no-such-token"); return err }, auth.ErrUnauthorized, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.name, tc.call(), tc.want, tc.entity)
			})
		}
		if ok, err := s.CredentialValid(ctx, nul); err != nil || ok {
			t.Errorf("CredentialValid(NUL): got %v, %v; want false", ok, err)
		}
		if _, err := s.EndSession(ctx, "\x00"); err != nil {
			t.Errorf("EndSession(NUL): %v", err)
		}
	})
}

// TestTicketWithoutCredential checks a ticket of a principal that no
// credential of the Store vouches for: it stands on its own, once.
func TestTicketWithoutCredential(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		u, err := f.b.User(f.ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		ticket, _, err := f.s.CreateTicket(f.ctx, auth.Principal{User: *u})
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		p, err := f.s.RedeemTicket(f.ctx, ticket)
		if err != nil || p.User.ID != alice || p.CredentialID != "" {
			t.Fatalf("RedeemTicket: got %+v, %v; want Alice without a credential", p, err)
		}
		if _, err := f.s.RedeemTicket(f.ctx, ticket); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("second RedeemTicket: got %v, want ErrUnauthorized", err)
		}
		_, _, err = f.s.CreateTicket(f.ctx, auth.Principal{User: taskboard.User{ID: "no-such-user"}})
		wantErr(t, "CreateTicket for an unknown user", err, taskboard.ErrNotFound, "User")
	})
}

// TestMaintain checks that Maintain deletes expired tickets and ended or
// expired sessions, and keeps live ones.
func TestMaintain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		ctx, db := f.ctx, seam.DB(f.b)
		live, _, err := f.s.CreateSession(ctx, alice, "")
		if err != nil {
			t.Fatal(err)
		}
		expired, _, err := f.s.CreateSession(ctx, alice, "")
		if err != nil {
			t.Fatal(err)
		}
		_, endedCookie, err := f.s.CreateSession(ctx, bob, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.EndSession(ctx, endedCookie); err != nil {
			t.Fatal(err)
		}
		u, err := f.b.User(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, _, err := f.s.CreateTicket(ctx, auth.Principal{User: *u, CredentialID: live.ID}); err != nil {
				t.Fatal(err)
			}
		}
		past := time.Now().UTC().Add(-time.Hour)
		if _, err := db.NewUpdate().Table("sessions").Set("expires_at = ?", past).Where("id = ?", expired.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NewUpdate().Table("tickets").Set("expires_at = ?", past).Where("id IN (?)",
			db.NewSelect().Table("tickets").Column("id").Limit(1)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.s.Maintain(ctx); err != nil {
			t.Fatalf("Maintain: %v", err)
		}
		var sessions []string
		if err := db.NewSelect().Table("sessions").Column("id").Scan(ctx, &sessions); err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 1 || sessions[0] != live.ID {
			t.Errorf("sessions after Maintain: got %q, want only the live one %q", sessions, live.ID)
		}
		if n, err := db.NewSelect().Table("tickets").Count(ctx); err != nil || n != 1 {
			t.Errorf("tickets after Maintain: got %d, %v; want the live one", n, err)
		}
	})
}

// TestCache checks the cache of successful checks: a revocation through
// another Store reaches a Store only when its cache lets go, one through
// the Store itself at once, and a negative CacheTTL caches nothing.
func TestCache(t *testing.T) {
	f := newFixture(t, dbtest.SQLite(t))
	ctx := f.ctx
	cached := auth.New(f.b, &auth.Options{CacheTTL: time.Hour})
	uncached := auth.New(f.b, &auth.Options{CacheTTL: -1})
	tok, secret, err := f.s.CreateToken(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*auth.Store{cached, uncached} {
		if _, err := s.AuthenticateToken(ctx, secret); err != nil {
			t.Fatalf("AuthenticateToken: %v", err)
		}
	}
	if _, err := f.s.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := uncached.AuthenticateToken(ctx, secret); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("AuthenticateToken without a cache after the revocation: got %v, want ErrUnauthorized", err)
	}
	if p, err := cached.AuthenticateToken(ctx, secret); err != nil || p.CredentialID != tok.ID {
		t.Errorf("AuthenticateToken from the cache after a revocation elsewhere: got %v, %v; want the cached answer", p, err)
	}
	// Ending a session through the Store clears its cache.
	if _, err := cached.EndSession(ctx, "unknown"); err != nil {
		t.Fatal(err)
	}
	if _, err := cached.AuthenticateToken(ctx, secret); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("AuthenticateToken after the cache was cleared: got %v, want ErrUnauthorized", err)
	}
}
