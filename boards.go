package taskboard

import (
	"cmp"
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
	Board   BoardInfo    `json:"board"`
	Lists   []List       `json:"lists"`
	Tasks   []Task       `json:"tasks"`
	Members []MemberUser `json:"members"`
	Seq     int64        `json:"seq"`
}

// BoardUpdate is a partial update of a board; nil fields stay unchanged.
type BoardUpdate struct {
	Name *string
}

// CreateBoard creates a board with the actor as its owner. It returns
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
		m := &Member{BoardID: board.ID, UserID: actor.UserID, Role: RoleOwner, CreatedAt: board.CreatedAt}
		if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: create board: %w", err)
	}
	b.feed.member(board.ID, actor.UserID, 0)
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
	board, _, err := memberBoard(ctx, db, userID, boardID)
	return board, err
}

// memberBoard loads a board and userID's role on it in one statement, or
// returns notFound("Board") unless userID is a member.
func memberBoard(ctx context.Context, db bun.IDB, userID, boardID string) (*BoardInfo, Role, error) {
	if hasNUL(userID, boardID) {
		return nil, "", notFound("Board")
	}
	var row struct {
		BoardInfo `bun:",extend"`
		Role      Role `bun:"member_role,scanonly"`
	}
	err := db.NewSelect().Model(&row).
		ColumnExpr("board_info.*").
		ColumnExpr("m.role AS member_role").
		Join("JOIN board_members AS m ON m.board_id = board_info.id AND m.user_id = ?", userID).
		Where("board_info.id = ?", boardID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", notFound("Board")
	}
	if err != nil {
		return nil, "", err
	}
	return &row.BoardInfo, row.Role, nil
}

// selectMembers loads a board's members with their roles, by name.
func selectMembers(ctx context.Context, db bun.IDB, boardID string, members *[]MemberUser) error {
	return db.NewRaw("SELECT u.id, u.name, u.email, u.created_at, m.role FROM users AS u JOIN board_members AS m ON m.user_id = u.id WHERE m.board_id = ? ORDER BY u.name, u.id", boardID).
		Scan(ctx, members)
}

// Snapshot returns the board with its lists, tasks and members, consistent as
// of the returned Seq. It returns ErrNotFound unless the actor is a member.
func (b *Board) Snapshot(ctx context.Context, actor Actor, boardID string) (*Snapshot, error) {
	return b.snapshot(ctx, boardID, func(tx bun.Tx) (*BoardInfo, error) {
		return visibleBoard(ctx, tx, actor.UserID, boardID)
	})
}

// snapshot reads a board's snapshot in one transaction, the board as load
// finds it.
func (b *Board) snapshot(ctx context.Context, boardID string, load func(tx bun.Tx) (*BoardInfo, error)) (*Snapshot, error) {
	s := &Snapshot{Lists: []List{}, Tasks: []Task{}, Members: []MemberUser{}}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		board, err := load(tx)
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
		return selectMembers(ctx, tx, boardID, &s.Members)
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
// unless the actor is a member, ErrForbidden unless an owner, and ErrInvalid
// for a bad name.
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
	err := b.changeOf(ctx, actor, target{boardID: boardID, need: RoleOwner}, "Board", func(c *change) error {
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
// the actor is a member, and ErrForbidden unless an owner.
func (b *Board) DeleteBoard(ctx context.Context, actor Actor, boardID string) error {
	err := b.changeOf(ctx, actor, target{boardID: boardID, need: RoleOwner}, "Board", func(c *change) error {
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

// Members returns the members of a board with their roles, by name. It
// returns ErrNotFound unless the actor is a member.
func (b *Board) Members(ctx context.Context, actor Actor, boardID string) ([]MemberUser, error) {
	users := []MemberUser{}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		if _, err := visibleBoard(ctx, tx, actor.UserID, boardID); err != nil {
			return err
		}
		return selectMembers(ctx, tx, boardID, &users)
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

// MemberRef names the user to add to a board, by ID, else by email, and
// the role to give them (RoleEditor when empty).
type MemberRef struct {
	UserID string
	Email  string
	Role   Role
}

// AddMember adds a user to a board with ref.Role and logs member_added. It
// reports whether the user was added (false: already a member, nothing
// changed, the role included: roles change through UpdateMember). Only
// owners add members. It returns ErrNotFound when the board is not visible
// to the actor ("Board") or the user does not exist ("User"), ErrForbidden
// unless the actor is an owner, and ErrInvalid when ref names nobody or no
// role.
func (b *Board) AddMember(ctx context.Context, actor Actor, boardID string, ref MemberRef) (*Member, bool, error) {
	if ref.UserID == "" && ref.Email == "" {
		return nil, false, &ValidationError{Fields: []FieldError{{Path: []string{"userId"}, Message: "userId or email is required"}}}
	}
	role := cmp.Or(ref.Role, RoleEditor)
	if err := validRole("role", role); err != nil {
		return nil, false, err
	}
	var m Member
	added := false
	var before int64 // the board's seq before member_added
	seam.SetTxResult(ctx, &m, &added)
	err := b.changeOf(ctx, actor, target{boardID: boardID, need: RoleOwner}, "Board", func(c *change) error {
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
		if old, err := memberOf(ctx, c.tx, boardID, user.ID); err != nil {
			return err
		} else if old != nil {
			m = *old
			return nil
		}
		m = Member{BoardID: boardID, UserID: user.ID, Role: role, CreatedAt: c.at}
		if _, err := c.tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		added = true
		before = c.board.Seq
		return c.emit(ctx, Envelope{Type: EventMemberAdded, UserID: user.ID, Role: role, User: user})
	})
	if err != nil {
		return nil, false, fmt.Errorf("taskboard: add member to board %s: %w", boardID, err)
	}
	if added {
		b.feed.member(boardID, m.UserID, before)
	}
	return &m, added, nil
}

// UpdateMember gives a member of a board another role and logs
// member_updated; the member's subscriptions apply it at once (see
// Subscription.MayWrite). Giving the role the member has changes nothing and
// logs nothing. Only owners change roles. It returns ErrNotFound when the
// board is not visible to the actor ("Board") or userID is not a member
// ("User"), ErrForbidden unless the actor is an owner, ErrInvalid for a bad
// role, and ErrConflict when it would demote the board's last owner.
func (b *Board) UpdateMember(ctx context.Context, actor Actor, boardID, userID string, role Role) (*Member, error) {
	if err := validRole("role", role); err != nil {
		return nil, err
	}
	var m Member
	seam.SetTxResult(ctx, &m)
	err := b.changeOf(ctx, actor, target{boardID: boardID, need: RoleOwner}, "Board", func(c *change) error {
		return c.setRole(ctx, userID, role, false, &m)
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: update member %s of board %s: %w", userID, boardID, err)
	}
	return &m, nil
}

// SetMemberRole makes a user a member of a board with role, or gives a
// member that role, for an operator: no actor is checked, so that an
// operator can bring someone back into a board whose owners are gone. It
// logs member_added or member_updated (with the user as actorId), and
// nothing when the user has that role already. It returns ErrNotFound for
// an unknown board ("Board") or user ("User"), ErrInvalid for a bad role,
// and ErrConflict when it would demote the board's last owner.
func (b *Board) SetMemberRole(ctx context.Context, boardID, userID string, role Role) (*Member, error) {
	if err := validRole("role", role); err != nil {
		return nil, err
	}
	var m Member
	tg := target{boardID: boardID, operator: true}
	err := b.changeOf(ctx, Actor{UserID: userID}, tg, "Board", func(c *change) error {
		return c.setRole(ctx, userID, role, true, &m)
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: set role of user %s on board %s: %w", userID, boardID, err)
	}
	return &m, nil
}

// setRole gives member userID role, adding them when add is set (else a
// non-member is notFound("User")), and stores the membership in m.
func (c *change) setRole(ctx context.Context, userID string, role Role, add bool, m *Member) error {
	old, err := memberOf(ctx, c.tx, c.board.ID, userID)
	if err != nil {
		return err
	}
	if old == nil {
		if !add {
			return notFound("User")
		}
		user := new(User)
		if hasNUL(userID) {
			return notFound("User")
		}
		if err := c.tx.NewSelect().Model(user).Where("id = ?", userID).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("User")
			}
			return err
		}
		*m = Member{BoardID: c.board.ID, UserID: userID, Role: role, CreatedAt: c.at}
		if _, err := c.tx.NewInsert().Model(m).Exec(ctx); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		return c.emit(ctx, Envelope{Type: EventMemberAdded, UserID: userID, Role: role, User: user})
	}
	*m = *old
	if old.Role == role {
		return nil
	}
	if old.Role == RoleOwner {
		if err := c.keepOwner(ctx); err != nil {
			return err
		}
	}
	m.Role = role
	if _, err := c.tx.NewUpdate().Model(m).Column("role").WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("update member: %w", err)
	}
	return c.emit(ctx, Envelope{Type: EventMemberUpdated, UserID: userID, Role: role})
}

// keepOwner returns ErrConflict unless the board has another owner than
// the one about to go.
func (c *change) keepOwner(ctx context.Context) error {
	n, err := c.tx.NewSelect().Model((*Member)(nil)).Where("board_id = ? AND role = ?", c.board.ID, RoleOwner).Count(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return fmt.Errorf("%w: a board keeps at least one owner", ErrConflict)
	}
	return nil
}

// RemoveMember removes a user from a board and logs member_removed; the
// user's subscriptions to the board end at once with ErrAccessRevoked.
// The tasks assigned to the user are unassigned first, each logged as
// task_updated before member_removed. Any member may remove themselves;
// only owners remove others. It returns ErrNotFound when the board is not
// visible to the actor ("Board") or userID is not a member ("User"),
// ErrForbidden when a member who is no owner removes another, and
// ErrConflict when userID is the last member or the last owner.
func (b *Board) RemoveMember(ctx context.Context, actor Actor, boardID, userID string) error {
	tg := target{boardID: boardID, need: RoleViewer}
	err := b.changeOf(ctx, actor, tg, "Board", func(c *change) error {
		if userID != actor.UserID {
			if err := c.role.allows(RoleOwner, actor.UserID, boardID); err != nil {
				return err
			}
		}
		m, err := memberOf(ctx, c.tx, boardID, userID)
		if err != nil {
			return err
		} else if m == nil {
			return notFound("User")
		}
		n, err := c.tx.NewSelect().Model((*Member)(nil)).Where("board_id = ?", boardID).Count(ctx)
		if err != nil {
			return err
		}
		if n <= 1 {
			return fmt.Errorf("%w: cannot remove the last member of a board", ErrConflict)
		}
		if m.Role == RoleOwner {
			if err := c.keepOwner(ctx); err != nil {
				return err
			}
		}
		if err := c.unassign(ctx, userID); err != nil {
			return err
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

// unassign clears userID from the tasks of the board assigned to them,
// each a task update logged as task_updated.
func (c *change) unassign(ctx context.Context, userID string) error {
	var tasks []Task
	if err := c.tx.NewSelect().Model(&tasks).
		Where("board_id = ? AND assignee_id = ?", c.board.ID, userID).
		OrderExpr("id").Scan(ctx); err != nil {
		return fmt.Errorf("load assigned tasks: %w", err)
	}
	for i := range tasks {
		t := &tasks[i]
		if err := c.placeTask(ctx, t); err != nil {
			return err
		}
		t.AssigneeID = nil
		t.Version++
		t.UpdatedAt = c.at
		if _, err := c.tx.NewUpdate().Model(t).Column("assignee_id", "version", "updated_at").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("unassign task: %w", err)
		}
		if err := c.emit(ctx, Envelope{Type: EventTaskUpdated, Task: t}); err != nil {
			return err
		}
	}
	return nil
}

// memberOf loads userID's membership of boardID, or nil.
func memberOf(ctx context.Context, db bun.IDB, boardID, userID string) (*Member, error) {
	if hasNUL(boardID, userID) {
		return nil, nil
	}
	m := new(Member)
	err := db.NewSelect().Model(m).Where("board_id = ? AND user_id = ?", boardID, userID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}
