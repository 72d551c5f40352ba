package taskboard

// Stats are counters of a Board's activity in this process.
type Stats struct {
	// EventsAppended counts the events this process appended to board logs.
	EventsAppended int64
	// Subscriptions is the number of open subscriptions.
	Subscriptions int
	// ActiveBoards is the number of boards with at least one subscription.
	ActiveBoards int
}

// Stats returns the Board's counters.
func (b *Board) Stats() Stats {
	s := Stats{EventsAppended: b.feed.appended.Load()}
	b.feed.mu.Lock()
	defer b.feed.mu.Unlock()
	s.ActiveBoards = len(b.feed.hubs)
	for _, h := range b.feed.hubs {
		h.mu.Lock()
		s.Subscriptions += len(h.subs)
		h.mu.Unlock()
	}
	return s
}
