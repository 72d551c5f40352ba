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
	// lastUsedEvery is how often a token's last use is written at most.
	lastUsedEvery = time.Minute
)

// Scopes of a credential.
const (
	// ScopeRead allows reads: every GET route and every stream.
	ScopeRead = "read"
	// ScopeWrite allows reads and writes.
	ScopeWrite = "write"
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
	// ReadOnly reports a credential of scope read.
	ReadOnly bool
	// ExpiresAt is when the credential ends at the latest; nil when it
	// has no fixed end.
	ExpiresAt *time.Time
}

// scope returns the scope of p's credential.
func (p *Principal) scope() string {
	if p.ReadOnly {
		return ScopeRead
	}
	return ScopeWrite
}

// Token is a bearer token. Only the SHA-256 hash of its secret is stored;
// Prefix is the secret's first characters, for telling tokens apart.
type Token struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Scope is ScopeRead or ScopeWrite.
	Scope     string    `json:"scope"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is nil for a token without expiry.
	ExpiresAt *time.Time `json:"expires_at"`
	// LastUsedAt is written at most once a minute.
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// tokenRow is a row of the tokens table.
type tokenRow struct {
	bun.BaseModel `bun:"table:tokens"`

	ID         string     `bun:"id,pk"`
	UserID     string     `bun:"user_id,notnull"`
	Hash       string     `bun:"hash,notnull"`
	Name       string     `bun:"name,notnull"`
	Prefix     string     `bun:"prefix,notnull"`
	Scope      string     `bun:"scope,notnull"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	ExpiresAt  *time.Time `bun:"expires_at"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

func (r *tokenRow) token() *Token {
	return &Token{ID: r.ID, UserID: r.UserID, Name: r.Name, Prefix: r.Prefix, Scope: r.Scope, CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
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
	// moves it SessionIdleTTL ahead, but never past the expiry of the
	// token it was exchanged for.
	ExpiresAt time.Time
	// ReadOnly reports a session exchanged for a read token.
	ReadOnly bool
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
	Scope        string     `bun:"scope,notnull"`
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

// TokenSpec describes a token to issue.
type TokenSpec struct {
	// Name tells the token apart for its owner; it may be empty.
	Name string
	// Scope is ScopeRead or ScopeWrite. Empty means the scope of By, or
	// ScopeWrite without By.
	Scope string
	// ExpiresAt is when the token ends. Nil means when By ends, or never
	// without By.
	ExpiresAt *time.Time
	// By is the credential the token is made with, nil for an operator's
	// token. The new token's scope is no wider and its expiry no later
	// than By's (taskboard.ErrForbidden otherwise); By is checked in the
	// database, and must be live and of the same user.
	By *Principal
}

// credState is what the database says about a live credential.
type credState struct {
	userID   string
	readOnly bool
	// expiresAt is the credential's fixed end, nil for none.
	expiresAt *time.Time
}

// liveCredential returns the state of the token or session credentialID,
// or nil when it is unknown, revoked, ended or expired; a session is live
// only while the token it was exchanged for is.
func liveCredential(ctx context.Context, db bun.IDB, credentialID string, t time.Time) (*credState, error) {
	if credentialID == "" || hasNUL(credentialID) {
		return nil, nil
	}
	var tok tokenRow
	err := db.NewSelect().Model(&tok).Column("user_id", "scope", "expires_at").
		Where("id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", credentialID, t).Scan(ctx)
	switch {
	case err == nil:
		return &credState{userID: tok.UserID, readOnly: tok.Scope == ScopeRead, expiresAt: tok.ExpiresAt}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, seam.DBError(err)
	}
	var row struct {
		UserID    string     `bun:"user_id"`
		Scope     *string    `bun:"scope"`
		ExpiresAt *time.Time `bun:"token_expires_at"`
	}
	err = db.NewSelect().TableExpr("sessions AS s").
		ColumnExpr("s.user_id, t.scope, t.expires_at AS token_expires_at").
		Join("LEFT JOIN tokens AS t ON t.id = s.token_id").
		Where("s.id = ? AND s.ended_at IS NULL AND s.expires_at > ?", credentialID, t).
		Where("s.token_id IS NULL OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?))", t).
		Scan(ctx, &row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, seam.DBError(err)
	}
	return &credState{userID: row.UserID, readOnly: row.Scope != nil && *row.Scope == ScopeRead, expiresAt: row.ExpiresAt}, nil
}

// validScope reports whether s names a scope.
func validScope(s string) bool { return s == ScopeRead || s == ScopeWrite }

// CreateToken creates a write token without expiry for a user and returns
// it with its secret, which is shown only now: the database keeps only its
// hash. It returns an error matching taskboard.ErrNotFound when the user
// does not exist.
func (s *Store) CreateToken(ctx context.Context, userID string) (*Token, string, error) {
	return s.IssueToken(ctx, userID, TokenSpec{})
}

// IssueToken creates a token as spec describes for a user and returns it
// with its secret, which is shown only now. It returns an error matching
// taskboard.ErrNotFound when the user does not exist, taskboard.ErrInvalid
// for an unknown scope, taskboard.ErrForbidden for a scope wider or an
// expiry later than those of spec.By, and ErrUnauthorized when spec.By is
// no longer live.
func (s *Store) IssueToken(ctx context.Context, userID string, spec TokenSpec) (*Token, string, error) {
	if spec.Scope != "" && !validScope(spec.Scope) {
		return nil, "", fmt.Errorf("auth: create token: %w", &taskboard.ValidationError{Fields: []taskboard.FieldError{{
			Path: []string{"scope"}, Message: "must be read or write"}}})
	}
	secret := randomSecret("tb_")
	t := now()
	row := &tokenRow{ID: uuid.NewString(), UserID: userID, Name: spec.Name, Hash: hashSecret(secret),
		Prefix: secret[:len("tb_")+tokenPrefixLen], Scope: spec.Scope, CreatedAt: t}
	if spec.ExpiresAt != nil {
		e := spec.ExpiresAt.UTC().Truncate(time.Microsecond)
		row.ExpiresAt = &e
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := requireUser(ctx, tx, userID); err != nil {
			return err
		}
		if spec.By != nil {
			by := &credState{userID: spec.By.User.ID, readOnly: spec.By.ReadOnly, expiresAt: spec.By.ExpiresAt}
			if spec.By.CredentialID != "" {
				var err error
				if by, err = liveCredential(ctx, tx, spec.By.CredentialID, t); err != nil {
					return err
				}
				if by == nil {
					return ErrUnauthorized
				}
			}
			if by.userID != userID {
				return fmt.Errorf("%w: a credential of user %s makes tokens for that user only", taskboard.ErrForbidden, by.userID)
			}
			if row.Scope == "" && by.readOnly {
				row.Scope = ScopeRead
			}
			if row.Scope == ScopeWrite && by.readOnly {
				return fmt.Errorf("%w: a read credential makes read tokens only", taskboard.ErrForbidden)
			}
			if by.expiresAt != nil {
				if row.ExpiresAt == nil {
					row.ExpiresAt = by.expiresAt
				} else if row.ExpiresAt.After(*by.expiresAt) {
					return fmt.Errorf("%w: a token expires no later than the credential that makes it", taskboard.ErrForbidden)
				}
			}
		}
		if row.Scope == "" {
			row.Scope = ScopeWrite
		}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("auth: create token: %w", err)
	}
	return row.token(), secret, nil
}

// Tokens returns the live (not revoked) tokens of a user, oldest first,
// expired ones included.
func (s *Store) Tokens(ctx context.Context, userID string) ([]Token, error) {
	var rows []tokenRow
	if hasNUL(userID) {
		return []Token{}, nil
	}
	err := s.db.NewSelect().Model(&rows).Where("user_id = ? AND revoked_at IS NULL", userID).Order("created_at", "id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", seam.DBError(err))
	}
	out := make([]Token, 0, len(rows))
	for i := range rows {
		out = append(out, *rows[i].token())
	}
	return out, nil
}

// Revocation is what revoking a token ended: the token, and the IDs of
// the sessions exchanged for it.
type Revocation struct {
	Token    *Token
	Sessions []string
}

// RevokeToken revokes the token whose ID is idOrPrefix, or whose secret
// starts with idOrPrefix (at least its first 11 characters, "tb_" included),
// with the sessions made from it, and returns it. It returns an error
// matching taskboard.ErrNotFound when no live token matches, and
// taskboard.ErrConflict when a prefix matches several.
func (s *Store) RevokeToken(ctx context.Context, idOrPrefix string) (*Token, error) {
	rev, err := s.revoke(ctx, "", idOrPrefix)
	if err != nil {
		return nil, err
	}
	return rev.Token, nil
}

// RevokeUserToken revokes the token tokenID of a user, with the sessions
// made from it. A token of another user, like an unknown or revoked one,
// is an error matching taskboard.ErrNotFound; with readOnly (a read
// credential asks), revoking a write token is taskboard.ErrForbidden.
func (s *Store) RevokeUserToken(ctx context.Context, userID, tokenID string, readOnly bool) (*Revocation, error) {
	if userID == "" {
		return nil, fmt.Errorf("auth: revoke token: %w", notFound("Token"))
	}
	if readOnly {
		var row tokenRow
		err := s.db.NewSelect().Model(&row).Column("scope").Where("id = ? AND user_id = ? AND revoked_at IS NULL", tokenID, userID).Scan(ctx)
		if err == nil && row.Scope != ScopeRead {
			return nil, fmt.Errorf("auth: revoke token: %w: a read credential revokes read tokens only", taskboard.ErrForbidden)
		}
	}
	return s.revoke(ctx, userID, tokenID)
}

// revoke revokes a token by ID or prefix, of userID when not empty.
func (s *Store) revoke(ctx context.Context, userID, idOrPrefix string) (*Revocation, error) {
	if hasNUL(idOrPrefix) {
		return nil, fmt.Errorf("auth: revoke token: %w", notFound("Token"))
	}
	var row tokenRow
	var sessions []string
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var rows []tokenRow
		q := tx.NewSelect().Model(&rows).Where("revoked_at IS NULL")
		if prefix, ok := tokenPrefix(idOrPrefix); ok && userID == "" {
			q = q.Where("prefix = ?", prefix)
		} else {
			q = q.Where("id = ?", idOrPrefix)
		}
		if userID != "" {
			q = q.Where("user_id = ?", userID)
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
		if err := tx.NewSelect().Model((*sessionRow)(nil)).Column("id").
			Where("token_id = ? AND ended_at IS NULL", row.ID).Scan(ctx, &sessions); err != nil {
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
	return &Revocation{Token: row.token(), Sessions: sessions}, nil
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

// AuthenticateToken returns the user of a live bearer token (not revoked,
// not expired), or ErrUnauthorized, and notes its use (at most once a
// minute).
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
		TokenID    string     `bun:"token_id"`
		Scope      string     `bun:"scope"`
		ExpiresAt  *time.Time `bun:"token_expires_at"`
		LastUsedAt *time.Time `bun:"token_last_used_at"`
	}
	t := now()
	err := s.db.NewSelect().TableExpr("tokens AS t").
		ColumnExpr("u.id, u.name, u.email, u.created_at, t.id AS token_id, t.scope, t.expires_at AS token_expires_at, t.last_used_at AS token_last_used_at").
		Join("JOIN users AS u ON u.id = t.user_id").
		Where("t.hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)", hashSecret(secret), t).
		Scan(ctx, &row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("auth: authenticate token: %w", seam.DBError(err))
	}
	if row.LastUsedAt == nil || t.Sub(*row.LastUsedAt) >= lastUsedEvery {
		err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.NewUpdate().Model((*tokenRow)(nil)).Set("last_used_at = ?", t).
				Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", row.TokenID, t.Add(-lastUsedEvery)).Exec(ctx)
			return err
		})
		if err != nil {
			s.opts.Logger.Warn("auth: note token use", "err", err)
		}
	}
	p := &Principal{User: row.User, CredentialID: row.TokenID, ReadOnly: row.Scope == ScopeRead, ExpiresAt: row.ExpiresAt}
	s.cache.put(key, p, s.opts.CacheTTL)
	return p, nil
}

// CreateSession signs a user in for a browser and returns the session with
// the cookie value, which the database keeps only as a hash. tokenID, when
// not empty, ties the session to the token it was exchanged for: the
// session has its scope, ends no later than it, and revoking the token
// ends it. The token is checked in the database, whatever a cache says:
// it returns ErrUnauthorized when the token is not live, and an error
// matching taskboard.ErrNotFound when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, userID, tokenID string) (*Session, string, error) {
	if hasNUL(tokenID) {
		return nil, "", fmt.Errorf("auth: create session: %w", ErrUnauthorized)
	}
	secret := randomSecret("")
	t := now()
	row := &sessionRow{ID: hashSecret(secret), UserID: userID, CreatedAt: t, LastUsedAt: t, ExpiresAt: t.Add(SessionIdleTTL)}
	if tokenID != "" {
		row.TokenID = &tokenID
	}
	readOnly := false
	if err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := requireUser(ctx, tx, userID); err != nil {
			return err
		}
		if tokenID != "" {
			st, err := liveCredential(ctx, tx, tokenID, t)
			if err != nil {
				return err
			}
			if st == nil || st.userID != userID {
				return ErrUnauthorized
			}
			readOnly = st.readOnly
			if st.expiresAt != nil && st.expiresAt.Before(row.ExpiresAt) {
				row.ExpiresAt = *st.expiresAt
			}
		}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	}); err != nil {
		return nil, "", fmt.Errorf("auth: create session: %w", err)
	}
	return &Session{ID: row.ID, UserID: userID, TokenID: tokenID, CreatedAt: t, ExpiresAt: row.ExpiresAt, ReadOnly: readOnly}, secret, nil
}

// AuthenticateSession returns the user of a live session cookie, or
// ErrUnauthorized, and extends the session's idle expiry. A session made
// from a token lives only while the token does.
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
	id := hashSecret(cookie)
	st, err := liveCredential(ctx, s.db, id, t)
	if err != nil {
		return nil, fmt.Errorf("auth: authenticate session: %w", err)
	}
	if st == nil {
		return nil, ErrUnauthorized
	}
	if err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthorized
	} else if err != nil {
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
		exp := t.Add(SessionIdleTTL)
		if st.expiresAt != nil && st.expiresAt.Before(exp) {
			exp = *st.expiresAt
		}
		err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.NewUpdate().Model((*sessionRow)(nil)).Set("last_used_at = ?, expires_at = ?", t, exp).
				Where("id = ?", row.ID).Exec(ctx)
			return err
		})
		if err != nil {
			s.opts.Logger.Warn("auth: extend session", "err", err)
		}
	}
	p := &Principal{User: *u, CredentialID: row.ID, ReadOnly: st.readOnly, ExpiresAt: st.expiresAt}
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
// live (not revoked, ended or expired; for a session, its token too). An
// unknown credential is not.
func (s *Store) CredentialValid(ctx context.Context, credentialID string) (bool, error) {
	st, err := liveCredential(ctx, s.db, credentialID, now())
	return st != nil, err
}

// CreateTicket issues a single-use ticket, valid for TicketTTL, for the
// user of p, and returns it with its expiry. A ticket issued under a
// credential (p.CredentialID, a token or session ID) has its scope, ends no
// later than it and dies with it; the credential is checked in the
// database (ErrUnauthorized when it is not live). One issued for a
// principal without a credential (authenticated by other means than this
// Store's) has p's scope and is valid on its own until it expires or is
// used. The user must exist in the store.
func (s *Store) CreateTicket(ctx context.Context, p Principal) (string, time.Time, error) {
	if hasNUL(p.CredentialID) {
		return "", time.Time{}, fmt.Errorf("auth: create ticket: %w", ErrUnauthorized)
	}
	secret := randomSecret("tk_")
	t := now()
	row := &ticketRow{ID: hashSecret(secret), UserID: p.User.ID, CredentialID: p.CredentialID, Scope: p.scope(), ExpiresAt: t.Add(TicketTTL)}
	if err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := requireUser(ctx, tx, p.User.ID); err != nil {
			return err
		}
		if p.CredentialID != "" {
			st, err := liveCredential(ctx, tx, p.CredentialID, t)
			if err != nil {
				return err
			}
			if st == nil || st.userID != p.User.ID {
				return ErrUnauthorized
			}
			if st.readOnly {
				row.Scope = ScopeRead
			}
			if st.expiresAt != nil && st.expiresAt.Before(row.ExpiresAt) {
				row.ExpiresAt = *st.expiresAt
			}
		}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	}); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: create ticket: %w", err)
	}
	return secret, row.ExpiresAt, nil
}

// RedeemTicket uses up a ticket and returns its user, with the credential
// it was issued under and its scope, or ErrUnauthorized when it is
// unknown, expired or used, or its credential is no longer live.
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
		p = &Principal{User: *u, CredentialID: tk.CredentialID, ReadOnly: tk.Scope == ScopeRead}
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
	st, err := liveCredential(ctx, s.db, p.CredentialID, now())
	if err != nil {
		return nil, fmt.Errorf("auth: redeem ticket: %w", err)
	}
	if st == nil {
		return nil, ErrUnauthorized
	}
	p.ReadOnly = p.ReadOnly || st.readOnly
	p.ExpiresAt = st.expiresAt
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
