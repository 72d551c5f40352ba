package taskboard

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the package returns for one of these
// conditions matches the sentinel with errors.Is.
var (
	// ErrNotFound reports a missing entity, or one the acting user may not
	// see: a board the user is not a member of is indistinguishable from one
	// that does not exist. The concrete error is a *NotFoundError.
	ErrNotFound = errors.New("taskboard: not found")
	// ErrInvalid reports input that breaks a rule of the API. The concrete
	// error is a *ValidationError naming each field and the reason.
	ErrInvalid = errors.New("taskboard: invalid input")
	// ErrPreconditionFailed reports a compare-and-set write whose expected
	// version no longer matches the stored one. Nothing was changed.
	ErrPreconditionFailed = errors.New("taskboard: precondition failed")
	// ErrConflict reports a write that would leave the data in a forbidden
	// state, such as removing a board's last member.
	ErrConflict = errors.New("taskboard: conflict")
	// ErrForbidden reports a write by an actor that may only read
	// (Actor.ReadOnly), or one that the actor's role on the board does not
	// allow (see Role). Nothing was changed.
	ErrForbidden = errors.New("taskboard: forbidden")
	// ErrUnavailable reports that the database cannot be reached. It wraps
	// the driver's error.
	ErrUnavailable = errors.New("taskboard: database unavailable")
	// ErrClosed reports use of a Board after Close.
	ErrClosed = errors.New("taskboard: closed")
	// ErrListenerDown reports, from Board.Ready, that the PostgreSQL
	// listener through which the Board hears other instances' changes is
	// not connected. It reconnects by itself and then catches up from the
	// log, so nothing is lost meanwhile. It wraps the cause, if known.
	ErrListenerDown = errors.New("taskboard: notification listener down")

	// ErrSlowConsumer ends a subscription whose reader fell behind its
	// bounded buffer. Resubscribing after the last received seq loses nothing.
	ErrSlowConsumer = errors.New("taskboard: slow consumer")
	// ErrHistoryTruncated reports a resume point older than the retained log.
	ErrHistoryTruncated = errors.New("taskboard: history truncated")
	// ErrAhead reports a resume point beyond the board's current seq, as
	// after restoring an older copy of the database.
	ErrAhead = errors.New("taskboard: resume point ahead of the log")
	// ErrAccessRevoked reports that the subscriber is no longer a member of
	// the board.
	ErrAccessRevoked = errors.New("taskboard: access revoked")
	// ErrBoardDeleted reports that the board was deleted.
	ErrBoardDeleted = errors.New("taskboard: board deleted")
)

// NotFoundError names the entity that was not found ("Task", "List",
// "Board", "User"). It matches ErrNotFound.
type NotFoundError struct {
	Entity string
}

func (e *NotFoundError) Error() string { return e.Entity + " not found" }

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(entity string) error { return &NotFoundError{Entity: entity} }

// FieldError is one broken rule: the field, as a path into the request body,
// and why it was rejected.
type FieldError struct {
	Path    []string `json:"path"`
	Message string   `json:"message"`
}

// ValidationError lists every rule the input broke. It matches ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = strings.Join(f.Path, ".") + ": " + f.Message
	}
	return "taskboard: invalid input: " + strings.Join(parts, "; ")
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Fields: []FieldError{{Path: []string{field}, Message: fmt.Sprintf(format, args...)}}}
}

// ResetError ends a subscription, or refuses one, when the subscriber must
// refetch the board's snapshot: it carries the reason and the board's current
// seq. It matches the sentinel of its reason (ErrHistoryTruncated, ErrAhead,
// ErrAccessRevoked or ErrBoardDeleted).
type ResetError struct {
	BoardID string
	Reason  string // "history_truncated", "ahead", "access_revoked" or "board_deleted"
	Seq     int64  // the board's current seq
}

// Reset reasons, as sent on the wire.
const (
	ReasonHistoryTruncated = "history_truncated"
	ReasonAhead            = "ahead"
	ReasonAccessRevoked    = "access_revoked"
	ReasonBoardDeleted     = "board_deleted"
)

func (e *ResetError) Error() string {
	return fmt.Sprintf("taskboard: reset board %s at seq %d: %s", e.BoardID, e.Seq, e.Reason)
}

// Is matches the sentinel of the reset's reason.
func (e *ResetError) Is(target error) bool {
	switch e.Reason {
	case ReasonHistoryTruncated:
		return target == ErrHistoryTruncated
	case ReasonAhead:
		return target == ErrAhead
	case ReasonAccessRevoked:
		return target == ErrAccessRevoked
	case ReasonBoardDeleted:
		return target == ErrBoardDeleted
	}
	return false
}
