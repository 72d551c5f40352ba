package taskboard

// HoldNotifications makes b stop announcing its logged changes to the other
// instances, as an instance that dies right after its commits would; the
// other instances' periodic check must still deliver them.
func HoldNotifications(b *Board) {
	if pn, ok := b.notifier.(*pgNotifier); ok {
		pn.held.Store(true)
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
