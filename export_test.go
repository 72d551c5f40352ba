package taskboard

import (
	"context"
	"time"
)

// HoldNotifications makes b stop announcing its logged changes to the other
// instances, as an instance that dies right after its commits would; the
// other instances' periodic check must still deliver them.
func HoldNotifications(b *Board) {
	if pn, ok := b.notifier.(*pgNotifier); ok {
		pn.held.Store(true)
	}
}

// HoldWrites keeps a SQLite Board's writers from starting a transaction
// until release is called, so that the writes queued meanwhile commit
// together; queued reports how many wait for the next transaction.
func HoldWrites(b *Board) (release func(), queued func() int) {
	b.writeMu.Lock()
	return b.writeMu.Unlock, func() int {
		b.commits.mu.Lock()
		defer b.commits.mu.Unlock()
		return len(b.commits.queue)
	}
}

// SetMaxWebhooksPerBoard raises the number of webhooks a board may have,
// for benchmarks, and returns a function that restores it.
func SetMaxWebhooksPerBoard(n int) (restore func()) {
	old := maxWebhooksPerBoard
	maxWebhooksPerBoard = int64(n)
	return func() { maxWebhooksPerBoard = old }
}

// SetMaxRankLen sets the longest order key writes make before respacing,
// for tests, and returns a function that restores it.
func SetMaxRankLen(n int) (restore func()) {
	old := maxRankLen
	maxRankLen = n
	return func() { maxRankLen = old }
}

// AbandonWebhooks stops b's webhook delivery as a crash would: what was
// delivered since the last write is not written, and the leases stay
// until they expire.
func AbandonWebhooks(b *Board) { b.hooks.abandon() }

// SetImportChunk sets the number of rows one transaction of an import
// writes, for tests, and returns a function that restores it.
func SetImportChunk(n int) (restore func()) {
	old := importChunk
	importChunk = n
	return func() { importChunk = old }
}

// BoardRows counts the rows of the boards, lists and tasks tables, whether
// or not anyone can see them.
func BoardRows(b *Board) (boards, lists, tasks int64, err error) {
	ctx := context.Background()
	for _, c := range []struct {
		table string
		n     *int64
	}{{"boards", &boards}, {"lists", &lists}, {"tasks", &tasks}} {
		n, cerr := b.db.NewSelect().Table(c.table).Count(ctx)
		if cerr != nil {
			return 0, 0, 0, cerr
		}
		*c.n = int64(n)
	}
	return
}

// AbandonedImport writes a document as an import whose process died before
// completing it, having written its last chunk age ago, and returns the
// board's ID.
func AbandonedImport(b *Board, actor Actor, doc *Export, age time.Duration) (string, error) {
	ctx := context.Background()
	p, err := planImport(doc)
	if err != nil {
		return "", err
	}
	if err := b.resolveMembers(ctx, actor, doc, p); err != nil {
		return "", err
	}
	if err := b.writeImportRows(ctx, p); err != nil {
		return "", err
	}
	_, err = b.db.NewRaw("UPDATE settings SET value = ? WHERE key = ?",
		now().Add(-age).Format(time.RFC3339Nano), importMarker(p.board.ID)).Exec(ctx)
	return p.board.ID, err
}

// BoardExists reports whether a board's row exists, whether or not anyone
// can see it.
func BoardExists(b *Board, id string) (bool, error) {
	return b.db.NewSelect().Model((*BoardInfo)(nil)).Where("id = ?", id).Exists(context.Background())
}
