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

// BoardInfo is a board's row: its name and where its event log stands.
// Seq is the seq of the board's newest event.
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
	Role      Role      `bun:"role,notnull" json:"role"`
	CreatedAt time.Time `bun:"created_at,notnull" json:"-"`
}

// MemberUser is a member of a board as its snapshot lists them: the user
// and their role on the board.
type MemberUser struct {
	User `bun:",extend"`
	Role Role `bun:"role,scanonly" json:"role"`
}

// List is a column of a board. Position is its 0-based index among the
// board's lists; Version starts at 1 and grows by one with each change to it.
type List struct {
	bun.BaseModel `bun:"table:lists"`

	ID       string `bun:"id,pk" json:"id"`
	BoardID  string `bun:"board_id,notnull" json:"board_id"`
	Name     string `bun:"name,notnull" json:"name"`
	Position int    `bun:"-" json:"position"`
	Version  int64  `bun:"version,notnull" json:"version"`
	// Rank is the list's order key among the board's lists: they sort by
	// it, byte by byte, and Position is derived from it. The store keeps it;
	// it is never sent to clients.
	Rank string `bun:"rank,notnull" json:"-"`
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
	Position    int       `bun:"-" json:"position"`
	Version     int64     `bun:"version,notnull" json:"version"`
	CreatedAt   time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at,notnull" json:"updated_at"`
	// Rank is the task's order key in its list: the list's tasks sort by
	// it, byte by byte, and Position is derived from it. The store keeps it;
	// it is never sent to clients.
	Rank string `bun:"rank,notnull" json:"-"`
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
