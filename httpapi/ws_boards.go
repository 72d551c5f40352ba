package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

// wsBoard is a board a connection joined: its subscription and the pusher
// that writes it.
type wsBoard struct {
	c      *wsConn
	id     string
	subID  string
	ctx    context.Context
	cancel context.CancelFunc
	push   atomic.Pointer[pusher]
	once   sync.Once
	// presence says whether the connection counts its user present on
	// the board (join's "presence", default true).
	presence bool

	// req makes the board's subscription a push subscription: its ID,
	// Ready and Reader. Used by the goroutine that starts it, then by the
	// pusher.
	req seam.Push[taskboard.Event]

	// Guarded by wsConn.mu.
	sub       *taskboard.Subscription
	gone      bool
	followed  bool
	present   bool
	typing    *typingState
	typingGen uint64

	// writeMu guards stopped, so that once the board is left none of its
	// frames is written any more.
	writeMu sync.Mutex
	stopped bool
	// batch is used by the board's reader only.
	batch frameBatch
}

// join follows a board after seq after (-1: from now), counting the user
// present on it when presence is true. Joining a board again replaces the
// earlier subscription (and its presence). The subscription starts on a
// goroutine of the board's, which writes the replay, joined and the
// presence list, then hands over to the board's pusher.
func (c *wsConn) join(boardID string, after int64, presence bool) {
	c.leave(boardID)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if max := c.h.opts.MaxSubscriptionsPerConnection; max > 0 && len(c.boards) >= max {
		c.mu.Unlock()
		c.reply(wsError{Type: "error", Error: "Too many subscriptions on this connection", BoardID: boardID})
		return
	}
	c.nextSub++
	b := &wsBoard{c: c, id: boardID, subID: c.connID + "-" + strconv.FormatUint(c.nextSub, 10), presence: presence}
	b.ctx, b.cancel = context.WithCancel(c.ctx)
	c.boards[boardID] = b
	c.mu.Unlock()
	if !c.group.Go(func() { c.start(b, after) }) {
		c.unfollow(b) // the connection is closing
	}
}

// start subscribes a joined board and writes its replay up to the board's
// seq now, joined and the presence list (also to a join without presence:
// it tells who is on the board); then the board's pusher takes over.
func (c *wsConn) start(b *wsBoard, after int64) {
	b.req.ID, b.req.Ready = b.subID, b.ready
	sub, err := c.h.store.Subscribe(seam.WithPush(b.ctx, &b.req), c.id.actor(), b.id, after)
	if err != nil {
		c.mu.Lock()
		gone := b.gone
		b.gone = true
		if c.boards[b.id] == b {
			delete(c.boards, b.id)
		}
		c.mu.Unlock()
		b.cancel()
		if !gone {
			c.joinFailed(b.id, err)
		}
		return
	}
	r := b.req.Reader
	upTo := r.Last()
	if after >= 0 {
		if seq, err := c.h.store.BoardSeq(b.ctx, c.id.actor(), b.id); err == nil && seq > upTo {
			upTo = seq
		}
	}
	c.mu.Lock()
	if b.gone {
		c.mu.Unlock()
		sub.Close()
		return
	}
	b.sub, b.followed = sub, true
	c.h.rt.follow(c.st, b.id)
	c.mu.Unlock()

	p := &pusher{
		sub:   r,
		ctx:   b.ctx,
		emit:  b.emit,
		flush: b.flush,
		wait:  func() error { return c.cw.Wait(b.ctx.Done()) },
		ended: b.ended,
		group: &c.group,
	}
	b.push.Store(p) // this goroutine is its reader, to the catchUp at the end

	for r.Last() < upTo {
		ev, err := r.Next(b.ctx)
		if err != nil {
			if b.flush() == nil {
				b.ended(err)
			}
			return
		}
		b.emit(ev)
		if b.batch.n >= pushMaxBatch {
			if b.flush() != nil || c.cw.Wait(b.ctx.Done()) != nil {
				return
			}
		}
	}
	// The replay is written out before live events count against the
	// connection's backlog.
	if b.flush() != nil || c.cw.Wait(b.ctx.Done()) != nil {
		return
	}
	if b.writeJSON(wsJoined{Type: "joined", BoardID: b.id, Seq: upTo}) != nil {
		return
	}

	c.mu.Lock()
	if b.gone {
		c.mu.Unlock()
		return
	}
	var joined bool
	var joinErr error
	if b.presence {
		joined, joinErr = c.h.rt.presence.Join(b.ctx, b.id, c.id.User, b.subID)
		b.present = joinErr == nil
	}
	c.mu.Unlock()
	if joinErr != nil && b.ctx.Err() == nil {
		c.h.opts.Logger.Warn("presence join", "board", b.id, "user", c.id.User.ID, "err", joinErr)
	}
	if joined {
		c.h.rt.broadcast(taskboard.EventUserJoined, b.id, b.subID, userEvent{
			Type: taskboard.EventUserJoined, BoardID: b.id, User: userRef{ID: c.id.User.ID, Name: c.id.User.Name}})
	}
	users, err := c.h.rt.presence.List(b.ctx, b.id)
	if err != nil {
		if b.ctx.Err() == nil {
			c.h.opts.Logger.Warn("presence list", "board", b.id, "err", err)
		}
		users = []taskboard.PresenceEntry{}
	}
	if b.writeJSON(wsPresence{Type: taskboard.EventPresence, BoardID: b.id, Users: users}) != nil {
		return
	}
	p.catchUp()
}

// joinFailed answers a join that could not subscribe.
func (c *wsConn) joinFailed(boardID string, err error) {
	var reset *taskboard.ResetError
	switch {
	case errors.As(err, &reset):
		c.h.rt.countReset(reset.Reason)
		c.reply(resetMessage{Type: "reset", BoardID: boardID, Seq: reset.Seq, Reason: reset.Reason})
	case errors.Is(err, taskboard.ErrNotFound):
		c.reply(wsError{Type: "error", Error: "Board not found", BoardID: boardID})
	case c.ctx.Err() != nil:
	case errors.Is(err, taskboard.ErrClosed):
		c.requestClose(closeGoingAway)
	case errors.Is(err, taskboard.ErrUnavailable):
		c.h.opts.Logger.Warn("websocket join", "board", boardID, "err", err)
		c.reply(wsError{Type: "error", Error: "Service Unavailable", BoardID: boardID})
	default:
		c.h.opts.Logger.Error("websocket join", "board", boardID, "err", err)
		c.reply(wsError{Type: "error", Error: "Internal Server Error", BoardID: boardID})
	}
}

// leave stops following a board; none of its frames is written after.
func (c *wsConn) leave(boardID string) {
	c.mu.Lock()
	b := c.boards[boardID]
	c.mu.Unlock()
	if b != nil {
		c.unfollow(b)
	}
}

// ready is the subscription's Ready function.
func (b *wsBoard) ready() {
	if p := b.push.Load(); p != nil {
		p.ready()
	}
}

// emit adds a feed event's frame to the batch.
func (b *wsBoard) emit(ev taskboard.Event) {
	if ev.Seq == 0 && ev.Type == taskboard.EventPresence {
		return // presence lists go to joiners directly
	}
	b.batch.add(b.c.h.wsFrames.get(ev, wsEventFrame))
}

// errBoardLeft stops the writes of a board the connection left.
var errBoardLeft = errors.New("httpapi: board left")

// flush writes the batch, unless the board was left.
func (b *wsBoard) flush() error {
	if b.batch.n == 0 {
		return nil
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	n := b.batch.n
	if b.stopped {
		b.batch.reset()
		return errBoardLeft
	}
	err := b.c.cw.Write(b.batch.bytes(), n)
	b.batch.reset()
	if err == nil {
		b.c.h.metrics.deliveredWS.Add(float64(n))
	}
	return err
}

// writeJSON writes a message of the board's own (joined, presence) after
// its batch.
func (b *wsBoard) writeJSON(v any) error {
	if err := b.flush(); err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode websocket message: %w", err)
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	if b.stopped {
		return errBoardLeft
	}
	return b.c.cw.Write(wsTextFrame(data), 0)
}

// ended handles the end of a joined board's subscription.
func (b *wsBoard) ended(err error) {
	c := b.c
	var reset *taskboard.ResetError
	switch {
	case errors.As(err, &reset):
		// The connection leaves the board and stays open.
		c.unfollow(b)
		c.h.rt.countReset(reset.Reason)
		c.reply(resetMessage{Type: "reset", BoardID: b.id, Seq: reset.Seq, Reason: reset.Reason})
	case errors.Is(err, taskboard.ErrSlowConsumer):
		c.slowConsumer()
	case b.ctx.Err() != nil:
		// Left, or the connection is closing.
	case errors.Is(err, taskboard.ErrClosed):
		c.requestClose(closeGoingAway)
	default:
		c.h.opts.Logger.Error("websocket subscription", "board", b.id, "err", err)
		c.requestClose(closeInternal)
	}
}

// unfollow ends a joined board: its writes, subscription, typing indicator
// and presence. It runs once per board, whoever calls it first.
func (c *wsConn) unfollow(b *wsBoard) {
	b.once.Do(func() {
		b.cancel()
		b.writeMu.Lock()
		b.stopped = true
		b.writeMu.Unlock()
		c.mu.Lock()
		b.gone = true
		if c.boards[b.id] == b {
			delete(c.boards, b.id)
		}
		if t := b.typing; t != nil {
			b.typing = nil
			t.timer.Stop()
			c.broadcastTyping(b, taskboard.EventUserStoppedTyping, t.taskID)
		}
		sub, present, followed := b.sub, b.present, b.followed
		c.mu.Unlock()
		if sub != nil {
			sub.Close()
		}
		if present {
			c.h.rt.leave(b.id, c.id.User.ID, b.subID)
		}
		if followed {
			c.h.rt.unfollow(c.st, b.id)
		}
	})
}
