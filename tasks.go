package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// TaskCreate describes a new task. A nil Position means at the end of the
// list.
type TaskCreate struct {
	ListID      string
	Title       string
	Description *string
	AssigneeID  *string
	Position    *int
}

// Nullable is a field of a partial update that can be cleared: Set says
// whether to change it, and a nil Value clears it.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// TaskUpdate is a partial update of a task; unset fields stay unchanged.
// A non-zero IfVersion makes the write fail with ErrPreconditionFailed
// unless the task's version equals it.
type TaskUpdate struct {
	Title       *string
	Description Nullable[string]
	AssigneeID  Nullable[string]
	IfVersion   int64
}

// TaskMove moves a task to Position in ListID (splice; nil or past the end
// means last). A non-zero IfVersion makes the move fail with
// ErrPreconditionFailed unless the task's version equals it.
type TaskMove struct {
	ListID    string
	Position  *int
	IfVersion int64
}

// TaskDelete is the condition of a task's deletion: a non-zero IfVersion
// makes it fail with ErrPreconditionFailed unless the task's version
// equals it.
type TaskDelete struct {
	IfVersion int64
}

// From is where a moved task or list was before the move.
type From struct {
	ListID   string `json:"list_id,omitempty"`
	Position int    `json:"position"`
}

// Task returns a task on a board the actor is a member of, or ErrNotFound.
func (b *Board) Task(ctx context.Context, actor Actor, taskID string) (*Task, error) {
	if hasNUL(actor.UserID, taskID) {
		return nil, fmt.Errorf("taskboard: task %q: %w", taskID, notFound("Task"))
	}
	// One statement: the task and its position read in one snapshot.
	var row struct {
		Task     `bun:",extend"`
		Position int `bun:"pos,scanonly"`
	}
	err := b.db.NewSelect().Model(&row).
		ColumnExpr("task.*").
		ColumnExpr("(SELECT COUNT(*) FROM tasks AS s WHERE s.list_id = task.list_id AND s.rank < task.rank) AS pos").
		Where("task.id = ?", taskID).
		Where("EXISTS (SELECT 1 FROM board_members m WHERE m.board_id = task.board_id AND m.user_id = ?)", actor.UserID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("taskboard: task %s: %w", taskID, notFound("Task"))
	}
	if err != nil {
		return nil, fmt.Errorf("taskboard: task %s: %w", taskID, wrapDBError(err))
	}
	t := &row.Task
	t.Position = row.Position
	return t, nil
}

func validateTaskText(v *validator, title *string, description *string) {
	if title != nil {
		v.length("title", *title, 1, MaxTitleLength)
	}
	if description != nil {
		v.length("description", *description, 0, MaxDescriptionLength)
	}
}

// checkAssignee returns ErrInvalid unless userID is a member of the board.
func checkAssignee(ctx context.Context, c *change, userID *string) error {
	if userID == nil {
		return nil
	}
	ok, err := isMember(ctx, c.tx, c.board.ID, *userID)
	if err != nil {
		return err
	}
	if !ok {
		return invalid("assigneeId", "must be a member of the board")
	}
	return nil
}

// CreateTask adds a task to a list at Position and logs task_created. It
// returns ErrNotFound ("List") when the list does not exist or the actor may
// not see it, and ErrInvalid for a bad title, description, position or
// assignee (who must be a member of the board).
func (b *Board) CreateTask(ctx context.Context, actor Actor, in TaskCreate) (*Task, error) {
	var v validator
	if in.ListID == "" {
		v.add("listId", "is required")
	}
	validateTaskText(&v, &in.Title, in.Description)
	v.position("position", in.Position)
	if err := v.err(); err != nil {
		return nil, err
	}
	at := now()
	t := &Task{ID: newID(), ListID: in.ListID, Title: in.Title, Description: in.Description,
		AssigneeID: in.AssigneeID, Version: 1, CreatedAt: at, UpdatedAt: at}
	seam.SetTxResult(ctx, t)
	err := b.changeRow(ctx, actor, "lists", in.ListID, "List", func(c *change) error {
		if _, err := lockedList(ctx, c, in.ListID); err != nil {
			return err
		}
		t.BoardID = c.board.ID
		if err := checkAssignee(ctx, c, in.AssigneeID); err != nil {
			return err
		}
		o, err := c.order(ctx, tasksOf(in.ListID))
		if err != nil {
			return err
		}
		n := o.len()
		t.Position = insertAt(in.Position, n)
		t.CreatedAt, t.UpdatedAt = c.at, c.at
		if t.Rank, err = c.place(ctx, tasksOf(in.ListID), o, t.Position, ""); err != nil {
			return err
		}
		if t.Position < n {
			// The tasks after it moved down.
			if err := c.orderChanged(ctx, in.ListID); err != nil {
				return err
			}
		}
		if _, err := c.stmts.exec(ctx, c.tx, "INSERT INTO tasks (id, list_id, board_id, title, description, assignee_id, version, created_at, updated_at, rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			t.ID, t.ListID, t.BoardID, t.Title, t.Description, t.AssigneeID, t.Version, sqlTime(t.CreatedAt), sqlTime(t.UpdatedAt), t.Rank); err != nil {
			return fmt.Errorf("insert task: %w", err)
		}
		o.insert(t.Position, t.Rank)
		return c.emit(ctx, Envelope{Type: EventTaskCreated, Task: t})
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: create task: %w", err)
	}
	if !b.sqlite {
		b.rowBoards.put("tasks", t.ID, t.BoardID)
	}
	return t, nil
}

// UpdateTask changes a task's title, description or assignee and logs
// task_updated. An update that changes nothing logs nothing. It returns
// ErrNotFound, ErrInvalid or ErrPreconditionFailed.
func (b *Board) UpdateTask(ctx context.Context, actor Actor, taskID string, u TaskUpdate) (*Task, error) {
	var v validator
	validateTaskText(&v, u.Title, u.Description.Value)
	if err := v.err(); err != nil {
		return nil, err
	}
	var out *Task
	err := b.changeTask(ctx, actor, taskID, func(c *change, t *Task) error {
		if err := checkVersion("task", u.IfVersion, t.Version); err != nil {
			return err
		}
		out = t
		seam.SetTxResult(ctx, t)
		changed := false
		if u.Title != nil && *u.Title != t.Title {
			t.Title, changed = *u.Title, true
		}
		if u.Description.Set && !equalPtr(u.Description.Value, t.Description) {
			t.Description, changed = u.Description.Value, true
		}
		if u.AssigneeID.Set && !equalPtr(u.AssigneeID.Value, t.AssigneeID) {
			if err := checkAssignee(ctx, c, u.AssigneeID.Value); err != nil {
				return err
			}
			t.AssigneeID, changed = u.AssigneeID.Value, true
		}
		if !changed {
			return nil
		}
		t.Version++
		t.UpdatedAt = c.at
		if _, err := c.tx.NewUpdate().Model(t).Column("title", "description", "assignee_id", "version", "updated_at").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update task: %w", err)
		}
		return c.emit(ctx, Envelope{Type: EventTaskUpdated, Task: t})
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: update task %s: %w", taskID, err)
	}
	return out, nil
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// MoveTask moves a task within its list or to another list of the same
// board and logs task_moved (with where it came from). A move to where the
// task already is changes and logs nothing. It returns ErrNotFound ("Task",
// or "List" for a list that does not exist or is not visible), ErrInvalid
// for a negative position or a list of another board, and
// ErrPreconditionFailed.
func (b *Board) MoveTask(ctx context.Context, actor Actor, taskID string, m TaskMove) (*Task, error) {
	var v validator
	if m.ListID == "" {
		v.add("listId", "is required")
	}
	v.position("position", m.Position)
	if err := v.err(); err != nil {
		return nil, err
	}
	var out *Task
	err := b.changeTask(ctx, actor, taskID, func(c *change, t *Task) error {
		if err := checkVersion("task", m.IfVersion, t.Version); err != nil {
			return err
		}
		out = t
		seam.SetTxResult(ctx, t)
		if m.ListID != t.ListID {
			if err := b.targetList(ctx, c, m.ListID); err != nil {
				return err
			}
		}
		src, err := c.order(ctx, tasksOf(t.ListID))
		if err != nil {
			return err
		}
		dst, err := c.order(ctx, tasksOf(m.ListID))
		if err != nil {
			return err
		}
		from := From{ListID: t.ListID, Position: t.Position}
		n := dst.len()
		if m.ListID == t.ListID {
			n-- // the task leaves its place first
		}
		to := n // past the end: at the end
		if m.Position != nil {
			to = min(*m.Position, n)
		}
		if m.ListID == t.ListID && to == t.Position {
			return nil
		}
		src.remove(t.Position)
		rank, err := c.place(ctx, tasksOf(m.ListID), dst, to, t.ID)
		if err != nil {
			return err
		}
		dst.insert(to, rank)
		// The tasks between the two places moved: in the list it left
		// (unless it was the last) and the one it joined (unless at the
		// end); within one list, those between from and to.
		if t.Position < src.len() || m.ListID == t.ListID {
			if err := c.orderChanged(ctx, t.ListID); err != nil {
				return err
			}
		}
		if m.ListID != t.ListID && to < dst.len()-1 {
			if err := c.orderChanged(ctx, m.ListID); err != nil {
				return err
			}
		}
		t.ListID, t.Position, t.Rank = m.ListID, to, rank
		t.Version++
		t.UpdatedAt = c.at
		if _, err := c.stmts.exec(ctx, c.tx, "UPDATE tasks SET list_id = ?, rank = ?, version = ?, updated_at = ? WHERE id = ?",
			t.ListID, t.Rank, t.Version, sqlTime(t.UpdatedAt), t.ID); err != nil {
			return fmt.Errorf("move task: %w", err)
		}
		return c.emit(ctx, Envelope{Type: EventTaskMoved, Task: t, From: &from})
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: move task %s: %w", taskID, err)
	}
	return out, nil
}

// targetList checks that listID is a list of the change's board; a list of
// another board the actor can see is ErrInvalid, any other is
// notFound("List").
func (b *Board) targetList(ctx context.Context, c *change, listID string) error {
	if hasNUL(listID) {
		return notFound("List")
	}
	var boardID string
	err := c.stmts.scan(ctx, c.tx, "SELECT board_id FROM lists WHERE id = ?", []any{listID}, &boardID)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("List")
	}
	if err != nil {
		return err
	}
	if boardID == c.board.ID {
		return nil
	}
	if ok, err := isMember(ctx, c.tx, boardID, c.actor.UserID); err != nil {
		return err
	} else if !ok {
		return notFound("List")
	}
	return invalid("listId", "must be a list of the task's board")
}

// DeleteTask deletes a task and logs task_deleted with the task as it was.
// It returns ErrNotFound or ErrPreconditionFailed (see TaskDelete).
func (b *Board) DeleteTask(ctx context.Context, actor Actor, taskID string, d TaskDelete) error {
	err := b.changeTask(ctx, actor, taskID, func(c *change, t *Task) error {
		if err := checkVersion("task", d.IfVersion, t.Version); err != nil {
			return err
		}
		if _, err := c.stmts.exec(ctx, c.tx, "DELETE FROM tasks WHERE id = ?", t.ID); err != nil {
			return fmt.Errorf("delete task: %w", err)
		}
		o, err := c.order(ctx, tasksOf(t.ListID))
		if err != nil {
			return err
		}
		o.remove(t.Position)
		if t.Position < o.len() {
			if err := c.orderChanged(ctx, t.ListID); err != nil {
				return err
			}
		}
		return c.emit(ctx, Envelope{Type: EventTaskDeleted, TaskID: t.ID, Task: t})
	})
	if err != nil {
		return fmt.Errorf("taskboard: delete task %s: %w", taskID, err)
	}
	return nil
}

// changeTask runs fn in a change of the task's board with the task loaded.
func (b *Board) changeTask(ctx context.Context, actor Actor, taskID string, fn func(c *change, t *Task) error) error {
	var t *Task
	load := func(ctx context.Context, tx bun.Tx) (string, error) {
		t = new(Task)
		err := b.stmts.scan(ctx, tx, "SELECT * FROM tasks WHERE id = ?", []any{taskID}, t)
		if errors.Is(err, sql.ErrNoRows) {
			return "", notFound("Task")
		}
		return t.BoardID, err
	}
	if b.sqlite {
		// One writer at a time: the task itself names its board.
		tg := target{table: "tasks", rowID: taskID, rowEntity: "Task", resolve: load}
		return b.changeOf(ctx, actor, tg, "Task", func(c *change) error {
			if err := c.placeTask(ctx, t); err != nil {
				return err
			}
			return fn(c, t)
		})
	}
	return b.changeRow(ctx, actor, "tasks", taskID, "Task", func(c *change) error {
		if _, err := load(ctx, c.tx); err != nil {
			return err
		}
		if err := c.placeTask(ctx, t); err != nil {
			return err
		}
		return fn(c, t)
	})
}

// placeTask sets the position of a task loaded in the change.
func (c *change) placeTask(ctx context.Context, t *Task) error {
	o, err := c.order(ctx, tasksOf(t.ListID))
	if err != nil {
		return err
	}
	t.Position, err = o.index(t.Rank)
	return err
}
