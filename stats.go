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

	// The counters of webhook delivery by this process (Options.Webhooks).

	// WebhookDeliveries counts the deliveries the receivers acknowledged.
	WebhookDeliveries int64
	// WebhookFailures counts the attempts that failed: an answer other
	// than 2xx, no answer in time, or no connection.
	WebhookFailures int64
	// WebhookRetries counts the attempts that repeated a failed one.
	WebhookRetries int64
	// WebhookLag is the most events of its board any webhook delivered
	// here has still to handle.
	WebhookLag int64
}

// Stats returns the Board's counters.
func (b *Board) Stats() Stats {
	s := Stats{EventsAppended: b.feed.appended.Load()}
	if pn, ok := b.notifier.(*pgNotifier); ok {
		pn.addStats(&s)
	}
	b.hooks.addStats(&s)
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
