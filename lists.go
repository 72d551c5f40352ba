package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// ListCreate describes a new list. A nil Position means at the end.
type ListCreate struct {
	Name     string
	Position *int
}

// ListUpdate is a partial update of a list; nil fields stay unchanged.
// A non-zero IfVersion makes the write fail with ErrPreconditionFailed
// unless the list's version equals it.
type ListUpdate struct {
	Name      *string
	IfVersion int64
}

// ListMove moves a list to Position among its board's lists (splice; nil
// or past the end means last). A non-zero IfVersion makes the move fail
// with ErrPreconditionFailed unless the list's version equals it.
type ListMove struct {
	Position  *int
	IfVersion int64
}

// ListDelete is the condition of a list's deletion: a non-zero IfVersion
// makes it fail with ErrPreconditionFailed unless the list's version
// equals it.
type ListDelete struct {
	IfVersion int64
}

// boardOf returns the board that holds the row id of table, or
// notFound(entity). A row never moves to another board, so the answer stays
// true for the row's life.
func (b *Board) boardOf(ctx context.Context, table, id, entity string) (string, error) {
	select {
	case <-b.closing:
		return "", ErrClosed
	default:
	}
	if boardID, ok := b.rowBoards.get(table, id); ok {
		return boardID, nil
	}
	var boardID string
	err := b.db.NewSelect().Table(table).Column("board_id").Where("id = ?", id).Scan(ctx, &boardID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound(entity)
	}
	if err == nil {
		b.rowBoards.put(table, id, boardID)
	}
	return boardID, wrapDBError(err)
}

// rowBoards remembers which board holds a task or a list. Rows never move
// to another board, so an entry stays true; once the row is deleted it
// names a board whose write then finds no such row, which is the answer
// (not found) the write gives anyway. It spares a PostgreSQL write the
// query that finds the board lock to take.
type rowBoards struct {
	mu sync.Mutex
	m  map[rowKey]string
}

type rowKey struct{ table, id string }

// maxRowBoards bounds the entries; the map starts over when full.
const maxRowBoards = 100_000

func (r *rowBoards) get(table, id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	boardID, ok := r.m[rowKey{table, id}]
	return boardID, ok
}

func (r *rowBoards) put(table, id, boardID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= maxRowBoards {
		r.m = make(map[rowKey]string)
	}
	r.m[rowKey{table, id}] = boardID
}

// lockedList loads a list inside a change, or notFound("List").
func lockedList(ctx context.Context, c *change, listID string) (*List, error) {
	l := new(List)
	err := c.stmts.scan(ctx, c.tx, "SELECT id, board_id, name, version, rank FROM lists WHERE id = ? AND board_id = ?", []any{listID, c.board.ID}, l)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("List")
	}
	if err != nil {
		return nil, err
	}
	o, err := c.order(ctx, listsOf(c.board.ID))
	if err != nil {
		return nil, err
	}
	l.Position, err = o.index(l.Rank)
	return l, err
}

func checkVersion(entity string, want, have int64) error {
	if want != 0 && want != have {
		return fmt.Errorf("%w: %s is at version %d, not %d", ErrPreconditionFailed, entity, have, want)
	}
	return nil
}

// CreateList adds a list to a board at Position (splice; past the end or nil
// means last) and logs list_created. It returns ErrNotFound unless the actor
// is a member, ErrInvalid for a bad name or position.
func (b *Board) CreateList(ctx context.Context, actor Actor, boardID string, in ListCreate) (*List, error) {
	var v validator
	v.length("name", in.Name, 1, MaxNameLength)
	v.position("position", in.Position)
	if err := v.err(); err != nil {
		return nil, err
	}
	l := &List{ID: newID(), BoardID: boardID, Name: in.Name, Version: 1}
	seam.SetTxResult(ctx, l)
	err := b.change(ctx, actor, boardID, "Board", func(c *change) error {
		o, err := c.order(ctx, listsOf(boardID))
		if err != nil {
			return err
		}
		l.Position = insertAt(in.Position, o.len())
		if l.Rank, err = c.place(ctx, listsOf(boardID), o, l.Position, ""); err != nil {
			return err
		}
		if _, err := c.tx.NewInsert().Model(l).Exec(ctx); err != nil {
			return fmt.Errorf("insert list: %w", err)
		}
		o.insert(l.Position, l.Rank)
		return c.emit(ctx, Envelope{Type: EventListCreated, List: l})
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: create list on board %s: %w", boardID, err)
	}
	if !b.sqlite {
		b.rowBoards.put("lists", l.ID, boardID)
	}
	return l, nil
}

// List returns a list on a board the actor is a member of, or ErrNotFound.
func (b *Board) List(ctx context.Context, actor Actor, listID string) (*List, error) {
	if hasNUL(actor.UserID, listID) {
		return nil, fmt.Errorf("taskboard: list %q: %w", listID, notFound("List"))
	}
	var row struct {
		List     `bun:",extend"`
		Position int `bun:"pos,scanonly"`
	}
	err := b.db.NewSelect().Model(&row).
		ColumnExpr("list.*").
		ColumnExpr("(SELECT COUNT(*) FROM lists AS s WHERE s.board_id = list.board_id AND s.rank < list.rank) AS pos").
		Where("list.id = ?", listID).
		Where("EXISTS (SELECT 1 FROM board_members m WHERE m.board_id = list.board_id AND m.user_id = ?)", actor.UserID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("taskboard: list %s: %w", listID, notFound("List"))
	}
	if err != nil {
		return nil, fmt.Errorf("taskboard: list %s: %w", listID, wrapDBError(err))
	}
	l := &row.List
	l.Position = row.Position
	return l, nil
}

// Lists returns a board's lists by position. It returns ErrNotFound unless
// the actor is a member.
func (b *Board) Lists(ctx context.Context, actor Actor, boardID string) ([]List, error) {
	lists := []List{}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		if _, err := visibleBoard(ctx, tx, actor.UserID, boardID); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&lists).Where("board_id = ?", boardID).Order("rank").Scan(ctx); err != nil {
			return err
		}
		numberLists(lists)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: lists of board %s: %w", boardID, err)
	}
	return lists, nil
}

// UpdateList renames a list and logs list_updated. An update that changes
// nothing logs nothing. It returns ErrNotFound, ErrInvalid or
// ErrPreconditionFailed.
func (b *Board) UpdateList(ctx context.Context, actor Actor, listID string, u ListUpdate) (*List, error) {
	var v validator
	if u.Name != nil {
		v.length("name", *u.Name, 1, MaxNameLength)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var out *List
	err := b.changeList(ctx, actor, listID, func(c *change, l *List) error {
		if err := checkVersion("list", u.IfVersion, l.Version); err != nil {
			return err
		}
		out = l
		seam.SetTxResult(ctx, l)
		if u.Name == nil || *u.Name == l.Name {
			return nil
		}
		l.Name = *u.Name
		l.Version++
		if _, err := c.tx.NewUpdate().Model(l).Column("name", "version").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update list: %w", err)
		}
		return c.emit(ctx, Envelope{Type: EventListUpdated, List: l})
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: update list %s: %w", listID, err)
	}
	return out, nil
}

// MoveList moves a list among its board's lists as m says and logs
// list_moved; a move to where it is changes and logs nothing. It returns
// ErrNotFound, ErrInvalid for a negative position, or
// ErrPreconditionFailed.
func (b *Board) MoveList(ctx context.Context, actor Actor, listID string, m ListMove) (*List, error) {
	var v validator
	v.position("position", m.Position)
	if err := v.err(); err != nil {
		return nil, err
	}
	var out *List
	err := b.changeList(ctx, actor, listID, func(c *change, l *List) error {
		if err := checkVersion("list", m.IfVersion, l.Version); err != nil {
			return err
		}
		out = l
		seam.SetTxResult(ctx, l)
		o, err := c.order(ctx, listsOf(l.BoardID))
		if err != nil {
			return err
		}
		n := o.len()
		to := n - 1
		if m.Position != nil {
			to = min(*m.Position, n-1)
		}
		from := l.Position
		if to == from {
			return nil
		}
		o.remove(from)
		rank, err := c.place(ctx, listsOf(l.BoardID), o, to, l.ID)
		if err != nil {
			return err
		}
		o.insert(to, rank)
		l.Position, l.Rank = to, rank
		l.Version++
		if _, err := c.tx.NewUpdate().Model(l).Column("rank", "version").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("move list: %w", err)
		}
		return c.emit(ctx, Envelope{Type: EventListMoved, List: l, From: &From{Position: from}})
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: move list %s: %w", listID, err)
	}
	return out, nil
}

// DeleteList deletes a list with its tasks and logs list_deleted, whose
// taskIds name the tasks that went with it. It returns ErrNotFound or
// ErrPreconditionFailed (see ListDelete).
func (b *Board) DeleteList(ctx context.Context, actor Actor, listID string, d ListDelete) error {
	err := b.changeList(ctx, actor, listID, func(c *change, l *List) error {
		if err := checkVersion("list", d.IfVersion, l.Version); err != nil {
			return err
		}
		var taskIDs []string
		if err := c.tx.NewSelect().Model((*Task)(nil)).Column("id").Where("list_id = ?", l.ID).Order("rank").Scan(ctx, &taskIDs); err != nil {
			return err
		}
		if taskIDs == nil {
			taskIDs = []string{}
		}
		if _, err := c.tx.NewDelete().Model((*Task)(nil)).Where("list_id = ?", l.ID).Exec(ctx); err != nil {
			return fmt.Errorf("delete tasks: %w", err)
		}
		if _, err := c.tx.NewDelete().Model(l).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("delete list: %w", err)
		}
		c.forget(tasksOf(l.ID))
		o, err := c.order(ctx, listsOf(l.BoardID))
		if err != nil {
			return err
		}
		o.remove(l.Position)
		return c.emit(ctx, Envelope{Type: EventListDeleted, List: l, TaskIDs: taskIDs})
	})
	if err != nil {
		return fmt.Errorf("taskboard: delete list %s: %w", listID, err)
	}
	return nil
}

// changeList runs fn in a change of the list's board with the list loaded.
func (b *Board) changeList(ctx context.Context, actor Actor, listID string, fn func(c *change, l *List) error) error {
	return b.changeRow(ctx, actor, "lists", listID, "List", func(c *change) error {
		l, err := lockedList(ctx, c, listID)
		if err != nil {
			return err
		}
		return fn(c, l)
	})
}
