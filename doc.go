// Package taskboard is a store for real-time collaborative task boards:
// boards hold lists, lists hold tasks, and every change to a board is
// appended to that board's event log with a gapless sequence number, so
// that any client can follow a board and resume exactly where it stopped.
//
// # Storage
//
// A Board (the store) runs on bun over SQLite (the embedded default, through
// sqliteshim) or PostgreSQL (pgdialect with pgx). Open takes a DSN; New wraps
// a *bun.DB that a program already has. The schema comes from bun's migrate
// package and is the same on both engines.
//
// # Positions and versions
//
// Positions are 0-based and contiguous: after every operation the tasks of a
// list, and the lists of a board, are at 0..n-1. Inserting or moving to p is
// an array splice; p past the end means at the end. Tasks and lists carry a
// version (1, then +1 per change to that entity), usable as a
// compare-and-set precondition.
//
// # Events
//
// Each mutation appends its event to its board's log in the same
// transaction, with the board's next seq, and wakes subscribers only after
// the commit. Subscribe yields the events after a given seq and then the
// live ones, with no gap, duplicate or reordering, also while writers run
// during the hand-off from the log to live delivery. Ephemeral events
// (presence, typing) travel through the same feed with seq 0 and are never
// logged.
//
// # Concurrency
//
// A Board is safe for concurrent use. Writes to one board are serialised
// (in the process by a lock, across processes by the board's row lock), so
// seqs follow commit order. Publishing never blocks a writer: each
// subscription has a bounded buffer, and a subscriber that falls behind it
// is ended with ErrSlowConsumer; it resubscribes after its last seq and
// loses nothing. A Subscription is read by one goroutine at a time, with
// Next (or C), or without a goroutine of its own: SubscribeOptions.Ready
// tells the reader when to take events with TryNext. It ends when its
// context is done, on Close, on a reset (ErrAccessRevoked, ErrBoardDeleted)
// or when the Board is closed. Board.Close ends every subscription and
// waits for the Board's background work.
//
// # Errors
//
// Errors match the package's sentinels with errors.Is: ErrNotFound (also for
// boards the user is not a member of), ErrInvalid (a *ValidationError naming
// each field), ErrPreconditionFailed, ErrConflict, ErrForbidden (a write by
// a read-only Actor), ErrUnavailable, and for subscriptions ErrSlowConsumer and the reset
// reasons ErrHistoryTruncated, ErrAhead, ErrAccessRevoked and
// ErrBoardDeleted (as a *ResetError with the board's current seq).
//
// Neither database can store the NUL character (U+0000): a text that
// contains it is ErrInvalid, and an ID that contains it names nothing, so
// it is answered like any unknown ID (ErrNotFound, or no result) without
// reaching the database.
//
// A write whose context ends while its commit is on the way returns the
// context's error, and may have committed all the same (the database may
// finish a commit whose answer nobody waits for any more). Before it
// returns, the write waits until the database has settled the transaction
// (on PostgreSQL, by its transaction ID), so what the caller reads next is
// final. Its events still reach every subscriber: the board's feed reads
// them back from the log, and delivers nothing if the write did not commit. A writer that must
// know looks for its mutation id (WithMutationID) among the board's events,
// or reads the entity back.
package taskboard
