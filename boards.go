package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// Snapshot is a board's whole state as of Seq: replaying the board's events
// after Seq on top of it gives every later state.
type Snapshot struct {
	Board   BoardInfo `json:"board"`
	Lists   []List    `json:"lists"`
	Tasks   []Task    `json:"tasks"`
	Members []User    `json:"members"`
	Seq     int64     `json:"seq"`
}

// BoardUpdate is a partial update of a board; nil fields stay unchanged.
type BoardUpdate struct {
	Name *string
}

// CreateBoard creates a board with the actor as its first member. It returns
// ErrInvalid for a bad name and ErrNotFound when the actor is no user.
func (b *Board) CreateBoard(ctx context.Context, actor Actor, name string) (*BoardInfo, error) {
	var v validator
	v.length("name", name, 1, MaxNameLength)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := actor.mayWrite(); err != nil {
		return nil, fmt.Errorf("taskboard: create board: %w", err)
	}
	board := &BoardInfo{ID: newID(), Name: name, CreatedAt: now()}
	seam.SetTxResult(ctx, board)
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		if err := requireUser(ctx, tx, actor.UserID); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(board).Exec(ctx); err != nil {
			return fmt.Errorf("insert board: %w", err)
		}
		m := &Member{BoardID: board.ID, UserID: actor.UserID, CreatedAt: board.CreatedAt}
		if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: create board: %w", err)
	}
	return board, nil
}

// Boards returns the boards the actor is a member of, oldest first.
func (b *Board) Boards(ctx context.Context, actor Actor) ([]BoardInfo, error) {
	if hasNUL(actor.UserID) {
		return []BoardInfo{}, nil
	}
	boards := []BoardInfo{}
	err := b.db.NewSelect().Model(&boards).
		Where("id IN (SELECT board_id FROM board_members WHERE user_id = ?)", actor.UserID).
		OrderExpr("created_at, id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("taskboard: list boards: %w", wrapDBError(err))
	}
	return boards, nil
}

// BoardInfo returns a board the actor is a member of, or ErrNotFound.
func (b *Board) BoardInfo(ctx context.Context, actor Actor, boardID string) (*BoardInfo, error) {
	board, err := visibleBoard(ctx, b.db, actor.UserID, boardID)
	if err != nil {
		return nil, fmt.Errorf("taskboard: board %s: %w", boardID, wrapDBError(err))
	}
	return board, nil
}

// visibleBoard loads a board if userID is a member, else returns
// notFound("Board").
func visibleBoard(ctx context.Context, db bun.IDB, userID, boardID string) (*BoardInfo, error) {
	if hasNUL(userID, boardID) {
		return nil, notFound("Board")
	}
	board := new(BoardInfo)
	err := db.NewSelect().Model(board).
		Where("id = ?", boardID).
		Where("EXISTS (SELECT 1 FROM board_members m WHERE m.board_id = board_info.id AND m.user_id = ?)", userID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Board")
	}
	return board, err
}

// Snapshot returns the board with its lists, tasks and members, consistent as
// of the returned Seq. It returns ErrNotFound unless the actor is a member.
func (b *Board) Snapshot(ctx context.Context, actor Actor, boardID string) (*Snapshot, error) {
	s := &Snapshot{Lists: []List{}, Tasks: []Task{}, Members: []User{}}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		board, err := visibleBoard(ctx, tx, actor.UserID, boardID)
		if err != nil {
			return err
		}
		s.Board, s.Seq = *board, board.Seq
		if err := tx.NewSelect().Model(&s.Lists).Where("board_id = ?", boardID).Order("rank").Scan(ctx); err != nil {
			return err
		}
		numberLists(s.Lists)
		if err := selectBoardTasks(ctx, tx, boardID, &s.Tasks); err != nil {
			return err
		}
		return tx.NewSelect().Model(&s.Members).
			Where("id IN (SELECT user_id FROM board_members WHERE board_id = ?)", boardID).
			OrderExpr("name, id").Scan(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: snapshot of board %s: %w", boardID, err)
	}
	return s, nil
}

// selectBoardTasks loads a board's tasks by list position, then task position.
func selectBoardTasks(ctx context.Context, db bun.IDB, boardID string, tasks *[]Task) error {
	if err := db.NewSelect().Model(tasks).
		Join("JOIN lists AS l ON l.id = task.list_id").
		Where("task.board_id = ?", boardID).
		OrderExpr("l.rank, l.id, task.rank").Scan(ctx); err != nil {
		return err
	}
	numberTasks(*tasks)
	return nil
}

// Tasks returns a board's tasks by list position, then task position, and
// the board's seq they are consistent with. It returns ErrNotFound unless
// the actor is a member.
func (b *Board) Tasks(ctx context.Context, actor Actor, boardID string) ([]Task, int64, error) {
	if hasNUL(actor.UserID, boardID) {
		return nil, 0, fmt.Errorf("taskboard: tasks of board %q: %w", boardID, notFound("Board"))
	}
	// One statement reads one snapshot: the tasks, the seq and the
	// membership together.
	var rows []struct {
		Task     `bun:",extend"`
		BoardSeq int64 `bun:"board_seq,scanonly"`
	}
	err := b.db.NewSelect().Model(&rows).
		ColumnExpr("task.*").
		ColumnExpr("b.seq AS board_seq").
		Join("JOIN lists AS l ON l.id = task.list_id").
		Join("JOIN boards AS b ON b.id = task.board_id").
		Where("task.board_id = ?", boardID).
		Where("EXISTS (SELECT 1 FROM board_members AS m WHERE m.board_id = task.board_id AND m.user_id = ?)", actor.UserID).
		OrderExpr("l.rank, l.id, task.rank").Scan(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("taskboard: tasks of board %s: %w", boardID, wrapDBError(err))
	}
	if len(rows) == 0 {
		// No tasks, or no board the actor can see.
		board, err := b.BoardInfo(ctx, actor, boardID)
		if err != nil {
			return nil, 0, err
		}
		return []Task{}, board.Seq, nil
	}
	tasks := make([]Task, len(rows))
	for i := range rows {
		tasks[i] = rows[i].Task
	}
	numberTasks(tasks)
	return tasks, rows[0].BoardSeq, nil
}

// BoardSeq returns the board's current seq, or ErrNotFound unless the actor
// is a member.
func (b *Board) BoardSeq(ctx context.Context, actor Actor, boardID string) (int64, error) {
	board, err := b.BoardInfo(ctx, actor, boardID)
	if err != nil {
		return 0, err
	}
	return board.Seq, nil
}

// UpdateBoard renames a board and logs board_updated. It returns ErrNotFound
// unless the actor is a member, and ErrInvalid for a bad name.
func (b *Board) UpdateBoard(ctx context.Context, actor Actor, boardID string, u BoardUpdate) (*BoardInfo, error) {
	var v validator
	if u.Name != nil {
		v.length("name", *u.Name, 1, MaxNameLength)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var out BoardInfo
	seam.SetTxResult(ctx, &out)
	err := b.change(ctx, actor, boardID, "Board", func(c *change) error {
		if u.Name == nil || *u.Name == c.board.Name {
			out = c.board
			return nil
		}
		c.board.Name = *u.Name
		if _, err := c.tx.NewUpdate().Model((*BoardInfo)(nil)).Set("name = ?", *u.Name).Where("id = ?", boardID).Exec(ctx); err != nil {
			return fmt.Errorf("rename board: %w", err)
		}
		if err := c.emit(ctx, Envelope{Type: EventBoardUpdated, Board: &c.board}); err != nil {
			return err
		}
		out = c.board
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: update board %s: %w", boardID, err)
	}
	return &out, nil
}

// DeleteBoard deletes a board with its lists, tasks, members and log. Its
// subscribers receive board_deleted (the board's last event) and their
// subscriptions end with ErrBoardDeleted. It returns ErrNotFound unless
// the actor is a member.
func (b *Board) DeleteBoard(ctx context.Context, actor Actor, boardID string) error {
	err := b.change(ctx, actor, boardID, "Board", func(c *change) error {
		c.notLogged = true
		board := c.board
		if err := c.emit(ctx, Envelope{Type: EventBoardDeleted, Board: &board}); err != nil {
			return err
		}
		// Children first: SQLite's cascades are correct but slow on large
		// boards without them, and the order keeps foreign keys satisfied.
		for _, q := range []*bun.DeleteQuery{
			c.tx.NewDelete().Model((*eventRecord)(nil)).Where("board_id = ?", boardID),
			c.tx.NewDelete().Model((*Task)(nil)).Where("board_id = ?", boardID),
			c.tx.NewDelete().Model((*List)(nil)).Where("board_id = ?", boardID),
			c.tx.NewDelete().Model((*Member)(nil)).Where("board_id = ?", boardID),
			c.tx.NewDelete().Model((*BoardInfo)(nil)).Where("id = ?", boardID),
		} {
			if _, err := q.Exec(ctx); err != nil {
				return fmt.Errorf("delete board: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("taskboard: delete board %s: %w", boardID, err)
	}
	return nil
}

// Members returns the users who are members of a board, by name. It returns
// ErrNotFound unless the actor is a member.
func (b *Board) Members(ctx context.Context, actor Actor, boardID string) ([]User, error) {
	users := []User{}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		if _, err := visibleBoard(ctx, tx, actor.UserID, boardID); err != nil {
			return err
		}
		return tx.NewSelect().Model(&users).
			Where("id IN (SELECT user_id FROM board_members WHERE board_id = ?)", boardID).
			OrderExpr("name, id").Scan(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: members of board %s: %w", boardID, err)
	}
	return users, nil
}

// IsMember reports whether userID is a member of boardID.
func (b *Board) IsMember(ctx context.Context, userID, boardID string) (bool, error) {
	ok, err := isMember(ctx, b.db, boardID, userID)
	return ok, wrapDBError(err)
}

// MemberRef names the user to add to a board: by ID, else by email.
type MemberRef struct {
	UserID string
	Email  string
}

// AddMember adds a user to a board and logs member_added. It reports
// whether the user was added (false: already a member, nothing changed).
// It returns ErrNotFound when the board is not visible to the actor ("Board")
// or the user does not exist ("User"), ErrInvalid when ref names nobody.
func (b *Board) AddMember(ctx context.Context, actor Actor, boardID string, ref MemberRef) (*Member, bool, error) {
	if ref.UserID == "" && ref.Email == "" {
		return nil, false, &ValidationError{Fields: []FieldError{{Path: []string{"userId"}, Message: "userId or email is required"}}}
	}
	var m Member
	added := false
	seam.SetTxResult(ctx, &m, &added)
	err := b.change(ctx, actor, boardID, "Board", func(c *change) error {
		added = false
		if hasNUL(ref.UserID, ref.Email) {
			return notFound("User")
		}
		user := new(User)
		q := c.tx.NewSelect().Model(user)
		if ref.UserID != "" {
			q = q.Where("id = ?", ref.UserID)
		} else {
			q = q.Where("email = ?", ref.Email)
		}
		if err := q.Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("User")
			}
			return err
		}
		m = Member{BoardID: boardID, UserID: user.ID, CreatedAt: c.at}
		if ok, err := isMember(ctx, c.tx, boardID, user.ID); err != nil || ok {
			return err
		}
		if _, err := c.tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		added = true
		return c.emit(ctx, Envelope{Type: EventMemberAdded, UserID: user.ID, User: user})
	})
	if err != nil {
		return nil, false, fmt.Errorf("taskboard: add member to board %s: %w", boardID, err)
	}
	return &m, added, nil
}

// RemoveMember removes a user from a board and logs member_removed; the
// user's subscriptions to the board end at once with ErrAccessRevoked. A
// member may remove themselves. It returns ErrNotFound when the board is not
// visible to the actor ("Board") or userID is not a member ("User"), and
// ErrConflict when userID is the last member.
func (b *Board) RemoveMember(ctx context.Context, actor Actor, boardID, userID string) error {
	err := b.change(ctx, actor, boardID, "Board", func(c *change) error {
		if ok, err := isMember(ctx, c.tx, boardID, userID); err != nil {
			return err
		} else if !ok {
			return notFound("User")
		}
		n, err := c.tx.NewSelect().Model((*Member)(nil)).Where("board_id = ?", boardID).Count(ctx)
		if err != nil {
			return err
		}
		if n <= 1 {
			return fmt.Errorf("%w: cannot remove the last member of a board", ErrConflict)
		}
		if _, err := c.tx.NewDelete().Model((*Member)(nil)).Where("board_id = ? AND user_id = ?", boardID, userID).Exec(ctx); err != nil {
			return fmt.Errorf("delete member: %w", err)
		}
		return c.emit(ctx, Envelope{Type: EventMemberRemoved, UserID: userID})
	})
	if err != nil {
		return fmt.Errorf("taskboard: remove member %s from board %s: %w", userID, boardID, err)
	}
	return nil
}
