package taskboard

import (
	"time"

	"github.com/uptrace/bun"
)

// User is a person who can sign in and be a member of boards.
type User struct {
	bun.BaseModel `bun:"table:users"`

	ID        string    `bun:"id,pk" json:"id"`
	Name      string    `bun:"name,notnull" json:"name"`
	Email     string    `bun:"email,notnull" json:"email"`
	CreatedAt time.Time `bun:"created_at,notnull" json:"-"`
}

// BoardInfo is a board's row. Seq is the seq of the board's newest event.
type BoardInfo struct {
	bun.BaseModel `bun:"table:boards"`

	ID        string    `bun:"id,pk" json:"id"`
	Name      string    `bun:"name,notnull" json:"name"`
	CreatedAt time.Time `bun:"created_at,notnull" json:"created_at"`
	Seq       int64     `bun:"seq,notnull" json:"seq"`
	// TrimmedSeq is the highest seq removed from the log by retention.
	TrimmedSeq int64 `bun:"trimmed_seq,notnull" json:"-"`
}

// Member records that a user is a member of a board.
type Member struct {
	bun.BaseModel `bun:"table:board_members"`

	BoardID   string    `bun:"board_id,pk" json:"board_id"`
	UserID    string    `bun:"user_id,pk" json:"user_id"`
	CreatedAt time.Time `bun:"created_at,notnull" json:"-"`
}

// List is a column of a board. Position is its 0-based index among the
// board's lists; Version starts at 1 and grows by one with each change to it.
type List struct {
	bun.BaseModel `bun:"table:lists"`

	ID       string `bun:"id,pk" json:"id"`
	BoardID  string `bun:"board_id,notnull" json:"board_id"`
	Name     string `bun:"name,notnull" json:"name"`
	Position int    `bun:"position,notnull" json:"position"`
	Version  int64  `bun:"version,notnull" json:"version"`
}

// Task is a card in a list. Position is its 0-based index in the list;
// Version starts at 1 and grows by one with each change to it.
type Task struct {
	bun.BaseModel `bun:"table:tasks"`

	ID          string    `bun:"id,pk" json:"id"`
	ListID      string    `bun:"list_id,notnull" json:"list_id"`
	BoardID     string    `bun:"board_id,notnull" json:"board_id"`
	Title       string    `bun:"title,notnull" json:"title"`
	Description *string   `bun:"description" json:"description"`
	AssigneeID  *string   `bun:"assignee_id" json:"assignee_id"`
	Position    int       `bun:"position,notnull" json:"position"`
	Version     int64     `bun:"version,notnull" json:"version"`
	CreatedAt   time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at,notnull" json:"updated_at"`
}

// eventRecord is one row of a board's event log. Data holds the event's
// envelope exactly as it is sent to clients.
type eventRecord struct {
	bun.BaseModel `bun:"table:events"`

	BoardID    string    `bun:"board_id,pk"`
	Seq        int64     `bun:"seq,pk"`
	Type       string    `bun:"type,notnull"`
	At         time.Time `bun:"at,notnull"`
	MutationID *string   `bun:"mutation_id"`
	Data       string    `bun:"data,notnull"`
}

// Token is a bearer token. Only the SHA-256 hash of its secret is stored;
// Prefix is the secret's first characters, for telling tokens apart.
type Token struct {
	bun.BaseModel `bun:"table:tokens"`

	ID         string     `bun:"id,pk" json:"id"`
	UserID     string     `bun:"user_id,notnull" json:"user_id"`
	Hash       string     `bun:"hash,notnull" json:"-"`
	Prefix     string     `bun:"prefix,notnull" json:"prefix"`
	CreatedAt  time.Time  `bun:"created_at,notnull" json:"created_at"`
	LastUsedAt *time.Time `bun:"last_used_at" json:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at" json:"revoked_at"`
}

// Session is a browser sign-in. ID is the SHA-256 hash of the cookie value.
type Session struct {
	bun.BaseModel `bun:"table:sessions"`

	ID         string     `bun:"id,pk"`
	UserID     string     `bun:"user_id,notnull"`
	TokenID    *string    `bun:"token_id"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	LastUsedAt time.Time  `bun:"last_used_at,notnull"`
	ExpiresAt  time.Time  `bun:"expires_at,notnull"`
	EndedAt    *time.Time `bun:"ended_at"`
}

// Ticket is a single-use credential for clients that can send neither a
// header nor a cookie. ID is the SHA-256 hash of the ticket;
// CredentialID names the token or session it was issued under.
type Ticket struct {
	bun.BaseModel `bun:"table:tickets"`

	ID           string     `bun:"id,pk"`
	UserID       string     `bun:"user_id,notnull"`
	CredentialID string     `bun:"credential_id,notnull"`
	ExpiresAt    time.Time  `bun:"expires_at,notnull"`
	UsedAt       *time.Time `bun:"used_at"`
}

// IdempotencyRecord remembers the response to a write that carried an
// Idempotency-Key. Status is zero while the first request is in flight.
type IdempotencyRecord struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	UserID      string    `bun:"user_id,pk"`
	Method      string    `bun:"method,pk"`
	Path        string    `bun:"path,pk"`
	Key         string    `bun:"key,pk"`
	RequestHash string    `bun:"request_hash,notnull"`
	Status      int       `bun:"status,notnull"`
	ETag        string    `bun:"etag"`
	Body        string    `bun:"body"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
}

// setting is a key/value pair of database-wide state, such as the demo mark.
type setting struct {
	bun.BaseModel `bun:"table:settings"`

	Key   string `bun:"key,pk"`
	Value string `bun:"value,notnull"`
}
