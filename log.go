package taskboard

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
)

// MaxPage is the most events one EventsAfter call returns.
const MaxPage = 1000

// readLog returns up to limit events of a board after seq after.
func (b *Board) readLog(ctx context.Context, boardID string, after int64, limit int) ([]Event, error) {
	var recs []eventRecord
	err := b.db.NewSelect().Model(&recs).
		Where("board_id = ? AND seq > ?", boardID, after).
		Order("seq").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrapDBError(err)
	}
	events := make([]Event, len(recs))
	for i := range recs {
		events[i] = eventFromRecord(&recs[i])
	}
	return events, nil
}

// Page is a page of a board's log.
type Page struct {
	Events []Event
	// Seq is the seq of the last event returned, else the requested after.
	Seq int64
	// More reports whether the log holds events after Seq.
	More bool
	// BoardSeq is the board's seq when the page was read.
	BoardSeq int64
}

// EventsAfter returns up to limit (at most MaxPage; zero means MaxPage) of a
// board's logged events after seq after, for polling clients. It returns
// ErrNotFound unless the actor is a member, and a *ResetError
// (ErrHistoryTruncated, ErrAhead) when after cannot be resumed from.
func (b *Board) EventsAfter(ctx context.Context, actor Actor, boardID string, after int64, limit int) (*Page, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	p := &Page{Seq: after}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		board, err := visibleBoard(ctx, tx, actor.UserID, boardID)
		if err != nil {
			return err
		}
		p.BoardSeq = board.Seq
		if after > board.Seq {
			return &ResetError{BoardID: boardID, Reason: ReasonAhead, Seq: board.Seq}
		}
		if after < board.TrimmedSeq {
			return &ResetError{BoardID: boardID, Reason: ReasonHistoryTruncated, Seq: board.Seq}
		}
		var recs []eventRecord
		if err := tx.NewSelect().Model(&recs).Where("board_id = ? AND seq > ?", boardID, after).
			Order("seq").Limit(int64(limit)).Scan(ctx); err != nil {
			return err
		}
		p.Events = make([]Event, len(recs))
		for i := range recs {
			p.Events[i] = eventFromRecord(&recs[i])
		}
		if len(recs) > 0 {
			p.Seq = recs[len(recs)-1].Seq
		}
		p.More = p.Seq < board.Seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: events of board %s after %d: %w", boardID, after, err)
	}
	return p, nil
}

// Changes is what changed on a board since a time, in the course's short
// polling form.
type Changes struct {
	Tasks   []Task   // tasks created or changed after the time, and those of reordered lists
	Deleted []string // ids of tasks deleted after the time, also with their list
	Seq     int64    // the board's seq the answer is consistent with
}

// ChangesSince returns the tasks updated after since, with every task of a
// list whose order changed after since (all tasks when since is zero), and
// the ids of the tasks deleted after it, as far as the log retains
// deletions. It returns ErrNotFound unless the actor is a member.
func (b *Board) ChangesSince(ctx context.Context, actor Actor, boardID string, since time.Time) (*Changes, error) {
	c := &Changes{Tasks: []Task{}, Deleted: []string{}}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		board, err := visibleBoard(ctx, tx, actor.UserID, boardID)
		if err != nil {
			return err
		}
		c.Seq = board.Seq
		if since.IsZero() {
			return selectBoardTasks(ctx, tx, boardID, &c.Tasks)
		}
		since = since.UTC()
		// The tasks of every list with a task changed after since, whole,
		// to number them; kept are the changed tasks and every task of a
		// list whose order changed (its tasks' positions may all differ).
		var tasks []Task
		if err := tx.NewSelect().Model(&tasks).
			Join("JOIN lists AS l ON l.id = task.list_id").
			Where("task.board_id = ?", boardID).
			Where("l.order_changed_at > ? OR EXISTS (SELECT 1 FROM tasks AS u WHERE u.list_id = task.list_id AND u.updated_at > ?)", since, since).
			OrderExpr("l.rank, l.id, task.rank").Scan(ctx); err != nil {
			return err
		}
		numberTasks(tasks)
		var reordered []string
		if err := tx.NewSelect().Table("lists").Column("id").
			Where("board_id = ? AND order_changed_at > ?", boardID, since).Scan(ctx, &reordered); err != nil {
			return err
		}
		for _, t := range tasks {
			if t.UpdatedAt.After(since) || slices.Contains(reordered, t.ListID) {
				c.Tasks = append(c.Tasks, t)
			}
		}
		var recs []eventRecord
		if err := tx.NewSelect().Model(&recs).
			Where("board_id = ? AND at > ? AND type IN (?)", boardID, since, bun.In([]string{EventTaskDeleted, EventListDeleted})).
			Order("seq").Scan(ctx); err != nil {
			return err
		}
		for _, r := range recs {
			var env struct {
				TaskID  string   `json:"taskId"`
				TaskIDs []string `json:"taskIds"`
			}
			if err := json.Unmarshal([]byte(r.Data), &env); err != nil {
				return fmt.Errorf("decode event %d: %w", r.Seq, err)
			}
			if env.TaskID != "" {
				c.Deleted = append(c.Deleted, env.TaskID)
			}
			c.Deleted = append(c.Deleted, env.TaskIDs...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: changes of board %s: %w", boardID, err)
	}
	return c, nil
}

// Maintain applies retention to every board's log, keeping at least the
// newest Options.HistoryEvents events and every event younger than
// Options.HistoryAge. It runs in the background every
// Options.MaintenanceInterval.
func (b *Board) Maintain(ctx context.Context) error {
	cutoff := now().Add(-b.opts.HistoryAge)
	var boards []BoardInfo
	if err := b.db.NewSelect().Model(&boards).Column("id", "seq", "trimmed_seq").
		Where("seq - trimmed_seq > ?", b.opts.HistoryEvents).Scan(ctx); err != nil {
		return fmt.Errorf("taskboard: maintain: %w", wrapDBError(err))
	}
	for _, board := range boards {
		if err := b.trim(ctx, board.ID, board.Seq-b.opts.HistoryEvents, cutoff); err != nil {
			return err
		}
	}
	return nil
}

// trim deletes a board's events with seq <= maxSeq that are older than
// cutoff, and records the highest seq deleted.
func (b *Board) trim(ctx context.Context, boardID string, maxSeq int64, cutoff time.Time) error {
	mu := b.boardLock(boardID)
	mu.Lock()
	defer mu.Unlock()
	err := b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var top int64
		if err := tx.NewSelect().Model((*eventRecord)(nil)).ColumnExpr("COALESCE(MAX(seq), 0)").
			Where("board_id = ? AND seq <= ? AND at < ?", boardID, maxSeq, cutoff).Scan(ctx, &top); err != nil {
			return err
		}
		if top == 0 {
			return nil
		}
		if _, err := tx.NewDelete().Model((*eventRecord)(nil)).Where("board_id = ? AND seq <= ?", boardID, top).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*BoardInfo)(nil)).Set("trimmed_seq = ?", top).
			Where("id = ? AND trimmed_seq < ?", boardID, top).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("taskboard: trim log of board %s: %w", boardID, wrapDBError(err))
	}
	return nil
}

func (b *Board) maintainLoop(every time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.closing:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if err := b.Maintain(ctx); err != nil {
				b.opts.Logger.Warn("taskboard: maintenance failed", "err", err)
			}
			cancel()
		}
	}
}
