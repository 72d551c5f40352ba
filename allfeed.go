package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/uptrace/bun"
)

// FeedEvent is one item of an AllBoards feed: a logged event of a board, or
// a reset of one board.
type FeedEvent struct {
	// Event is the logged event (Seq >= 1); zero when Reset is set.
	Event Event
	// Reset, when set, says the board's events cannot go on from the
	// cursor: ErrHistoryTruncated or ErrAhead (the feed goes on with the
	// board from its current seq, Reset.Seq; what lies between is lost to
	// the feed, and a consumer rebuilds the board from a snapshot), or
	// ErrBoardDeleted (the board is gone, and the feed no longer follows
	// it; its board_deleted event came before, unless the board was
	// deleted while nobody followed it).
	Reset *ResetError
}

// BoardID returns the board the item concerns.
func (e FeedEvent) BoardID() string {
	if e.Reset != nil {
		return e.Reset.BoardID
	}
	return e.Event.BoardID
}

// AllBoards is a feed of the logged events of every board, made by
// FollowAll, for programs that serve the store as a whole (forwarders,
// search indexers, audit) rather than as a member. Its items come on the
// channel of Events: each board's events once and in seq order (the boards
// interleave in no set order), and resets of single boards. Boards
// created or imported while it runs are followed from their first event,
// on every instance that shares the database.
type AllBoards struct {
	b      *Board
	ctx    context.Context
	cancel context.CancelFunc
	out    chan FeedEvent
	watch  *boardWatch
	wg     sync.WaitGroup

	mu     sync.Mutex
	cursor map[string]int64 // the seq of the last event delivered per board
	subs   map[string]*Subscription
	err    error
	done   chan struct{}
	// deleted holds the boards reset as deleted, never followed again.
	deleted map[string]bool
	// rescanning: a rescan of the boards runs.
	rescanning bool
}

// FollowAll follows every board's logged events, whoever the members are;
// it is no Actor's and is meant for the program embedding the store, never
// for a user. cursor says where each board resumes: after the seq it maps
// the board to. A nil cursor starts every board from now (its current
// seq). A non-nil cursor, as returned by Cursor, resumes each board it
// names after its seq, and starts every other board, created since it was
// saved, from its first event (an empty map follows everything from the
// start). A board of the cursor that no longer exists gets a reset with
// ErrBoardDeleted, and one whose retained log no longer reaches back to
// its seq one with ErrHistoryTruncated.
//
// The feed ends, and the channel of Events is closed, when ctx is done,
// on Close, or when the Board is closed; Err then says why. A consumer
// that falls behind never loses events: the feed reads them back from the
// log. Each board's events are read through the same fan-out as
// Subscribe's.
func (b *Board) FollowAll(ctx context.Context, cursor map[string]int64) (*AllBoards, error) {
	a := &AllBoards{
		b:       b,
		out:     make(chan FeedEvent),
		cursor:  make(map[string]int64),
		subs:    make(map[string]*Subscription),
		deleted: make(map[string]bool),
		done:    make(chan struct{}),
	}
	a.ctx, a.cancel = context.WithCancel(ctx)
	// Watch first: a board created from now on is announced, and one
	// created before is in the list read below.
	w, err := b.feed.watch(true, a.announce)
	if err != nil {
		a.cancel()
		return nil, err
	}
	a.watch = w
	boards, err := b.allBoards(a.ctx)
	if err != nil {
		b.feed.unwatch(w)
		a.cancel()
		return nil, fmt.Errorf("taskboard: follow all boards: %w", err)
	}
	a.mu.Lock()
	for _, board := range boards {
		after := board.Seq // from now: the seq read with the list
		if cursor != nil {
			after = cursor[board.ID] // 0 for a board the cursor does not name
		}
		a.followLocked(board.ID, after)
	}
	for id, seq := range cursor {
		if _, ok := a.cursor[id]; !ok {
			// Gone while nobody followed it.
			a.cursor[id] = seq
			a.wg.Add(1)
			go a.gone(id, seq)
		}
	}
	a.mu.Unlock()
	go func() {
		select {
		case <-a.ctx.Done():
		case <-b.closing:
			// Also when the feed follows no board yet.
			a.fail(ErrClosed)
		}
		b.feed.unwatch(w)
		a.wg.Wait()
		a.mu.Lock()
		if a.err == nil {
			a.err = a.ctx.Err()
			if errors.Is(a.err, context.Canceled) && ctx.Err() == nil {
				a.err = ErrClosed
			}
		}
		a.mu.Unlock()
		close(a.out)
		close(a.done)
	}()
	return a, nil
}

// allBoards lists every complete board (an unfinished import has no
// member yet).
func (b *Board) allBoards(ctx context.Context) ([]BoardInfo, error) {
	var boards []BoardInfo
	err := b.db.NewSelect().Model(&boards).Column("id", "seq").
		Where("EXISTS (SELECT 1 FROM board_members AS m WHERE m.board_id = board_info.id)").
		Scan(ctx)
	if err != nil {
		return nil, wrapDBError(err)
	}
	return boards, nil
}

// anyBoard loads a board whoever its members are.
func anyBoard(ctx context.Context, db bun.IDB, boardID string) (*BoardInfo, error) {
	if hasNUL(boardID) {
		return nil, notFound("Board")
	}
	board := new(BoardInfo)
	err := db.NewSelect().Model(board).Where("id = ?", boardID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Board")
	}
	if err != nil {
		return nil, err
	}
	return board, nil
}

// announce is the feed's watcher: a board was created, imported, changed
// or got a member. A board the feed does not follow yet is new to it, and
// followed from its first event.
func (a *AllBoards) announce(boardID, _ string, _ int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx.Err() != nil {
		return
	}
	if boardID == "" {
		// Announcements may have been missed: look for new boards.
		if !a.rescanning {
			a.rescanning = true
			a.wg.Add(1)
			go a.rescan()
		}
		return
	}
	if _, ok := a.cursor[boardID]; ok || a.deleted[boardID] {
		return
	}
	a.followLocked(boardID, 0)
}

// rescan follows the boards the feed missed the announcements of.
func (a *AllBoards) rescan() {
	defer a.wg.Done()
	boards, err := a.b.allBoards(a.ctx)
	a.mu.Lock()
	a.rescanning = false
	a.mu.Unlock()
	if err != nil {
		if a.ctx.Err() == nil {
			a.b.opts.Logger.Debug("taskboard: look for new boards", "err", err)
		}
		return
	}
	for _, board := range boards {
		a.announce(board.ID, "", 0)
	}
}

// followLocked starts following a board after seq after. Called with a.mu
// held.
func (a *AllBoards) followLocked(boardID string, after int64) {
	a.cursor[boardID] = after
	a.wg.Add(1)
	go a.run(boardID, after)
}

// gone resets a board of the cursor that no longer exists.
func (a *AllBoards) gone(boardID string, seq int64) {
	defer a.wg.Done()
	a.emitReset(&ResetError{BoardID: boardID, Reason: ReasonBoardDeleted, Seq: seq})
}

// emitReset delivers a reset and, for a deleted board, stops following it.
func (a *AllBoards) emitReset(r *ResetError) bool {
	select {
	case a.out <- FeedEvent{Reset: r}:
	case <-a.ctx.Done():
		return false
	}
	a.mu.Lock()
	if r.Reason == ReasonBoardDeleted {
		delete(a.cursor, r.BoardID)
		a.deleted[r.BoardID] = true
	} else {
		a.cursor[r.BoardID] = r.Seq
	}
	a.mu.Unlock()
	return true
}

// run follows one board until it is deleted or the feed ends: a
// subscription of the board's hub, renewed after a slow consumer and after
// a reset.
func (a *AllBoards) run(boardID string, after int64) {
	defer a.wg.Done()
	for {
		sub, err := a.b.subscribe(a.ctx, Actor{}, boardID, after, true)
		var reset *ResetError
		switch {
		case err == nil:
		case errors.As(err, &reset):
			if !a.emitReset(reset) {
				return
			}
			// The board goes on right after the seq the reset names, so
			// that a write made meanwhile is not missed.
			after = reset.Seq
			continue
		case errors.Is(err, ErrNotFound):
			// Deleted before its subscription started (after seq after, as
			// far as the feed knows).
			a.emitReset(&ResetError{BoardID: boardID, Reason: ReasonBoardDeleted, Seq: max(after, 0)})
			return
		default:
			a.fail(err)
			return
		}
		a.mu.Lock()
		a.subs[boardID] = sub
		if after < 0 {
			a.cursor[boardID] = sub.Last()
		}
		a.mu.Unlock()
		for ev := range sub.Events() {
			if ev.Seq == 0 {
				continue
			}
			select {
			case a.out <- FeedEvent{Event: ev}:
			case <-a.ctx.Done():
				sub.Close()
				return
			}
			a.mu.Lock()
			a.cursor[boardID] = ev.Seq
			a.mu.Unlock()
		}
		after = sub.Last()
		err = sub.Err()
		a.mu.Lock()
		delete(a.subs, boardID)
		a.mu.Unlock()
		switch {
		case errors.Is(err, ErrSlowConsumer):
			continue
		case errors.As(err, &reset):
			if reset.Reason == ReasonBoardDeleted {
				a.emitReset(reset)
				return
			}
			if !a.emitReset(reset) {
				return
			}
			after = reset.Seq
		case a.ctx.Err() != nil:
			return
		default:
			a.fail(err)
			return
		}
	}
}

// fail ends the feed with err.
func (a *AllBoards) fail(err error) {
	a.mu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
	a.cancel()
}

// Events returns the channel of the feed's items, closed when the feed
// ends. It is the same channel at each call.
func (a *AllBoards) Events() <-chan FeedEvent { return a.out }

// Cursor returns, for every board the feed follows, the seq of the last
// event it delivered (or where the board started). It is a copy, for
// FollowAll to resume from. Once the channel of Events is closed it is
// exact; before, a reader that just received an event may see it lag
// (never lead). A consumer that persists what it processed keeps its own
// cursor instead: see the package documentation.
func (a *AllBoards) Cursor() map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.cursor)
}

// Err returns why the feed ended, once the channel of Events is closed:
// ErrClosed (Close, or the Board closed), ctx's error, or a failed read.
func (a *AllBoards) Err() error {
	select {
	case <-a.done:
	default:
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Close ends the feed with ErrClosed; the items not yet received are
// dropped, and the channel of Events is closed when Close returns.
func (a *AllBoards) Close() {
	a.mu.Lock()
	if a.err == nil {
		a.err = ErrClosed
	}
	a.mu.Unlock()
	a.cancel()
	<-a.done
}
