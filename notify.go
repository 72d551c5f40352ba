package taskboard

import "context"

// feedSignal is what instances tell each other through a notifier: a
// board's log reaches at least Seq, or an Event that is not in the log (an
// ephemeral event, or board_deleted whose log is gone with the board).
type feedSignal struct {
	BoardID string
	Seq     int64
	Event   *Event
	// Resync, from a notifier that may have missed signals (its connection
	// dropped), asks the feed to catch every followed board up from the log.
	Resync bool
	// Member announces a board created or imported (UserID empty) or a
	// member added to a board (UserID), after the commit: what a feed of
	// every board, or of every board of a user, picks new boards up by.
	Member bool
	UserID string
	// Check, with Resync, is the periodic comparison of the followed
	// boards' seqs with the database; one at a time is enough.
	Check bool
}

// notifier carries signals between the instances that share one database:
// pgNotifier on PostgreSQL, localNotifier on SQLite, whose database only
// one process serves. A notifier must deliver each instance's signals to
// the other instances; it may also deliver them back to their sender,
// which ignores what it already has.
type notifier interface {
	// Start begins delivering received signals to receive, until Close.
	// receive does not block.
	Start(ctx context.Context, receive func(feedSignal)) error
	// Notify sends a signal to the other instances. It is called after the
	// change it announces committed, and must not block for long; it may
	// send the signal later, with others.
	Notify(ctx context.Context, s feedSignal) error
	// Close stops the notifier.
	Close() error
}

// localNotifier is the single-instance notifier: there is nobody to tell.
type localNotifier struct{}

func (localNotifier) Start(context.Context, func(feedSignal)) error { return nil }

func (localNotifier) Notify(context.Context, feedSignal) error { return nil }

func (localNotifier) Close() error { return nil }
