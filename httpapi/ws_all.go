package httpapi

import (
	"context"
	"errors"
	"sort"

	"github.com/taskboard/taskboard"
)

// wsAllBoards is the board id of a join (or leave) of every board of the
// caller.
const wsAllBoards = "*"

// wsAll is a connection's join of every board of its user: it joins the
// boards the user has, then those they are added to, create or import
// while it lasts.
type wsAll struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// joinAll joins every board of the caller (at most maxStreamBoards), each
// after its seq in cursor or else from now, and counts the user present on
// the board presence ("" for none). While the connection is open (until a
// leave of *, or another join of *), each board new to the user is joined
// from its seq and announced with following, or with limit beyond
// maxStreamBoards. The work runs on a goroutine of the connection's, so
// that the reader goes on.
func (c *wsConn) joinAll(cursor map[string]int64, presence string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.all != nil {
		c.all.cancel()
	}
	a := &wsAll{}
	a.ctx, a.cancel = context.WithCancel(c.ctx)
	c.all = a
	c.mu.Unlock()
	c.h.rt.markMulti(c.st)
	if !c.group.Go(func() { c.runAll(a, cursor, presence) }) {
		a.cancel()
	}
}

// leaveAll stops the discovery of a join of * and leaves every board.
func (c *wsConn) leaveAll() {
	c.mu.Lock()
	if c.all != nil {
		c.all.cancel()
		c.all = nil
	}
	boards := make([]*wsBoard, 0, len(c.boards))
	for _, b := range c.boards {
		boards = append(boards, b)
	}
	c.mu.Unlock()
	for _, b := range boards {
		c.unfollow(b)
	}
	c.h.rt.unmarkMulti(c.st)
}

// runAll is the goroutine of a join of *.
func (c *wsConn) runAll(a *wsAll, cursor map[string]int64, presence string) {
	defer a.cancel()
	watch, err := c.h.watchBoards(c.id.User.ID)
	if err != nil {
		c.joinFailed(wsAllBoards, err)
		return
	}
	defer watch.stop()
	ids, err := c.h.callerBoards(a.ctx, c.id.actor())
	if errors.Is(err, errTooManyBoards) {
		c.reply(wsError{Type: "error", Error: "Too many boards", BoardID: wsAllBoards})
		return
	}
	if err != nil {
		if a.ctx.Err() == nil {
			c.joinFailed(wsAllBoards, err)
		}
		return
	}
	if a.ctx.Err() != nil {
		return
	}
	listed := make(map[string]bool, len(ids))
	for _, id := range ids {
		listed[id] = true
		after, ok := cursor[id]
		if !ok {
			after = -1
		}
		c.join(id, after, id == presence)
	}
	// A board of the cursor the caller no longer has (removed, or deleted
	// while away) is reset as access_revoked at the cursor's seq, as on a
	// multi-board SSE stream.
	gone := make([]string, 0)
	for id := range cursor {
		if !listed[id] {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		c.h.rt.countReset(taskboard.ReasonAccessRevoked)
		c.reply(resetMessage{Type: "reset", BoardID: id, Seq: cursor[id], Reason: taskboard.ReasonAccessRevoked})
	}
	for {
		select {
		case <-watch.ready():
			for _, an := range watch.take() {
				c.announced(a, an)
			}
		case <-a.ctx.Done():
			return
		}
	}
}

// announced joins a board new to the caller, announced with following,
// unless the connection already follows it; beyond maxStreamBoards it
// sends limit instead.
func (c *wsConn) announced(a *wsAll, an announcement) {
	c.mu.Lock()
	_, joined := c.boards[an.boardID]
	n := len(c.boards)
	current := c.all == a
	c.mu.Unlock()
	if joined || !current {
		return
	}
	limit := maxStreamBoards
	if max := c.h.opts.MaxSubscriptionsPerConnection; max > 0 && max < limit {
		limit = max
	}
	// An imported board has no user: it is the caller's if they are a
	// member. Beyond the limit, only a member hears of it.
	if (an.userID == "" || n >= limit) && !c.h.isMember(a.ctx, c.id.User.ID, an.boardID) {
		return
	}
	if n >= limit {
		c.reply(boardNotice{Type: "limit", BoardID: an.boardID})
		return
	}
	seq := an.after()
	c.reply(boardNotice{Type: "following", BoardID: an.boardID, Seq: &seq})
	c.join(an.boardID, seq, false)
}
