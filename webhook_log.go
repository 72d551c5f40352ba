package taskboard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// hookLog reads the boards' logs for this process's webhook workers. The
// workers of one board share what it read: a board with many webhooks
// reads each new event from the database once, not once per webhook.
//
// What a board's workers last read stays good until the board's log grows
// (the feed wakes the workers, and counts the wake here) or hookLogFresh
// has passed, whichever comes first: a wake-up that never came delays an
// event by that long at most, as the workers' idle poll did before.
type hookLog struct {
	b      *Board
	mu     sync.Mutex
	boards map[string]*boardLog
}

// hookLogKeep is how many of a board's latest events are kept for the
// workers still behind; hookLogFresh how long a read is trusted without a
// wake-up.
const (
	hookLogKeep  = 1000
	hookLogFresh = time.Second
)

// boardLog is what the workers of one board last read of its log: the
// events after first up to seq, and the board's seq and trimmed seq then.
type boardLog struct {
	wakes atomic.Uint64 // the board's log grew

	mu             sync.Mutex // one read of the board at a time
	read           bool
	gen            uint64 // wakes when the last read began
	readAt         time.Time
	first, seq     int64
	events         []Event
	boardSeq, trim int64
}

func newHookLog(b *Board) *hookLog {
	return &hookLog{b: b, boards: make(map[string]*boardLog)}
}

func (h *hookLog) board(boardID string) *boardLog {
	h.mu.Lock()
	defer h.mu.Unlock()
	bl := h.boards[boardID]
	if bl == nil {
		bl = new(boardLog)
		h.boards[boardID] = bl
	}
	return bl
}

// woke records that a board's log grew; "" stands for every board's.
func (h *hookLog) woke(boardID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, bl := range h.boards {
		if boardID == "" || id == boardID {
			bl.wakes.Add(1)
		}
	}
}

// forget drops what was read of a board no worker delivers any more.
func (h *hookLog) forget(boardID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.boards, boardID)
}

// after returns the board's seq and trimmed seq and at most webhookPage
// events after cursor, from what the board's workers read or, when that is
// stale or does not reach back to cursor, from the database.
func (h *hookLog) after(ctx context.Context, boardID string, cursor int64) (BoardInfo, []Event, error) {
	bl := h.board(boardID)
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if !bl.read || cursor < bl.first {
		// A worker far behind the others (or the first): it reads for
		// itself, and the first read starts what the others share.
		board, events, err := h.readLog(ctx, boardID, cursor, webhookPage)
		if err == nil && !bl.read {
			bl.read, bl.gen, bl.readAt = true, bl.wakes.Load(), time.Now()
			bl.first, bl.seq, bl.events = cursor, cursor, events
			if len(events) > 0 {
				bl.seq = events[len(events)-1].Seq
			}
			bl.boardSeq, bl.trim = board.Seq, board.TrimmedSeq
		}
		return board, events, err
	}
	fresh := bl.gen == bl.wakes.Load() && time.Since(bl.readAt) < hookLogFresh && bl.seq >= bl.boardSeq
	if !fresh && cursor >= bl.seq {
		gen := bl.wakes.Load()
		board, events, err := h.readLog(ctx, boardID, bl.seq, webhookPage)
		if err != nil {
			return BoardInfo{}, nil, err
		}
		bl.gen, bl.readAt = gen, time.Now()
		bl.boardSeq, bl.trim = board.Seq, board.TrimmedSeq
		if len(events) > 0 {
			bl.events = append(bl.events, events...)
			bl.seq = events[len(events)-1].Seq
			if n := len(bl.events) - hookLogKeep; n > 0 {
				bl.first = bl.events[n-1].Seq
				bl.events = append([]Event(nil), bl.events[n:]...)
			}
		}
	}
	var out []Event
	for _, ev := range bl.events {
		if ev.Seq > cursor {
			out = append(out, ev)
			if len(out) == webhookPage {
				break
			}
		}
	}
	return BoardInfo{ID: boardID, Seq: bl.boardSeq, TrimmedSeq: bl.trim}, out, nil
}

// readLog reads the board's seq and trimmed seq and at most limit events
// after cursor, in one snapshot.
func (h *hookLog) readLog(ctx context.Context, boardID string, cursor, limit int64) (BoardInfo, []Event, error) {
	var board BoardInfo
	var events []Event
	err := h.b.readTx(ctx, func(tx bun.Tx) error {
		if err := tx.NewSelect().Model(&board).Column("seq", "trimmed_seq").Where("id = ?", boardID).Scan(ctx); err != nil {
			return err
		}
		var recs []eventRecord
		if err := tx.NewSelect().Model(&recs).Where("board_id = ? AND seq > ?", boardID, cursor).
			Order("seq").Limit(limit).Scan(ctx); err != nil {
			return err
		}
		for i := range recs {
			events = append(events, eventFromRecord(&recs[i]))
		}
		return nil
	})
	return board, events, err
}
