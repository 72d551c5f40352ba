package taskboard

import "fmt"

// Actor is who performs an operation: the user, and what the credential
// they act with allows. Every method of Board that reads or changes a board
// takes the Actor it acts for; the store checks that the user is a member
// of the board, and refuses the writes the actor may not make.
//
// The zero Actor is nobody: it is a member of no board.
type Actor struct {
	// UserID is the acting user.
	UserID string
	// ReadOnly limits the actor to reads: its writes fail with
	// ErrForbidden and change nothing. A program sets it for credentials
	// that may only read, such as a read-only API token. A viewer (see
	// Role) is limited the same way on the boards where it is one.
	ReadOnly bool
}

// mayWrite returns ErrForbidden unless the actor may change boards.
func (a Actor) mayWrite() error {
	if a.ReadOnly {
		return fmt.Errorf("%w: the credential of user %s may only read", ErrForbidden, a.UserID)
	}
	return nil
}
