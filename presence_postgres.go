package taskboard

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// Presence timing of pgPresence.
const (
	// presenceHeartbeat is how often an instance tells the others it lives.
	presenceHeartbeat = 5 * time.Second
	// presenceDeadAfter is how long without a heartbeat makes an instance
	// dead: its users leave.
	presenceDeadAfter = 15 * time.Second
)

// NewPresence returns the presence that suits the store: shared through the
// database on PostgreSQL, so that several instances count as one, and in
// memory on SQLite. left is called, from the presence's own goroutine, when
// a user's last connection has been gone for grace.
func (b *Board) NewPresence(grace time.Duration, left func(boardID string, user User)) Presence {
	if b.sqlite {
		return newMemoryPresence(grace, left)
	}
	return newPGPresence(b, grace, left)
}

// pgPresence is a Presence shared by every instance over one
// PostgreSQL database. Each connection is a row tagged with its instance;
// instances heartbeat, and the users of an instance that stops
// heartbeating leave within presenceDeadAfter plus one sweep. A user whose
// last connection closes stays listed, with zero connections, for the grace
// period; whichever instance sweeps first announces the leave, once.
type pgPresence struct {
	b        *Board
	instance string
	grace    time.Duration
	left     func(boardID string, user User)
	sweep    time.Duration

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type presenceConn struct {
	bun.BaseModel `bun:"table:presence_connections"`

	BoardID    string    `bun:"board_id,pk"`
	UserID     string    `bun:"user_id,pk"`
	UserName   string    `bun:"user_name,notnull"`
	InstanceID string    `bun:"instance_id,pk"`
	ConnID     string    `bun:"conn_id,pk"`
	Since      time.Time `bun:"since,notnull"`
}

type presenceGrace struct {
	bun.BaseModel `bun:"table:presence_grace"`

	BoardID  string    `bun:"board_id,pk"`
	UserID   string    `bun:"user_id,pk"`
	UserName string    `bun:"user_name,notnull"`
	Since    time.Time `bun:"since,notnull"`
	Until    time.Time `bun:"until,notnull"`
}

type presenceInstance struct {
	bun.BaseModel `bun:"table:presence_instances"`

	ID          string    `bun:"id,pk"`
	HeartbeatAt time.Time `bun:"heartbeat_at,notnull"`
}

// newPGPresence starts a shared presence over b, which must run on
// PostgreSQL. Close stops it and removes this instance's connections.
func newPGPresence(b *Board, grace time.Duration, left func(boardID string, user User)) *pgPresence {
	p := &pgPresence{
		b: b, instance: newID(), grace: grace, left: left,
		sweep: min(max(grace/4, 50*time.Millisecond), time.Second),
		done:  make(chan struct{}),
	}
	var ctx context.Context
	ctx, p.cancel = context.WithCancel(context.Background())
	if err := p.heartbeat(ctx); err != nil {
		b.opts.Logger.Warn("taskboard: presence heartbeat", "err", err)
	}
	go p.run(ctx)
	return p
}

// lockUser serialises presence changes of one user on one board. It first
// takes the board's row as its presence rows' foreign keys do, so that a
// presence change waits for a board's deletion before it holds any
// presence row the deletion's cascade must delete (the other order
// deadlocks).
func lockUser(ctx context.Context, tx bun.Tx, boardID, userID string) error {
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM boards WHERE id = ? FOR KEY SHARE", boardID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?))", "presence/"+boardID+"/"+userID)
	return err
}

func (p *pgPresence) liveAfter() time.Time { return now().Add(-presenceDeadAfter) }

// connCount counts a user's connections on live instances.
func (p *pgPresence) connCount(ctx context.Context, db bun.IDB, boardID, userID string) (int, error) {
	return count(ctx, db.NewSelect().Model((*presenceConn)(nil)).
		Where("board_id = ? AND user_id = ?", boardID, userID).
		Where("instance_id IN (SELECT id FROM presence_instances WHERE heartbeat_at > ?)", p.liveAfter()))
}

// Join implements Presence.
func (p *pgPresence) Join(ctx context.Context, boardID string, user User, connID string) (bool, error) {
	select {
	case <-p.done:
		return false, ErrClosed
	default:
	}
	joined := false
	err := p.b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockUser(ctx, tx, boardID, user.ID); err != nil {
			return err
		}
		n, err := p.connCount(ctx, tx, boardID, user.ID)
		if err != nil {
			return err
		}
		since := now()
		var g presenceGrace
		err = tx.NewDelete().Model(&g).Where("board_id = ? AND user_id = ?", boardID, user.ID).Returning("since").Scan(ctx)
		switch {
		case err == nil:
			since = g.Since
		case errors.Is(err, sql.ErrNoRows):
			joined = n == 0
		default:
			return err
		}
		if n > 0 {
			// Keep the user's first connection time.
			var first time.Time
			if err := tx.NewSelect().Model((*presenceConn)(nil)).ColumnExpr("MIN(since)").
				Where("board_id = ? AND user_id = ?", boardID, user.ID).Scan(ctx, &first); err == nil && !first.IsZero() {
				since = first
			}
		}
		_, err = tx.NewInsert().Model(&presenceConn{BoardID: boardID, UserID: user.ID, UserName: user.Name,
			InstanceID: p.instance, ConnID: connID, Since: since}).On("CONFLICT DO NOTHING").Exec(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("taskboard: presence join: %w", wrapDBError(err))
	}
	return joined, nil
}

// Leave implements Presence.
func (p *pgPresence) Leave(ctx context.Context, boardID, userID, connID string) error {
	err := p.b.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := lockUser(ctx, tx, boardID, userID); err != nil {
			return err
		}
		var gone presenceConn
		err := tx.NewDelete().Model(&gone).
			Where("board_id = ? AND user_id = ? AND instance_id = ? AND conn_id = ?", boardID, userID, p.instance, connID).
			Returning("user_name, since").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := p.connCount(ctx, tx, boardID, userID)
		if err != nil || n > 0 {
			return err
		}
		_, err = tx.NewInsert().Model(&presenceGrace{BoardID: boardID, UserID: userID, UserName: gone.UserName,
			Since: gone.Since, Until: now().Add(p.grace)}).
			On("CONFLICT (board_id, user_id) DO UPDATE").Set("until = EXCLUDED.until").Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("taskboard: presence leave: %w", wrapDBError(err))
	}
	return nil
}

// List implements Presence.
func (p *pgPresence) List(ctx context.Context, boardID string) ([]PresenceEntry, error) {
	var rows []struct {
		UserID      string    `bun:"user_id"`
		UserName    string    `bun:"user_name"`
		Connections int       `bun:"connections"`
		Since       time.Time `bun:"since"`
	}
	err := p.b.db.NewRaw(`SELECT user_id, MAX(user_name) AS user_name, COUNT(*) AS connections, MIN(since) AS since
		FROM presence_connections
		WHERE board_id = ? AND instance_id IN (SELECT id FROM presence_instances WHERE heartbeat_at > ?)
		GROUP BY user_id
		UNION ALL
		SELECT user_id, user_name, 0, since FROM presence_grace WHERE board_id = ?`,
		boardID, p.liveAfter(), boardID).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("taskboard: presence list: %w", wrapDBError(err))
	}
	list := make([]PresenceEntry, 0, len(rows))
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		if seen[r.UserID] {
			continue
		}
		seen[r.UserID] = true
		list = append(list, PresenceEntry{ID: r.UserID, Name: r.UserName, Connections: r.Connections, Since: r.Since.UTC()})
	}
	slices.SortFunc(list, func(a, b PresenceEntry) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return list, nil
}

// run heartbeats and sweeps until Close.
func (p *pgPresence) run(ctx context.Context) {
	defer close(p.done)
	sweep := time.NewTicker(p.sweep)
	defer sweep.Stop()
	lastBeat := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
		}
		if time.Since(lastBeat) >= presenceHeartbeat {
			if err := p.heartbeat(ctx); err != nil && ctx.Err() == nil {
				p.b.opts.Logger.Warn("taskboard: presence heartbeat", "err", err)
			} else {
				lastBeat = time.Now()
			}
		}
		if err := p.sweepOnce(ctx); err != nil && ctx.Err() == nil {
			p.b.opts.Logger.Warn("taskboard: presence sweep", "err", err)
		}
	}
}

func (p *pgPresence) heartbeat(ctx context.Context) error {
	_, err := p.b.db.NewInsert().Model(&presenceInstance{ID: p.instance, HeartbeatAt: now()}).
		On("CONFLICT (id) DO UPDATE").Set("heartbeat_at = EXCLUDED.heartbeat_at").Exec(ctx)
	return err
}

// sweepOnce ends the grace periods that passed and removes the connections
// of dead instances, announcing each user who left. Rows are deleted with
// RETURNING, so each leave is announced by exactly one instance.
func (p *pgPresence) sweepOnce(ctx context.Context) error {
	var expired []presenceGrace
	if err := p.b.db.NewDelete().Model(&expired).Where("until <= ?", now()).Returning("*").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	for _, g := range expired {
		p.announceLeft(g.BoardID, User{ID: g.UserID, Name: g.UserName})
	}
	var dead []string
	if err := p.b.db.NewSelect().Model((*presenceInstance)(nil)).Column("id").
		Where("heartbeat_at <= ?", p.liveAfter()).Scan(ctx, &dead); err != nil {
		return err
	}
	for _, id := range dead {
		var gone []presenceConn
		if err := p.b.db.NewDelete().Model(&gone).Where("instance_id = ?", id).Returning("*").Scan(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := p.b.db.NewDelete().Model((*presenceInstance)(nil)).Where("id = ? AND heartbeat_at <= ?", id, p.liveAfter()).Exec(ctx); err != nil {
			return err
		}
		announced := make(map[[2]string]bool)
		for _, c := range gone {
			key := [2]string{c.BoardID, c.UserID}
			if announced[key] {
				continue
			}
			announced[key] = true
			n, err := p.connCount(ctx, p.b.db, c.BoardID, c.UserID)
			if err != nil {
				return err
			}
			if n == 0 {
				p.announceLeft(c.BoardID, User{ID: c.UserID, Name: c.UserName})
			}
		}
	}
	return nil
}

func (p *pgPresence) announceLeft(boardID string, user User) {
	if p.left != nil {
		p.left(boardID, user)
	}
}

// Close stops heartbeating and sweeping and removes this instance's rows;
// its users' other instances keep them present, and users with no other
// connection leave after the grace period, announced by another instance.
func (p *pgPresence) Close() {
	p.once.Do(func() {
		p.cancel()
		<-p.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var gone []presenceConn
		if err := p.b.db.NewDelete().Model(&gone).Where("instance_id = ?", p.instance).Returning("*").Scan(ctx); err == nil {
			for _, c := range gone {
				if n, err := p.connCount(ctx, p.b.db, c.BoardID, c.UserID); err == nil && n == 0 {
					p.b.db.NewInsert().Model(&presenceGrace{BoardID: c.BoardID, UserID: c.UserID, UserName: c.UserName,
						Since: c.Since, Until: now().Add(p.grace)}).On("CONFLICT DO NOTHING").Exec(ctx)
				}
			}
		}
		p.b.db.NewDelete().Model((*presenceInstance)(nil)).Where("id = ?", p.instance).Exec(ctx)
	})
}
