package client

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// AllBoards, as the only entry of FollowBoards' boards, follows every
// board of the caller, and each board they are added to, create or import
// while the stream is open (GET /events?boards=*).
const AllBoards = "*"

// MaxBoards is how many boards one FollowBoards stream follows at most,
// as the server allows.
const MaxBoards = 100

// ErrInvalidCursor is the error of ParseCursor for a string that is not a
// composite cursor.
var ErrInvalidCursor = errors.New("client: invalid cursor")

// Cursor is where a many-board stream stands: for each board, the seq of
// the last event the caller has taken in (0: none yet, the board is
// followed from its first event). Its String form is the server's
// composite cursor, "board-1:12,board-2:7", which a caller may persist and
// give back to ParseCursor and FollowBoards to resume each board exactly
// after its own seq.
//
// Keep a Cursor up to date with Update on every event taken from the
// stream (not with the stream's own position: the events in its channel
// buffer are not yet the caller's).
type Cursor map[string]int64

// ParseCursor reads a composite cursor, board:seq pairs separated by
// commas, in any order ("board-1:12,board-2:7"); the empty string is the
// empty cursor. A pair without a colon, an empty board id, a seq that is
// not a non-negative integer or a board named twice is an error wrapping
// ErrInvalidCursor.
func ParseCursor(s string) (Cursor, error) {
	c := Cursor{}
	s = strings.TrimSpace(s)
	if s == "" {
		return c, nil
	}
	for _, part := range strings.Split(s, ",") {
		i := strings.LastIndexByte(part, ':')
		if i < 0 {
			return nil, fmt.Errorf("%w: %q is not board:seq", ErrInvalidCursor, part)
		}
		id := strings.TrimSpace(part[:i])
		if id == "" {
			return nil, fmt.Errorf("%w: %q has no board id", ErrInvalidCursor, part)
		}
		seq, err := strconv.ParseInt(strings.TrimSpace(part[i+1:]), 10, 64)
		if err != nil || seq < 0 {
			return nil, fmt.Errorf("%w: %q: the seq must be a non-negative integer", ErrInvalidCursor, part)
		}
		if _, ok := c[id]; ok {
			return nil, fmt.Errorf("%w: board %s named twice", ErrInvalidCursor, id)
		}
		c[id] = seq
	}
	return c, nil
}

// String returns the composite form of c, boards sorted by id
// ("board-1:12,board-2:7"); the empty cursor is "".
func (c Cursor) String() string {
	ids := make([]string, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(c[id], 10))
	}
	return b.String()
}

// Update moves c past ev: a logged event, a reset with a snapshot or an
// EventFollowing set the board's seq to ev.Seq; a reset that ends the
// board (Reset.Err set) removes it. Other events change nothing.
func (c Cursor) Update(ev Event) {
	switch {
	case ev.Reset != nil && ev.Reset.Err != nil:
		delete(c, ev.BoardID)
	case ev.Envelope != nil, ev.Type == EventFollowing && ev.Snapshot != nil, ev.Reset != nil:
		c[ev.BoardID] = ev.Seq
	}
}

// clone returns a copy of c.
func (c Cursor) clone() Cursor {
	out := make(Cursor, len(c))
	for id, seq := range c {
		out[id] = seq
	}
	return out
}
