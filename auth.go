package taskboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// Credential lifetimes.
const (
	// SessionIdleTTL is how long a session lasts unused.
	SessionIdleTTL = 30 * 24 * time.Hour
	// TicketTTL is how long a ticket stays valid.
	TicketTTL = 60 * time.Second
	// tokenPrefixLen is how many characters of a token identify it.
	tokenPrefixLen = 8
)

// Principal is an authenticated user, with the credential that proved it
// (a token or session ID), so that revoking the credential can end what it
// opened.
type Principal struct {
	User         User
	CredentialID string
}

func randomSecret(prefix string) string {
	buf := make([]byte, 32)
	rand.Read(buf)
	return prefix + hex.EncodeToString(buf)
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// CreateToken creates a bearer token for a user and returns it with its
// secret, which is shown only now: the database keeps only its hash. It
// returns ErrNotFound when the user does not exist.
func (b *Board) CreateToken(ctx context.Context, userID string) (*Token, string, error) {
	secret := randomSecret("tb_")
	tok := &Token{ID: newID(), UserID: userID, Hash: hashSecret(secret), Prefix: secret[:len("tb_")+tokenPrefixLen], CreatedAt: now()}
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		if err := requireUser(ctx, tx, userID); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(tok).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("taskboard: create token: %w", err)
	}
	return tok, secret, nil
}

// RevokeToken revokes the token whose ID is idOrPrefix, or whose secret
// starts with idOrPrefix (at least its first 11 characters, "tb_" included),
// with the sessions made from it, and returns it. It returns ErrNotFound
// when no live token matches, ErrConflict when a prefix matches several.
func (b *Board) RevokeToken(ctx context.Context, idOrPrefix string) (*Token, error) {
	if hasNUL(idOrPrefix) {
		return nil, fmt.Errorf("taskboard: revoke token: %w", notFound("Token"))
	}
	var tok Token
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		var toks []Token
		q := tx.NewSelect().Model(&toks).Where("revoked_at IS NULL")
		if prefix, ok := tokenPrefix(idOrPrefix); ok {
			q = q.Where("prefix = ?", prefix)
		} else {
			q = q.Where("id = ?", idOrPrefix)
		}
		if err := q.Limit(2).Scan(ctx); err != nil {
			return err
		}
		switch len(toks) {
		case 0:
			return notFound("Token")
		case 2:
			return fmt.Errorf("%w: %q matches several tokens", ErrConflict, idOrPrefix)
		}
		tok = toks[0]
		t := now()
		tok.RevokedAt = &t
		if _, err := tx.NewUpdate().Model(&tok).Column("revoked_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*Session)(nil)).Set("ended_at = ?", t).
			Where("token_id = ? AND ended_at IS NULL", tok.ID).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: revoke token: %w", err)
	}
	b.auth.clear()
	return &tok, nil
}

// tokenPrefix returns the stored prefix of a token given by its secret
// or by at least the secret's first len("tb_")+tokenPrefixLen characters.
func tokenPrefix(p string) (string, bool) {
	n := len("tb_") + tokenPrefixLen
	if !strings.HasPrefix(p, "tb_") || len(p) < n {
		return "", false
	}
	return p[:n], true
}

// AuthenticateToken returns the user of a live bearer token, or
// ErrUnauthorized.
func (b *Board) AuthenticateToken(ctx context.Context, secret string) (*Principal, error) {
	if !strings.HasPrefix(secret, "tb_") {
		return nil, ErrUnauthorized
	}
	key := "t:" + hashSecret(secret)
	if p, ok := b.auth.get(key); ok {
		return p, nil
	}
	var row struct {
		User
		TokenID string `bun:"token_id"`
	}
	err := b.db.NewSelect().TableExpr("tokens AS t").
		ColumnExpr("u.id, u.name, u.email, u.created_at, t.id AS token_id").
		Join("JOIN users AS u ON u.id = t.user_id").
		Where("t.hash = ? AND t.revoked_at IS NULL", hashSecret(secret)).
		Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("taskboard: authenticate token: %w", wrapDBError(err))
	}
	p := &Principal{User: row.User, CredentialID: row.TokenID}
	b.auth.put(key, p, b.opts.AuthCacheTTL)
	return p, nil
}

// CreateSession signs a user in for a browser and returns the cookie value.
// tokenID, when not empty, ties the session to the token it was exchanged
// for, so that revoking the token ends it. It returns ErrNotFound when the
// user does not exist.
func (b *Board) CreateSession(ctx context.Context, userID, tokenID string) (*Session, string, error) {
	if hasNUL(tokenID) {
		return nil, "", fmt.Errorf("taskboard: create session: %w", notFound("Token"))
	}
	secret := randomSecret("")
	t := now()
	s := &Session{ID: hashSecret(secret), UserID: userID, CreatedAt: t, LastUsedAt: t, ExpiresAt: t.Add(SessionIdleTTL)}
	if tokenID != "" {
		s.TokenID = &tokenID
	}
	if err := b.plainTx(ctx, func(tx bun.Tx) error {
		if err := requireUser(ctx, tx, userID); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(s).Exec(ctx)
		return err
	}); err != nil {
		return nil, "", fmt.Errorf("taskboard: create session: %w", err)
	}
	return s, secret, nil
}

// AuthenticateSession returns the user of a live session cookie, or
// ErrUnauthorized, and extends the session's idle expiry.
func (b *Board) AuthenticateSession(ctx context.Context, cookie string) (*Principal, error) {
	if cookie == "" {
		return nil, ErrUnauthorized
	}
	key := "s:" + hashSecret(cookie)
	if p, ok := b.auth.get(key); ok {
		return p, nil
	}
	s := new(Session)
	t := now()
	err := b.db.NewSelect().Model(s).Where("id = ? AND ended_at IS NULL AND expires_at > ?", hashSecret(cookie), t).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("taskboard: authenticate session: %w", wrapDBError(err))
	}
	u, err := b.User(ctx, s.UserID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrUnauthorized
		}
		return nil, err
	}
	// Extend the idle expiry at most once a minute per session.
	if t.Sub(s.LastUsedAt) > time.Minute {
		err := b.plainTx(ctx, func(tx bun.Tx) error {
			_, err := tx.NewUpdate().Model((*Session)(nil)).Set("last_used_at = ?, expires_at = ?", t, t.Add(SessionIdleTTL)).
				Where("id = ?", s.ID).Exec(ctx)
			return err
		})
		if err != nil {
			b.opts.Logger.Warn("taskboard: extend session", "err", err)
		}
	}
	p := &Principal{User: *u, CredentialID: s.ID}
	b.auth.put(key, p, b.opts.AuthCacheTTL)
	return p, nil
}

// EndSession ends the session of a cookie and returns its ID. Ending an
// unknown session is not an error.
func (b *Board) EndSession(ctx context.Context, cookie string) (string, error) {
	id := hashSecret(cookie)
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*Session)(nil)).Set("ended_at = ?", now()).Where("id = ? AND ended_at IS NULL", id).Exec(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("taskboard: end session: %w", err)
	}
	b.auth.clear()
	return id, nil
}

// CredentialValid reports whether the token or session credentialID is still
// live (not revoked, ended or expired).
func (b *Board) CredentialValid(ctx context.Context, credentialID string) (bool, error) {
	if hasNUL(credentialID) {
		return false, nil
	}
	ok, err := b.db.NewSelect().Model((*Token)(nil)).Where("id = ? AND revoked_at IS NULL", credentialID).Exists(ctx)
	if err != nil || ok {
		return ok, wrapDBError(err)
	}
	ok, err = b.db.NewSelect().Model((*Session)(nil)).
		Where("id = ? AND ended_at IS NULL AND expires_at > ?", credentialID, now()).Exists(ctx)
	return ok, wrapDBError(err)
}

// CreateTicket issues a single-use ticket, valid for TicketTTL, for a user
// authenticated by credentialID.
func (b *Board) CreateTicket(ctx context.Context, p *Principal) (string, time.Time, error) {
	secret := randomSecret("tk_")
	t := &Ticket{ID: hashSecret(secret), UserID: p.User.ID, CredentialID: p.CredentialID, ExpiresAt: now().Add(TicketTTL)}
	if err := b.plainTx(ctx, func(tx bun.Tx) error {
		_, err := tx.NewInsert().Model(t).Exec(ctx)
		return err
	}); err != nil {
		return "", time.Time{}, fmt.Errorf("taskboard: create ticket: %w", err)
	}
	return secret, t.ExpiresAt, nil
}

// RedeemTicket uses up a ticket and returns its user, or ErrUnauthorized
// when it is unknown, expired or used.
func (b *Board) RedeemTicket(ctx context.Context, secret string) (*Principal, error) {
	var p *Principal
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		t := now()
		var tk Ticket
		res, err := tx.NewUpdate().Model((*Ticket)(nil)).Set("used_at = ?", t).
			Where("id = ? AND used_at IS NULL AND expires_at > ?", hashSecret(secret), t).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrUnauthorized
		}
		if err := tx.NewSelect().Model(&tk).Where("id = ?", hashSecret(secret)).Scan(ctx); err != nil {
			return err
		}
		u := new(User)
		if err := tx.NewSelect().Model(u).Where("id = ?", tk.UserID).Scan(ctx); err != nil {
			return err
		}
		p = &Principal{User: *u, CredentialID: tk.CredentialID}
		return nil
	})
	if errors.Is(err, ErrUnauthorized) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("taskboard: redeem ticket: %w", err)
	}
	if ok, err := b.CredentialValid(ctx, p.CredentialID); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrUnauthorized
	}
	return p, nil
}

// authCache remembers recent successful authentications for a short time,
// so that a busy client does not cost a query per request. Revocations made
// through this Board clear it at once; those made elsewhere (another
// process or instance) take effect within Options.AuthCacheTTL.
type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	p     Principal
	until time.Time
}

// maxAuthCache bounds the cache; it is emptied when full.
const maxAuthCache = 10000

func (c *authCache) get(key string) (*Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.until) {
		return nil, false
	}
	p := e.p
	return &p, true
}

func (c *authCache) put(key string, p *Principal, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxAuthCache {
		c.entries = make(map[string]authEntry)
	}
	c.entries[key] = authEntry{p: *p, until: time.Now().Add(ttl)}
}

func (c *authCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
}
