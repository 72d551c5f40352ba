package taskboard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/taskboard/taskboard/internal/seam"
)

// Subscription is a live view of one board's feed, made by Subscribe. Its
// events come on the channel of Events: every logged event after the
// starting point, each once and in seq order, interleaved with ephemeral
// events. When the subscription ends the channel is closed; Err then says
// why, and Last is the point to resume after. One goroutine, or several,
// may read the channel; Close may be called from any goroutine.
type Subscription struct {
	// id names the subscription for the origin of ephemeral events; empty
	// for the channel form, which no event names.
	id      string
	boardID string
	userID  string

	feed  *feed
	limit int
	stop  func() bool
	ready func()
	// c feeds the channel; nil for a push subscription (see seam.Push).
	c *subChannel

	mu    sync.Mutex
	inbox []Event
	// wake is made by the first reader that waits for an event.
	wake chan struct{}
	err  error
	// dropped: the subscription delivers nothing more (Close, its
	// context, a revoked member).
	dropped   bool
	replaying bool
	last      int64 // last seq taken by the reader
	gapSeq    int64 // seq of an event whose gap was read from the log
	page      []Event
	// gone: the board was deleted while the subscription read its log;
	// only its board_deleted is delivered from then on.
	gone bool
	// readOnly is the actor's; role is the user's role on the board as of
	// the board's seq roleSeq, changed by member_updated events as they
	// are published.
	readOnly bool
	role     Role
	roleSeq  int64
}

// subChannel is the channel form of a subscription. Its channel is fed by
// a goroutine, the pump, that runs only while the subscription has
// something for it: whoever moves state from pumpIdle to pumpRunning
// starts it, and a wake-up during a run sets pumpAgain, so that the pump
// looks again before it goes idle. Subscribe is the reader until it hands
// over (pumpRunning is the zero state); pumpDone is final.
type subChannel struct {
	ch chan Event
	// quit is closed when the subscription is dropped: the pump stops
	// offering the event it holds.
	quit chan struct{}
	// ctx bounds the pump's reads of the log; cancel is called by Close
	// and when the pump ends.
	ctx    context.Context
	cancel context.CancelFunc
	state  atomic.Int32
	// sent is the seq of the last logged event sent on ch, or the
	// starting point.
	sent atomic.Int64
	// final is Err's answer, set before ch is closed; guarded by the
	// subscription's mu.
	final error
}

const (
	pumpRunning int32 = iota
	pumpIdle
	pumpAgain
	pumpDone
)

// Subscribe follows a board's feed as actor, starting after seq after: each
// logged event after it, once and in seq order, interleaved with the
// ephemeral events broadcast from then on. A negative after means from
// now: only events after the board's current seq. Subscribe returns
// ErrNotFound unless the actor is a member, and a *ResetError when after
// is older than the retained log (ErrHistoryTruncated) or newer than the
// board's seq (ErrAhead).
//
// The events come on the channel of Events. The channel holds nothing
// itself: the subscription queues up to Options.SubscriberBuffer events
// for a reader that is behind, and while the reader keeps within that no
// event is ever dropped. The subscription ends, and the channel is closed,
// with Err set to:
//   - ErrSlowConsumer when the reader falls further behind; the queued
//     events are delivered first, and a new subscription after Last
//     loses nothing;
//   - a *ResetError with ErrBoardDeleted once the board is deleted: the
//     board_deleted event is the last event delivered (a subscription
//     still reading the log when the board goes gets the events it holds
//     already, then board_deleted);
//   - a *ResetError with ErrAccessRevoked when the actor is removed from
//     the board: nothing more is delivered, whatever was queued, as the
//     member loses access the moment the removal commits;
//   - ErrClosed when the Board is closed: the events queued by then are
//     delivered first; and ErrClosed on Close, which delivers nothing more;
//   - ctx's error when ctx is done, which delivers nothing more;
//   - the error of a read of the log that failed (such as ErrUnavailable),
//     for a subscription that was catching up from the log.
//
// The logged events delivered before the end are a gapless run after the
// starting point (board_deleted aside, which may follow a gap: the log is
// gone with the board), so that Last, once the channel is closed, is the
// point to resume after. A goroutine of the subscription's feeds the
// channel while events are pending, and none runs while the board is
// quiet. It ends once the channel is closed: after the reader has taken
// the queued events, or at once on Close or when ctx is done, read or not.
func (b *Board) Subscribe(ctx context.Context, actor Actor, boardID string, after int64) (*Subscription, error) {
	return b.subscribe(ctx, actor, boardID, after, false)
}

// subscribe is Subscribe; operator follows the board without being a
// member (see FollowAll).
func (b *Board) subscribe(ctx context.Context, actor Actor, boardID string, after int64, operator bool) (*Subscription, error) {
	userID := actor.UserID
	s := &Subscription{
		boardID:   boardID,
		userID:    userID,
		readOnly:  actor.ReadOnly,
		feed:      b.feed,
		limit:     b.opts.SubscriberBuffer,
		replaying: true,
	}
	push := seam.PushFrom[Event](ctx)
	if push != nil {
		if push.ID == "" {
			push.ID = b.feed.idPrefix + strconv.FormatUint(b.feed.nextID.Add(1), 10)
		}
		s.id, s.ready = push.ID, push.Ready
		push.Reader = (*pushReader)(s)
	} else {
		c := &subChannel{ch: make(chan Event), quit: make(chan struct{})}
		c.ctx, c.cancel = context.WithCancel(ctx)
		s.c, s.ready = c, s.kick
	}
	failed := func() {
		if s.c != nil {
			s.c.cancel()
		}
	}
	// Register first: every event published from now on reaches the inbox,
	// and every event committed before is in the log the replay reads.
	if err := b.feed.add(s); err != nil {
		failed()
		return nil, err
	}
	var board *BoardInfo
	var role Role
	var err error
	if operator {
		board, err = anyBoard(ctx, b.db, boardID)
		role = RoleViewer
	} else {
		board, role, err = memberBoard(ctx, b.db, userID, boardID)
	}
	if err == nil {
		s.setRole(role, board.Seq)
		switch {
		case after > board.Seq:
			err = &ResetError{BoardID: boardID, Reason: ReasonAhead, Seq: board.Seq}
		case after >= 0 && after < board.TrimmedSeq:
			err = &ResetError{BoardID: boardID, Reason: ReasonHistoryTruncated, Seq: board.Seq}
		}
	} else {
		err = fmt.Errorf("taskboard: subscribe to board %s: %w", boardID, wrapDBError(err))
	}
	if err != nil {
		b.feed.remove(s)
		failed()
		return nil, err
	}
	if after < 0 {
		after = board.Seq
	}
	b.feed.seen(boardID, board.Seq)
	if s.c != nil {
		s.c.sent.Store(after)
	}
	stop := context.AfterFunc(ctx, func() { s.drop(ctx.Err()) })
	s.mu.Lock()
	s.last = after
	// With nothing to replay, every later event reaches the inbox, which
	// holds at most Options.SubscriberBuffer of them from here on.
	s.replaying = after < board.Seq
	s.stop = stop
	pending := s.replaying || len(s.inbox) > 0 || s.err != nil
	s.mu.Unlock()
	if s.c != nil && (pending || !s.c.state.CompareAndSwap(pumpRunning, pumpIdle)) {
		go s.pump()
	}
	return s, nil
}

// setRole records the user's role as of the board's seq, unless the
// subscription knows a later one.
func (s *Subscription) setRole(role Role, seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq >= s.roleSeq {
		s.role, s.roleSeq = role, seq
	}
}

// MayWrite returns ErrForbidden unless the subscription's actor may change
// the board now: not with a read-only Actor, nor as a viewer. It needs no
// I/O: the role is the one the user had when subscribing, changed by each
// member_updated event the moment its write is published (on other
// instances, when they hear of it), before the event is delivered. A
// program asks it before relaying what only writers may send, such as
// typing indicators.
func (s *Subscription) MayWrite() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		return fmt.Errorf("%w: the credential of user %s may only read", ErrForbidden, s.userID)
	}
	return s.role.allows(RoleEditor, s.userID, s.boardID)
}

// Events returns the channel of the subscription's events, closed when the
// subscription ends (see Subscribe). It is the same channel at each call.
func (s *Subscription) Events() <-chan Event {
	if s.c == nil {
		return nil
	}
	return s.c.ch
}

// Err returns why the subscription ended, once the channel of Events is
// closed: ErrSlowConsumer, a *ResetError (ErrBoardDeleted,
// ErrAccessRevoked, ErrHistoryTruncated), ErrClosed (Close, or the Board
// closed), ctx's error, or a failed read of the log. It returns nil before.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return s.err
	}
	return s.c.final
}

// Last returns the seq of the last logged event delivered on the channel
// of Events, or the starting point (the board's seq when Subscribe, for
// events from now). Once the channel is closed it is the point to resume
// after; before, a reader that just received an event may see it lag.
func (s *Subscription) Last() int64 {
	if s.c != nil {
		return s.c.sent.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Close ends the subscription, unless it ended already, with ErrClosed.
// The events not yet received are dropped, and the channel of Events is
// closed when Close returns. Close is idempotent.
func (s *Subscription) Close() {
	s.drop(ErrClosed)
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if c := s.c; c != nil {
		c.cancel()
		for range c.ch {
			// What the pump still offers is dropped: wait for it to close
			// the channel.
		}
	}
}

// push appends an event to the inbox. It reports whether the push ended
// the subscription (a slow consumer); the caller then calls notify.
func (s *Subscription) push(ev Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || (ev.Seq == 0 && ev.origin == s.id && s.id != "") || (ev.Seq != 0 && ev.Seq <= s.last) {
		return false
	}
	if len(s.inbox) >= s.limit {
		if !s.replaying {
			s.err = ErrSlowConsumer
			s.signal()
			return true
		}
		// Still reading the log: it will supply these events.
		s.inbox = s.inbox[:0]
	}
	s.inbox = append(s.inbox, ev)
	s.signal()
	return false
}

// signal wakes a reader waiting in next; called with s.mu held.
func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// notify calls the Ready function, if any; never with a feed lock held.
func (s *Subscription) notify() {
	if s.ready != nil {
		s.ready()
	}
}

// end stops the subscription with err, unless it ended already; discard
// drops it (see dropLocked). It reports whether this call ended it. The
// caller calls notify once it holds no lock.
func (s *Subscription) end(err error, discard bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false
	}
	s.err = err
	if discard {
		s.dropLocked()
	}
	s.signal()
	return true
}

// drop ends the subscription with err unless it ended already, and drops
// it either way, for Close and the end of its context.
func (s *Subscription) drop(err error) {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = err
		s.signal()
	}
	s.dropLocked()
	s.mu.Unlock()
	if first {
		s.feed.remove(s)
		s.notify()
	}
}

// dropLocked makes the subscription deliver nothing more: the inbox, the
// page read from the log and the event the pump holds are dropped.
func (s *Subscription) dropLocked() {
	if s.dropped {
		return
	}
	s.dropped = true
	s.inbox = nil
	if s.c != nil {
		close(s.c.quit)
	}
}

// kick is the Ready function of the channel form: it starts the pump,
// unless it runs.
func (s *Subscription) kick() {
	c := s.c
	for {
		switch c.state.Load() {
		case pumpIdle:
			if c.state.CompareAndSwap(pumpIdle, pumpRunning) {
				go s.pump()
				return
			}
		case pumpRunning:
			if c.state.CompareAndSwap(pumpRunning, pumpAgain) {
				return
			}
		default:
			return
		}
	}
}

// pump sends the subscription's pending events on its channel, then goes
// idle; or closes the channel when the subscription ended. The caller is
// the reader (state pumpRunning or pumpAgain).
func (s *Subscription) pump() {
	c := s.c
	for {
		ev, err := s.next(c.ctx, false)
		switch {
		case err == nil:
			if s.send(ev) {
				continue
			}
		case err == errPending:
			if c.state.CompareAndSwap(pumpRunning, pumpIdle) {
				return
			}
			c.state.Store(pumpRunning) // a wake-up came during the run
			continue
		default:
			// The end, or a read of the log that failed: that ends the
			// subscription (with ctx's error when that is why).
			if cerr := c.ctx.Err(); cerr != nil {
				err = cerr
			}
			if s.end(err, true) {
				s.feed.remove(s)
			}
		}
		s.finish()
		return
	}
}

// send offers ev on the channel until the reader takes it or the
// subscription is dropped.
func (s *Subscription) send(ev Event) bool {
	c := s.c
	select {
	case <-c.quit:
		return false
	default:
	}
	select {
	case c.ch <- ev:
		if ev.Seq != 0 {
			c.sent.Store(ev.Seq)
		}
		return true
	case <-c.quit:
		return false
	}
}

// finish closes the channel of an ended subscription and releases what
// it held; called by the pump.
func (s *Subscription) finish() {
	c := s.c
	s.mu.Lock()
	c.final = s.err
	stop := s.stop
	s.mu.Unlock()
	c.state.Store(pumpDone)
	if stop != nil {
		stop()
	}
	c.cancel()
	close(c.ch)
}

// errPending is next's answer, when it must not wait, that nothing is at
// hand yet.
var errPending = errors.New("taskboard: no event pending")

const replayPage = 500

// next returns the subscription's next event: from the page read from the
// log, from the log, or from the inbox. When nothing is at hand it waits
// until ctx is done, or returns errPending when wait is false. After the
// subscription ends it returns the error that ended it.
func (s *Subscription) next(ctx context.Context, wait bool) (Event, error) {
	for {
		if ev, ok := s.nextPaged(); ok {
			return ev, nil
		}
		s.mu.Lock()
		if s.mustReadLogLocked() {
			last := s.last
			s.mu.Unlock()
			if err := s.readLog(ctx, last); err != nil {
				return Event{}, err
			}
			continue
		}
		ev, st := s.takeLocked()
		switch st {
		case taken:
			s.mu.Unlock()
			return ev, nil
		case mustReadLog:
			s.mu.Unlock()
			continue
		case truncated:
			ended := s.err != nil
			s.mu.Unlock()
			if ended {
				// Nothing after the gap is delivered any more.
				continue
			}
			// The log no longer has the events before ev: retention
			// removed them, or the board was deleted with its log, and its
			// board_deleted, which the fan-out may not have handed over
			// yet, is the subscription's last event.
			gone, err := s.boardGone(ctx)
			if err != nil {
				return Event{}, err
			}
			if gone {
				s.mu.Lock()
				s.gone = true
				s.replaying = false
				s.mu.Unlock()
				continue
			}
			s.end(&ResetError{BoardID: s.boardID, Reason: ReasonHistoryTruncated, Seq: ev.Seq}, true)
			s.feed.remove(s)
			continue
		}
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return Event{}, err
		}
		if !wait {
			s.mu.Unlock()
			return Event{}, errPending
		}
		if s.wake == nil {
			s.wake = make(chan struct{}, 1)
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// tryNext returns the next event when it is at hand, without waiting and
// without reading the log (see seam.Reader).
func (s *Subscription) tryNext() (ev Event, ok bool) {
	if ev, ok := s.nextPaged(); ok {
		return ev, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mustReadLogLocked() {
		return Event{}, false
	}
	ev, st := s.takeLocked()
	if st == truncated {
		// next ends the subscription: leave the event for it.
		s.inbox = append([]Event{ev}, s.inbox...)
	}
	return ev, st == taken
}

// backlog reports whether the next events must be read from the log.
func (s *Subscription) backlog() bool {
	if len(s.page) > 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mustReadLogLocked() {
		return true
	}
	return len(s.inbox) > 0 && s.inbox[0].Seq > s.last+1 && s.err == nil && !s.gone
}

// mustReadLogLocked reports whether the reader's next events are in the
// log: it is replaying, and neither dropped nor ended otherwise than as a
// slow consumer (which still hands over what it buffered).
func (s *Subscription) mustReadLogLocked() bool {
	return s.replaying && !s.dropped && !s.gone && (s.err == nil || s.err == ErrSlowConsumer)
}

// nextPaged returns the next event of the page read from the log.
func (s *Subscription) nextPaged() (Event, bool) {
	if len(s.page) == 0 {
		return Event{}, false
	}
	s.mu.Lock()
	if s.dropped {
		s.mu.Unlock()
		s.page = nil
		return Event{}, false
	}
	ev := s.page[0]
	s.last = ev.Seq
	if ev.Type == EventMemberUpdated && ev.subject == s.userID && ev.Seq > s.roleSeq {
		// A role change the hub did not see being published (such as one
		// made by another process on SQLite) applies as it is read.
		s.role, s.roleSeq = ev.role, ev.Seq
	}
	s.mu.Unlock()
	s.page = s.page[1:]
	return ev, true
}

// takeState is what takeLocked found at the head of the inbox.
type takeState int

const (
	empty       takeState = iota // nothing to take
	taken                        // the event to return
	mustReadLog                  // a gap: the missing events are in the log
	truncated                    // the log no longer has the missing events
)

// takeLocked takes the next deliverable event of the inbox; called with
// s.mu held.
func (s *Subscription) takeLocked() (Event, takeState) {
	for len(s.inbox) > 0 {
		ev := s.inbox[0]
		s.inbox = s.inbox[1:]
		if len(s.inbox) == 0 {
			s.inbox = nil
		}
		switch {
		case ev.Seq == 0:
			return ev, taken
		case ev.Seq <= s.last:
			continue
		case s.gone && ev.Type == EventBoardDeleted:
			s.last = ev.Seq
			return ev, taken
		case s.gone:
			// Its predecessors went with the board's log.
			continue
		case ev.Seq == s.last+1:
			s.last = ev.Seq
			return ev, taken
		case s.gapSeq == ev.Seq && ev.Type == EventBoardDeleted:
			// The log went with the board: this is its last event.
			s.last = ev.Seq
			return ev, taken
		case s.gapSeq == ev.Seq:
			return ev, truncated
		default:
			// A gap: the missing events are committed; read them.
			s.inbox = append([]Event{ev}, s.inbox...)
			s.replaying = true
			s.gapSeq = ev.Seq
			return Event{}, mustReadLog
		}
	}
	return Event{}, empty
}

// readLog reads the next page of the log into s.page, leaving replay mode
// when the log has nothing more.
func (s *Subscription) readLog(ctx context.Context, last int64) error {
	events, err := s.feed.b.readLog(ctx, s.boardID, last, replayPage)
	if err != nil {
		return fmt.Errorf("taskboard: replay board %s: %w", s.boardID, err)
	}
	if len(events) > 0 && events[0].Seq != last+1 {
		seq := events[len(events)-1].Seq
		s.end(&ResetError{BoardID: s.boardID, Reason: ReasonHistoryTruncated, Seq: seq}, true)
		s.feed.remove(s)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	}
	s.page = events
	if len(events) < replayPage {
		s.mu.Lock()
		s.replaying = false
		s.mu.Unlock()
	}
	return nil
}

// boardGone reports whether the subscription's board no longer exists.
func (s *Subscription) boardGone(ctx context.Context) (bool, error) {
	exists, err := s.feed.b.db.NewSelect().Model((*BoardInfo)(nil)).Where("id = ?", s.boardID).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("taskboard: replay board %s: %w", s.boardID, wrapDBError(err))
	}
	return !exists, nil
}

// pushReader is a push subscription's seam.Reader.
type pushReader Subscription

func (r *pushReader) sub() *Subscription { return (*Subscription)(r) }

// Next implements seam.Reader.
func (r *pushReader) Next(ctx context.Context) (Event, error) { return r.sub().next(ctx, true) }

// TryNext implements seam.Reader.
func (r *pushReader) TryNext() (Event, bool) { return r.sub().tryNext() }

// Backlog implements seam.Reader.
func (r *pushReader) Backlog() bool { return r.sub().backlog() }

// Err implements seam.Reader.
func (r *pushReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Last implements seam.Reader.
func (r *pushReader) Last() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Broadcast sends an ephemeral event (presence, typing) to the board's
// subscribers on every instance. Its Seq must be 0.
func (b *Board) Broadcast(ev Event) error {
	if ev.Seq != 0 {
		return errors.New("taskboard: broadcast: ephemeral events have no seq")
	}
	b.feed.broadcast(ev)
	return nil
}
