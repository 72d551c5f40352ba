package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// ErrUnauthorized reports credentials that are missing, unknown, expired,
// used up or revoked.
var ErrUnauthorized = errors.New("auth: unauthorized")

// Credential lifetimes.
const (
	// SessionIdleTTL is how long a session lasts unused.
	SessionIdleTTL = 30 * 24 * time.Hour
	// TicketTTL is how long a ticket stays valid.
	TicketTTL = 60 * time.Second
	// tokenPrefixLen is how many characters of a token's secret after its
	// "tb_" identify it.
	tokenPrefixLen = 8
)

// Options configures a Store. A nil *Options means all defaults; every zero
// field means the default its comment gives.
type Options struct {
	// CacheTTL is how long a successful token or session check is
	// remembered. Revocations through the Store take effect at once,
	// others (another Store, process or instance) within this time. Zero
	// means 2 s; negative disables the cache.
	CacheTTL time.Duration
	// Logger receives the package's diagnostics. Nil logs nothing.
	Logger *slog.Logger
}

// Store keeps the credentials of the HTTP API in a taskboard store's
// database. It is safe for concurrent use by many goroutines, and needs no
// closing.
type Store struct {
	board *taskboard.Board
	db    *bun.DB
	opts  Options
	cache cache
}

// New returns a Store over the database of store.
func New(store *taskboard.Board, opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Store{board: store, db: seam.DB(store), opts: o}
}

// Principal is an authenticated user, with the credential that proved it
// (a token or session ID), so that revoking the credential can end what it
// opened.
type Principal struct {
	User         taskboard.User
	CredentialID string
}

// Token is a bearer token. Only the SHA-256 hash of its secret is stored;
// Prefix is the secret's first characters, for telling tokens apart.
type Token struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// tokenRow is a row of the tokens table.
type tokenRow struct {
	bun.BaseModel `bun:"table:tokens"`

	ID         string     `bun:"id,pk"`
	UserID     string     `bun:"user_id,notnull"`
	Hash       string     `bun:"hash,notnull"`
	Prefix     string     `bun:"prefix,notnull"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

func (r *tokenRow) token() *Token {
	return &Token{ID: r.ID, UserID: r.UserID, Prefix: r.Prefix, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

// Session is a browser sign-in. Its ID, the SHA-256 hash of the cookie
// value, is the CredentialID of the principals it authenticates.
type Session struct {
	ID     string
	UserID string
	// TokenID names the token the session was exchanged for; revoking it
	// ends the session. Empty for a session made without a token.
	TokenID   string
	CreatedAt time.Time
	// ExpiresAt is when the session ends unless it is used; each use
	// moves it SessionIdleTTL ahead.
	ExpiresAt time.Time
}

// sessionRow is a row of the sessions table.
type sessionRow struct {
	bun.BaseModel `bun:"table:sessions"`

	ID         string     `bun:"id,pk"`
	UserID     string     `bun:"user_id,notnull"`
	TokenID    *string    `bun:"token_id"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	LastUsedAt time.Time  `bun:"last_used_at,notnull"`
	ExpiresAt  time.Time  `bun:"expires_at,notnull"`
	EndedAt    *time.Time `bun:"ended_at"`
}

// ticketRow is a row of the tickets table: a single-use credential. ID is
// the SHA-256 hash of the ticket; CredentialID names the token or session
// it was issued under, empty for none.
type ticketRow struct {
	bun.BaseModel `bun:"table:tickets"`

	ID           string     `bun:"id,pk"`
	UserID       string     `bun:"user_id,notnull"`
	CredentialID string     `bun:"credential_id,notnull"`
	ExpiresAt    time.Time  `bun:"expires_at,notnull"`
	UsedAt       *time.Time `bun:"used_at"`
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

// now is the store's clock: UTC, at microsecond precision so that both
// databases return what was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// hasNUL reports whether a string holds the NUL character, which neither
// database stores: such an ID names nothing.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}

func notFound(entity string) error { return &taskboard.NotFoundError{Entity: entity} }

// requireUser returns a taskboard.NotFoundError for "User" unless the user
// id exists.
func requireUser(ctx context.Context, db bun.IDB, id string) error {
	if hasNUL(id) {
		return notFound("User")
	}
	ok, err := db.NewSelect().Model((*taskboard.User)(nil)).Where("id = ?", id).Exists(ctx)
	if err == nil && !ok {
		return notFound("User")
	}
	return err
}

// writeTx runs fn in a write transaction of the store.
func (s *Store) writeTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return seam.WriteTx(ctx, s.board, fn)
}

// CreateToken creates a bearer token for a user and returns it with its
// secret, which is shown only now: the database keeps only its hash. It
// returns an error matching taskboard.ErrNotFound when the user does not
// exist.
func (s *Store) CreateToken(ctx context.Context, userID string) (*Token, string, error) {
	secret := randomSecret("tb_")
	row := &tokenRow{ID: uuid.NewString(), UserID: userID, Hash: hashSecret(secret), Prefix: secret[:len("tb_")+tokenPrefixLen], CreatedAt: now()}
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := requireUser(ctx, tx, userID); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("auth: create token: %w", err)
	}
	return row.token(), secret, nil
}

// RevokeToken revokes the token whose ID is idOrPrefix, or whose secret
// starts with idOrPrefix (at least its first 11 characters, "tb_" included),
// with the sessions made from it, and returns it. It returns an error
// matching taskboard.ErrNotFound when no live token matches, and
// taskboard.ErrConflict when a prefix matches several.
func (s *Store) RevokeToken(ctx context.Context, idOrPrefix string) (*Token, error) {
	if hasNUL(idOrPrefix) {
		return nil, fmt.Errorf("auth: revoke token: %w", notFound("Token"))
	}
	var row tokenRow
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var rows []tokenRow
		q := tx.NewSelect().Model(&rows).Where("revoked_at IS NULL")
		if prefix, ok := tokenPrefix(idOrPrefix); ok {
			q = q.Where("prefix = ?", prefix)
		} else {
			q = q.Where("id = ?", idOrPrefix)
		}
		if err := q.Limit(2).Scan(ctx); err != nil {
			return err
		}
		switch len(rows) {
		case 0:
			return notFound("Token")
		case 2:
			return fmt.Errorf("%w: %q matches several tokens", taskboard.ErrConflict, idOrPrefix)
		}
		row = rows[0]
		t := now()
		row.RevokedAt = &t
		if _, err := tx.NewUpdate().Model(&row).Column("revoked_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*sessionRow)(nil)).Set("ended_at = ?", t).
			Where("token_id = ? AND ended_at IS NULL", row.ID).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: revoke token: %w", err)
	}
	s.cache.clear()
	return row.token(), nil
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
func (s *Store) AuthenticateToken(ctx context.Context, secret string) (*Principal, error) {
	if !strings.HasPrefix(secret, "tb_") {
		return nil, ErrUnauthorized
	}
	key := "t:" + hashSecret(secret)
	if p, ok := s.cache.get(key); ok {
		return p, nil
	}
	var row struct {
		taskboard.User
		TokenID string `bun:"token_id"`
	}
	err := s.db.NewSelect().TableExpr("tokens AS t").
		ColumnExpr("u.id, u.name, u.email, u.created_at, t.id AS token_id").
		Join("JOIN users AS u ON u.id = t.user_id").
		Where("t.hash = ? AND t.revoked_at IS NULL", hashSecret(secret)).
		Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("auth: authenticate token: %w", seam.DBError(err))
	}
	p := &Principal{User: row.User, CredentialID: row.TokenID}
	s.cache.put(key, p, s.opts.CacheTTL)
	return p, nil
}

// CreateSession signs a user in for a browser and returns the session with
// the cookie value, which the database keeps only as a hash. tokenID, when
// not empty, ties the session to the token it was exchanged for, so that
// revoking the token ends it. It returns an error matching
// taskboard.ErrNotFound when the user or the token does not exist.
func (s *Store) CreateSession(ctx context.Context, userID, tokenID string) (*Session, string, error) {
	if hasNUL(tokenID) {
		return nil, "", fmt.Errorf("auth: create session: %w", notFound("Token"))
	}
	secret := randomSecret("")
	t := now()
	row := &sessionRow{ID: hashSecret(secret), UserID: userID, CreatedAt: t, LastUsedAt: t, ExpiresAt: t.Add(SessionIdleTTL)}
	if tokenID != "" {
		row.TokenID = &tokenID
	}
	if err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := requireUser(ctx, tx, userID); err != nil {
			return err
		}
		if tokenID != "" {
			ok, err := tx.NewSelect().Model((*tokenRow)(nil)).Where("id = ?", tokenID).Exists(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return notFound("Token")
			}
		}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	}); err != nil {
		return nil, "", fmt.Errorf("auth: create session: %w", err)
	}
	return &Session{ID: row.ID, UserID: userID, TokenID: tokenID, CreatedAt: t, ExpiresAt: row.ExpiresAt}, secret, nil
}

// AuthenticateSession returns the user of a live session cookie, or
// ErrUnauthorized, and extends the session's idle expiry.
func (s *Store) AuthenticateSession(ctx context.Context, cookie string) (*Principal, error) {
	if cookie == "" {
		return nil, ErrUnauthorized
	}
	key := "s:" + hashSecret(cookie)
	if p, ok := s.cache.get(key); ok {
		return p, nil
	}
	row := new(sessionRow)
	t := now()
	err := s.db.NewSelect().Model(row).Where("id = ? AND ended_at IS NULL AND expires_at > ?", hashSecret(cookie), t).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("auth: authenticate session: %w", seam.DBError(err))
	}
	u, err := s.board.User(ctx, row.UserID)
	if err != nil {
		if errors.Is(err, taskboard.ErrNotFound) {
			return nil, ErrUnauthorized
		}
		return nil, err
	}
	// Extend the idle expiry at most once a minute per session.
	if t.Sub(row.LastUsedAt) > time.Minute {
		err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.NewUpdate().Model((*sessionRow)(nil)).Set("last_used_at = ?, expires_at = ?", t, t.Add(SessionIdleTTL)).
				Where("id = ?", row.ID).Exec(ctx)
			return err
		})
		if err != nil {
			s.opts.Logger.Warn("auth: extend session", "err", err)
		}
	}
	p := &Principal{User: *u, CredentialID: row.ID}
	s.cache.put(key, p, s.opts.CacheTTL)
	return p, nil
}

// EndSession ends the session of a cookie and returns its ID. Ending an
// unknown session is not an error.
func (s *Store) EndSession(ctx context.Context, cookie string) (string, error) {
	id := hashSecret(cookie)
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*sessionRow)(nil)).Set("ended_at = ?", now()).Where("id = ? AND ended_at IS NULL", id).Exec(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("auth: end session: %w", err)
	}
	s.cache.clear()
	return id, nil
}

// CredentialValid reports whether the token or session credentialID is still
// live (not revoked, ended or expired). An unknown credential is not.
func (s *Store) CredentialValid(ctx context.Context, credentialID string) (bool, error) {
	if hasNUL(credentialID) {
		return false, nil
	}
	ok, err := s.db.NewSelect().Model((*tokenRow)(nil)).Where("id = ? AND revoked_at IS NULL", credentialID).Exists(ctx)
	if err != nil || ok {
		return ok, seam.DBError(err)
	}
	ok, err = s.db.NewSelect().Model((*sessionRow)(nil)).
		Where("id = ? AND ended_at IS NULL AND expires_at > ?", credentialID, now()).Exists(ctx)
	return ok, seam.DBError(err)
}

// CreateTicket issues a single-use ticket, valid for TicketTTL, for the
// user of p, and returns it with its expiry. A ticket issued under a
// credential (p.CredentialID, a token or session ID) dies with it; one
// issued for a principal without a credential (authenticated by other
// means than this Store's) is valid on its own until it expires or is
// used. The user must exist in the store.
func (s *Store) CreateTicket(ctx context.Context, p Principal) (string, time.Time, error) {
	if hasNUL(p.CredentialID) {
		return "", time.Time{}, fmt.Errorf("auth: create ticket: %w", ErrUnauthorized)
	}
	secret := randomSecret("tk_")
	row := &ticketRow{ID: hashSecret(secret), UserID: p.User.ID, CredentialID: p.CredentialID, ExpiresAt: now().Add(TicketTTL)}
	if err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := requireUser(ctx, tx, p.User.ID); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	}); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: create ticket: %w", err)
	}
	return secret, row.ExpiresAt, nil
}

// RedeemTicket uses up a ticket and returns its user, with the credential
// it was issued under, or ErrUnauthorized when it is unknown, expired or
// used, or its credential is no longer live.
func (s *Store) RedeemTicket(ctx context.Context, secret string) (*Principal, error) {
	var p *Principal
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		t := now()
		res, err := tx.NewUpdate().Model((*ticketRow)(nil)).Set("used_at = ?", t).
			Where("id = ? AND used_at IS NULL AND expires_at > ?", hashSecret(secret), t).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrUnauthorized
		}
		var tk ticketRow
		if err := tx.NewSelect().Model(&tk).Where("id = ?", hashSecret(secret)).Scan(ctx); err != nil {
			return err
		}
		u := new(taskboard.User)
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
		return nil, fmt.Errorf("auth: redeem ticket: %w", err)
	}
	if p.CredentialID == "" {
		return p, nil
	}
	if ok, err := s.CredentialValid(ctx, p.CredentialID); err != nil {
		return nil, fmt.Errorf("auth: redeem ticket: %w", err)
	} else if !ok {
		return nil, ErrUnauthorized
	}
	return p, nil
}

// Maintain deletes expired tickets and ended or expired sessions.
func (s *Store) Maintain(ctx context.Context) error {
	t := now()
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []*bun.DeleteQuery{
			tx.NewDelete().Model((*ticketRow)(nil)).Where("expires_at < ?", t),
			tx.NewDelete().Model((*sessionRow)(nil)).Where("expires_at < ? OR ended_at IS NOT NULL", t),
		} {
			if _, err := q.Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: delete expired credentials: %w", err)
	}
	return nil
}
