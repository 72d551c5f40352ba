package taskboard

import "time"

// Stats are counters of a Board's activity in this process.
type Stats struct {
	// EventsAppended counts the events this process appended to board logs.
	EventsAppended int64
	// Subscriptions is the number of open subscriptions.
	Subscriptions int
	// ActiveBoards is the number of boards with at least one subscription.
	ActiveBoards int

	// The counters of the listener through which the Board hears the other
	// instances sharing its PostgreSQL database. They stay zero on SQLite.

	// ListenerReconnects counts the times the listener lost its connection,
	// or failed to get one, and tried again.
	ListenerReconnects int64
	// NotificationsReceived counts the notifications received from other
	// instances.
	NotificationsReceived int64
	// NotificationLag is the summed delay from another instance's
	// notification to its receipt here; divided by NotificationsReceived,
	// the mean delay.
	NotificationLag time.Duration
}

// Stats returns the Board's counters.
func (b *Board) Stats() Stats {
	s := Stats{EventsAppended: b.feed.appended.Load()}
	if pn, ok := b.notifier.(*pgNotifier); ok {
		pn.addStats(&s)
	}
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
