// Package taskboard is a store for real-time collaborative task boards:
// boards hold lists, lists hold tasks, and every change to a board is
// appended to that board's event log with a gapless sequence number, so
// that any client can follow a board and resume exactly where it stopped.
//
// A program opens the store, acts as its users and follows boards:
//
//	store, err := taskboard.Open(ctx, "boards.db", nil) // or a postgres:// URL
//	...
//	ann, err := store.CreateUser(ctx, taskboard.UserCreate{ID: "ann", Name: "Ann", Email: "ann@example.com"})
//	as := taskboard.Actor{UserID: ann.ID}
//	board, err := store.CreateBoard(ctx, as, "Sprint 12")
//	todo, err := store.CreateList(ctx, as, board.ID, taskboard.ListCreate{Name: "To Do"})
//	task, err := store.CreateTask(ctx, as, taskboard.TaskCreate{ListID: todo.ID, Title: "Write the docs"})
//
// The HTTP API, with its credentials (package auth) and the web page
// (package web), is package httpapi: a thin layer over this one.
//
// # Users and actors
//
// Users are people who can be members of boards. A program with users of
// its own creates them here with its own IDs (CreateUser), or as they first
// come by (ProvisionUser), and finds them by email (UserByEmail). Every
// method that reads or changes a board takes the Actor it acts for: the
// user, who must be a member of the board, and what the credential they
// used allows (a ReadOnly actor's writes fail with ErrForbidden).
//
// # Roles
//
// A member's Role says what they may do on the board: viewers read and
// follow it, editors also change its lists and tasks, owners also rename
// and delete it and manage its members (AddMember, UpdateMember,
// RemoveMember; anyone may remove themselves). The store decides, so every
// transport follows the same rules: a write the role does not allow is
// ErrForbidden and changes nothing, while a board the user is not a member
// of stays ErrNotFound. A board keeps its last owner (ErrConflict).
// Subscription.MayWrite answers by the member's role as it changes.
// SetMemberRole is for operators, with no actor.
//
// # Storage
//
// A Board (the store) runs on bun over SQLite (the embedded default, through
// sqliteshim) or PostgreSQL (pgdialect with pgx). Open takes a DSN; New wraps
// a *bun.DB that a program already has. The schema comes from bun's migrate
// package and is the same on both engines; it also holds the tables of the
// HTTP API's credentials and idempotency records, which belong to packages
// auth and httpapi. Several processes may serve one PostgreSQL database:
// the store tells the others of its changes through LISTEN/NOTIFY, and
// their subscribers get them from the log. The notifications leave after
// the commit, batched (the highest seq of each board written, one
// notification per few milliseconds), so that writers never queue for
// PostgreSQL's global notification lock; and every second each process
// compares the seq of each board it has subscribers for with the database,
// which delivers a change whose notification never came (its process
// stopped right after the commit) within about a second.
//
// # Positions and versions
//
// Positions are 0-based and contiguous: after every operation the tasks of a
// list, and the lists of a board, are at 0..n-1. Inserting or moving to p is
// an array splice; p past the end, or a nil position, means at the end.
// Positions are not stored: each row holds an order key between its
// neighbours' keys, so a create, move or delete writes the row itself (and
// now and then respaces a few neighbours' keys, which no client sees), and
// the position is derived when the row is read or put in an event.
// Tasks and lists carry a version (1, then +1 per change to that entity);
// every update, move and deletion of a task or list takes an IfVersion in
// its input (TaskUpdate, TaskMove, TaskDelete, ListUpdate, ListMove,
// ListDelete), a compare-and-set precondition when it is not zero.
//
// # Events
//
// Each mutation appends its event to its board's log in the same
// transaction, with the board's next seq, and wakes subscribers only after
// the commit. Subscribe yields the events after a given seq and then the
// live ones, with no gap, duplicate or reordering, also while writers run
// during the hand-off from the log to live delivery. Ephemeral events
// (presence, typing) travel through the same feed with seq 0 and are never
// logged. A subscription delivers its events on a channel:
//
//	sub, err := b.Subscribe(ctx, actor, boardID, after)
//	if err != nil {
//		return err
//	}
//	defer sub.Close()
//	for ev := range sub.Events() {
//		// ev.Seq, ev.Type, ev.Data
//	}
//	// sub.Err() says why it ended; resume with Subscribe(..., sub.Last()).
//
// # A feed of every board
//
// FollowAll follows the logged events of every board, whoever its members
// are, for the program embedding the store (a forwarder, a search indexer,
// an audit trail); never on a user's behalf. Boards created or imported
// while it runs, on any instance sharing the database, are followed from
// their first event. Resets concern one board: a board deleted (its
// board_deleted comes first, unless it went while nobody followed it) is no
// longer followed; a board whose retained log no longer reaches the cursor
// goes on from its current seq, and the consumer rebuilds it from a
// snapshot.
//
// Delivery is at least once when the consumer keeps its own durable cursor:
// a map from board ID to the seq of the last event it has processed,
// stored with (or after) the effect of each event, and given to FollowAll
// on start. Events at or below the stored seq of their board are repeats,
// which the consumer drops (the pair board ID and seq identifies an event):
//
//	cursor := load() // map[string]int64; an empty map: everything, from the start
//	feed, err := b.FollowAll(ctx, cursor)
//	if err != nil {
//		return err
//	}
//	defer feed.Close()
//	for it := range feed.Events() {
//		id := it.BoardID()
//		switch {
//		case it.Reset != nil && it.Reset.Reason == taskboard.ReasonBoardDeleted:
//			forget(id)
//			delete(cursor, id)
//		case it.Reset != nil: // the log no longer reaches back: rebuild the board
//			rebuild(id)
//			cursor[id] = it.Reset.Seq
//		case it.Event.Seq <= cursor[id]:
//			continue // seen before a crash
//		default:
//			apply(it.Event)
//			cursor[id] = it.Event.Seq
//		}
//		save(cursor) // after the effect: a crash in between repeats the event
//	}
//	// feed.Err() says why it ended.
//
// A nil cursor starts every board from now. AllBoards.Cursor gives the feed's
// own view, exact once the feed ended.
//
// # Concurrency
//
// A Board is safe for concurrent use. Writes to one board are serialised
// (in the process by a lock, across processes by the board's row lock), so
// seqs follow commit order. Publishing never blocks a writer: each
// subscription queues at most Options.SubscriberBuffer events for a reader
// that is behind, and a reader that falls further behind is ended with
// ErrSlowConsumer; it resubscribes after Last and loses nothing. While the
// reader keeps up, no event is dropped.
//
// A Subscription's channel (Events) is owned by the subscription, which
// closes it exactly once, when the subscription ends; Err then says why:
//   - ErrSlowConsumer, after the events it had queued;
//   - a *ResetError: ErrBoardDeleted after the board_deleted event, or
//     ErrAccessRevoked, at once, when the actor is removed from the board
//     (nothing queued is delivered after the removal commits);
//   - ErrClosed when the Board is closed, after the events queued by then,
//     or at once on Close;
//   - the context's error, at once, when the context given to Subscribe is
//     done.
//
// "After the events queued" holds as long as the reader reads them: a
// goroutine of the subscription offers them one at a time, and runs only
// while events are pending. It ends once the channel is closed, which Close
// and the end of the context bring about whether or not the reader still
// reads; Close returns when the channel is closed. Board.Close ends every
// subscription and waits for the Board's background work.
//
// # Webhooks
//
// A board's webhooks (CreateWebhook) receive its logged events as signed
// HTTP POSTs (package webhook signs and verifies them), each webhook in
// seq order and at least once, from a cursor kept in the database. A Board
// opened with Options.Webhooks delivers them: each webhook by one of the
// instances sharing the database at a time, which holds a lease on it,
// renewed while it delivers; another instance takes over when the lease
// ends. A Board without it (a program of the command line) manages webhooks
// but never delivers them.
//
// # Errors
//
// Errors match the package's sentinels with errors.Is: ErrNotFound (also for
// boards the user is not a member of), ErrInvalid (a *ValidationError naming
// each field), ErrPreconditionFailed, ErrConflict, ErrForbidden (a write by
// a read-only Actor, or one the member's role does not allow), ErrUnavailable, ErrClosed, and for subscriptions
// ErrSlowConsumer and the reset reasons ErrHistoryTruncated, ErrAhead,
// ErrAccessRevoked and ErrBoardDeleted (as a *ResetError with the board's
// current seq).
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
// them back from the log, and delivers nothing if the write did not commit.
// A writer that must know looks for its mutation id (WithMutationID) among
// the board's events, or reads the entity back.
//
// On SQLite, which takes one writer at a time, a Board runs its writes on
// one goroutine and commits the writes that queued up meanwhile in one
// transaction, each answered alone: a write that fails changes nothing and
// does not fail the others. A write whose context ends while it waits its
// turn is not run and returns the context's error; once it has started, it
// runs to its end whatever its context does.
package taskboard
