package taskboard

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// PresenceEntry is a user present on a board: the count of their
// connections following it and when the first one began.
type PresenceEntry struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Connections int       `json:"connections"`
	Since       time.Time `json:"since"`
}

// Presence records which users follow which boards, by connection. A user is
// present on a board while at least one of their connections follows it,
// and for a grace period after the last one leaves, so that a reconnect
// neither leaves nor joins. Implementations are safe for concurrent use.
// Board.NewPresence returns one kept in memory on SQLite, where one
// instance serves the database, and one shared through the database on
// PostgreSQL, which spans instances.
type Presence interface {
	// Join records that connection connID of user follows boardID. It
	// reports whether the user became present: they had no connection on
	// the board and were not within the grace period of their last one.
	Join(ctx context.Context, boardID string, user User, connID string) (bool, error)
	// Leave records that connection connID of userID no longer follows
	// boardID. When it was the user's last connection there, the user
	// leaves once the grace period passes without a new one.
	Leave(ctx context.Context, boardID, userID, connID string) error
	// List returns the users present on boardID, earliest first.
	List(ctx context.Context, boardID string) ([]PresenceEntry, error)
	// Close stops the presence's background work; Join then returns
	// ErrClosed.
	Close()
}

// memoryPresence is the in-memory Presence of a single instance.
type memoryPresence struct {
	grace time.Duration
	left  func(boardID string, user User)

	wg     sync.WaitGroup // running left callbacks
	mu     sync.Mutex
	closed bool
	boards map[string]map[string]*presentUser
}

// presentUser is a user present on one board.
type presentUser struct {
	user  User
	conns map[string]struct{}
	since time.Time
	timer *time.Timer // the pending leave, during the grace period
	gen   uint64      // invalidates a leave whose timer already fired
}

// newMemoryPresence returns an empty in-memory Presence. A user whose last
// connection left grace ago (zero: at once) is removed and reported to left,
// which is called from its own goroutine, never concurrently with Close's
// return.
func newMemoryPresence(grace time.Duration, left func(boardID string, user User)) *memoryPresence {
	return &memoryPresence{grace: grace, left: left, boards: make(map[string]map[string]*presentUser)}
}

// Join implements Presence. It returns ErrClosed after Close.
func (p *memoryPresence) Join(_ context.Context, boardID string, user User, connID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, ErrClosed
	}
	users := p.boards[boardID]
	if users == nil {
		users = make(map[string]*presentUser)
		p.boards[boardID] = users
	}
	u := users[user.ID]
	joined := u == nil
	if joined {
		u = &presentUser{conns: make(map[string]struct{}), since: time.Now().UTC()}
		users[user.ID] = u
	}
	u.user = user
	if u.timer != nil {
		u.timer.Stop()
		u.timer = nil
		u.gen++
	}
	u.conns[connID] = struct{}{}
	return joined, nil
}

// Leave implements Presence.
func (p *memoryPresence) Leave(_ context.Context, boardID, userID, connID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.boards[boardID][userID]
	if p.closed || u == nil {
		return nil
	}
	delete(u.conns, connID)
	if len(u.conns) > 0 || u.timer != nil {
		return nil
	}
	u.gen++
	gen := u.gen
	u.timer = time.AfterFunc(p.grace, func() { p.expire(boardID, userID, gen) })
	return nil
}

// expire removes a user whose grace period passed and reports it.
func (p *memoryPresence) expire(boardID, userID string, gen uint64) {
	p.mu.Lock()
	users := p.boards[boardID]
	u := users[userID]
	if p.closed || u == nil || u.gen != gen || len(u.conns) > 0 {
		p.mu.Unlock()
		return
	}
	delete(users, userID)
	if len(users) == 0 {
		delete(p.boards, boardID)
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	if p.left != nil {
		p.left(boardID, u.user)
	}
}

// List implements Presence.
func (p *memoryPresence) List(_ context.Context, boardID string) ([]PresenceEntry, error) {
	p.mu.Lock()
	list := make([]PresenceEntry, 0, len(p.boards[boardID]))
	for _, u := range p.boards[boardID] {
		list = append(list, PresenceEntry{ID: u.user.ID, Name: u.user.Name, Connections: len(u.conns), Since: u.since})
	}
	p.mu.Unlock()
	slices.SortFunc(list, func(a, b PresenceEntry) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return list, nil
}

// Close drops every pending leave and waits for running left callbacks.
// Join then returns ErrClosed. Close is idempotent.
func (p *memoryPresence) Close() {
	p.mu.Lock()
	p.closed = true
	for _, users := range p.boards {
		for _, u := range users {
			if u.timer != nil {
				u.timer.Stop()
			}
		}
	}
	p.boards = make(map[string]map[string]*presentUser)
	p.mu.Unlock()
	p.wg.Wait()
}
