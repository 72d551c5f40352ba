package taskboard

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
