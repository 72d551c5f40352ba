package taskboard

import "fmt"

// Role is what a member may do on a board.
//   - RoleViewer reads the board, follows it and is shown as present; every
//     write, typing included, is ErrForbidden.
//   - RoleEditor also changes lists and tasks, and may leave the board.
//   - RoleOwner may do everything: rename and delete the board, and add,
//     change and remove members.
//
// A board's creator is its owner. A board keeps at least one owner once it
// has one: removing or demoting the last owner is ErrConflict.
type Role string

// The roles, from the fewest rights to the most.
const (
	RoleViewer Role = "viewer"
	RoleEditor Role = "editor"
	RoleOwner  Role = "owner"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	return r == RoleViewer || r == RoleEditor || r == RoleOwner
}

// rank orders the roles by their rights; 0 is no role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// allows returns ErrForbidden unless a member with role r may do what
// needs role need.
func (r Role) allows(need Role, userID, boardID string) error {
	if r.rank() < need.rank() {
		return fmt.Errorf("%w: user %s is %s of board %s, which needs %s", ErrForbidden, userID, article(r), boardID, article(need))
	}
	return nil
}

// article names a role with its article ("an editor").
func article(r Role) string {
	if r == RoleOwner || r == RoleEditor {
		return "an " + string(r)
	}
	return "a " + string(r)
}

// validRole returns ErrInvalid naming field unless r is a role.
func validRole(field string, r Role) error {
	if !r.Valid() {
		return invalid(field, "must be owner, editor or viewer")
	}
	return nil
}
