package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskboard/taskboard/internal/seam"
	"github.com/taskboard/taskboard/webhook"
	"github.com/uptrace/bun"
)

// Webhook statuses.
const (
	WebhookActive   = "active"
	WebhookPaused   = "paused"
	WebhookDisabled = "disabled"
)

// Limits of webhooks.
const (
	// MaxWebhooksPerBoard is how many webhooks a board may have.
	MaxWebhooksPerBoard = 20
	// MaxWebhookURLLength is the longest URL a webhook may have, in bytes.
	MaxWebhookURLLength = 2048
	// MaxWebhookAttempts is how many of its latest delivery attempts each
	// webhook keeps.
	MaxWebhookAttempts = 100
)

// loggedTypes are the event types a webhook may choose.
var loggedTypes = []string{
	EventTaskCreated, EventTaskUpdated, EventTaskMoved, EventTaskDeleted,
	EventListCreated, EventListUpdated, EventListMoved, EventListDeleted,
	EventBoardUpdated, EventBoardDeleted, EventMemberAdded, EventMemberUpdated, EventMemberRemoved,
	EventBoardImported,
}

// Webhook is a board's webhook: where its events are posted, and which.
// Secret is set only in what CreateWebhook returns.
type Webhook struct {
	ID      string `json:"id"`
	BoardID string `json:"board_id"`
	URL     string `json:"url"`
	// Events are the event types delivered; nil means every logged type.
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	Secret      string    `json:"secret,omitempty"`
	// Cursor is the seq of the last event of the board handled: delivered
	// and acknowledged, or not of a chosen type. It may lag behind the
	// deliveries by a fraction of a second.
	Cursor int64 `json:"-"`
}

// WebhookCreate is a new webhook. Nil Events means every logged type.
type WebhookCreate struct {
	URL         string
	Events      []string
	Description string
}

// WebhookUpdate is a partial update of a webhook; nil fields stay as they
// are. Events pointing at a nil slice means every logged type. Status is
// WebhookActive or WebhookPaused.
type WebhookUpdate struct {
	URL         *string
	Events      *[]string
	Description *string
	Status      *string
}

// WebhookAttempt is one attempt to deliver an event to a webhook. Seq is
// the event's seq (for a reset, the seq the reset names); StatusCode is nil
// when no response came, Error nil for an acknowledged attempt.
type WebhookAttempt struct {
	Seq        int64     `json:"seq"`
	Attempt    int       `json:"attempt"`
	StatusCode *int      `json:"status_code"`
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
	At         time.Time `json:"at"`
}

type webhookRecord struct {
	bun.BaseModel `bun:"table:webhooks,alias:wh"`

	ID           string     `bun:"id,pk"`
	BoardID      string     `bun:"board_id,notnull"`
	URL          string     `bun:"url,notnull"`
	Events       string     `bun:"events,notnull"`
	Description  string     `bun:"description,notnull"`
	Secret       string     `bun:"secret,notnull"`
	Status       string     `bun:"status,notnull"`
	CreatedAt    time.Time  `bun:"created_at,notnull"`
	Cursor       int64      `bun:"cursor_seq,notnull"`
	Epoch        int64      `bun:"epoch,notnull"`
	Version      int64      `bun:"version,notnull"`
	FailingSince *time.Time `bun:"failing_since"`
	LeaseOwner   *string    `bun:"lease_owner"`
	LeaseUntil   int64      `bun:"lease_until,notnull"`
}

type attemptRecord struct {
	bun.BaseModel `bun:"table:webhook_attempts"`

	WebhookID  string    `bun:"webhook_id,pk"`
	N          int64     `bun:"n,pk"`
	Seq        int64     `bun:"seq,notnull"`
	Attempt    int       `bun:"attempt,notnull"`
	StatusCode *int      `bun:"status_code"`
	Error      *string   `bun:"error"`
	DurationMS int64     `bun:"duration_ms,notnull"`
	At         time.Time `bun:"at,notnull"`
}

func (r *webhookRecord) webhook() *Webhook {
	w := &Webhook{ID: r.ID, BoardID: r.BoardID, URL: r.URL, Description: r.Description,
		Status: r.Status, CreatedAt: r.CreatedAt, Cursor: r.Cursor}
	if r.Events != "" {
		w.Events = strings.Split(r.Events, ",")
	}
	return w
}

// maxWebhooksPerBoard is MaxWebhooksPerBoard, which benchmarks raise.
var maxWebhooksPerBoard int64 = MaxWebhooksPerBoard

// wants reports whether the webhook delivers events of type t.
func (r *webhookRecord) wants(t string) bool {
	return r.Events == "" || slices.Contains(strings.Split(r.Events, ","), t)
}

// mayManageWebhooks decides whether actor may see and change the webhooks
// of a board: every webhook operation asks it, in the transaction that
// then reads or writes them. It returns notFound(entity) when the actor
// may not see the board, ErrForbidden when the actor may see but not
// manage them.
//
// A board's webhooks are its owners' alone, reads included (a webhook's
// URL may carry a credential of its receiver), and a read-only credential
// manages none.
func mayManageWebhooks(ctx context.Context, db bun.IDB, actor Actor, boardID, entity string) error {
	if hasNUL(boardID, actor.UserID) {
		return notFound(entity)
	}
	var role Role
	err := db.NewSelect().Model((*Member)(nil)).Column("role").
		Where("board_id = ? AND user_id = ?", boardID, actor.UserID).Scan(ctx, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(entity)
	}
	if err != nil {
		return err
	}
	if err := actor.mayWrite(); err != nil {
		return err
	}
	return role.allows(RoleOwner, actor.UserID, boardID)
}

// checkWebhookEvents validates a list of event types, returning it without
// repeats as stored: "" for every type.
func checkWebhookEvents(v *validator, events []string) string {
	if events == nil {
		return ""
	}
	if len(events) == 0 {
		v.add("events", "must name at least one event type, or be omitted for all")
		return ""
	}
	var seen []string
	for _, t := range events {
		if !slices.Contains(loggedTypes, t) {
			v.add("events", fmt.Sprintf("unknown event type %q (one of %s)", t, strings.Join(loggedTypes, ", ")))
			return ""
		}
		if !slices.Contains(seen, t) {
			seen = append(seen, t)
		}
	}
	return strings.Join(seen, ",")
}

// checkWebhookURL validates a webhook's URL, and its host's addresses
// unless Options.WebhookAllowPrivate.
func (b *Board) checkWebhookURL(ctx context.Context, v *validator, raw string) {
	switch {
	case raw == "":
		v.add("url", "must not be empty")
	case len(raw) > MaxWebhookURLLength:
		v.add("url", fmt.Sprintf("must be at most %d bytes", MaxWebhookURLLength))
	case !utf8.ValidString(raw) || hasNUL(raw):
		v.add("url", "must be valid UTF-8 without NUL")
	default:
		if err := webhook.CheckURL(ctx, raw, b.opts.WebhookAllowPrivate); err != nil {
			v.add("url", err.Error())
		}
	}
}

// CreateWebhook adds a webhook to a board. It returns the webhook with its
// secret, which is never shown again. Delivery starts with the events after
// the board's current seq. It returns ErrInvalid for a bad URL (not http
// or https, or, unless Options.WebhookAllowPrivate, a host resolving to a
// forbidden address), unknown event types, a description too long, or a
// board that has MaxWebhooksPerBoard webhooks already.
func (b *Board) CreateWebhook(ctx context.Context, actor Actor, boardID string, in WebhookCreate) (*Webhook, error) {
	var v validator
	b.checkWebhookURL(ctx, &v, in.URL)
	events := checkWebhookEvents(&v, in.Events)
	v.length("description", in.Description, 0, MaxTitleLength)
	if err := v.err(); err != nil {
		return nil, err
	}
	rec := &webhookRecord{ID: newID(), BoardID: boardID, URL: in.URL, Events: events,
		Description: in.Description, Secret: webhook.NewSecret(), Status: WebhookActive,
		CreatedAt: now(), Epoch: 1, Version: 1}
	out := new(Webhook)
	seam.SetTxResult(ctx, out)
	err := b.webhookTx(ctx, boardID, func(tx bun.Tx) error {
		if err := mayManageWebhooks(ctx, tx, actor, boardID, "Board"); err != nil {
			return err
		}
		var board BoardInfo
		q := tx.NewSelect().Model(&board).Column("seq").Where("id = ?", boardID)
		if !b.sqlite {
			// Creations on the board queue, so the limit holds.
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*webhookRecord)(nil)).Where("board_id = ?", boardID).Count(ctx)
		if err != nil {
			return err
		}
		if n >= maxWebhooksPerBoard {
			return invalid("url", "a board has at most %d webhooks", maxWebhooksPerBoard)
		}
		rec.Cursor = board.Seq
		if _, err = tx.NewInsert().Model(rec).Exec(ctx); err != nil {
			return err
		}
		*out = *rec.webhook()
		out.Secret = rec.Secret
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: create webhook of board %s: %w", boardID, err)
	}
	b.hooks.kick()
	return out, nil
}

// webhookTx runs fn in a write transaction; on PostgreSQL it does not
// hold the board's lock of writers, only, where fn takes them, row locks.
func (b *Board) webhookTx(ctx context.Context, boardID string, fn func(tx bun.Tx) error) error {
	if hasNUL(boardID) {
		return notFound("Board")
	}
	return b.plainTx(ctx, fn)
}

// Webhooks returns a board's webhooks, oldest first, without secrets.
func (b *Board) Webhooks(ctx context.Context, actor Actor, boardID string) ([]Webhook, error) {
	hooks := []Webhook{}
	if hasNUL(boardID) {
		return nil, fmt.Errorf("taskboard: webhooks of board %s: %w", boardID, notFound("Board"))
	}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		if err := mayManageWebhooks(ctx, tx, actor, boardID, "Board"); err != nil {
			return err
		}
		var recs []webhookRecord
		if err := tx.NewSelect().Model(&recs).Where("board_id = ?", boardID).OrderExpr("created_at, id").Scan(ctx); err != nil {
			return err
		}
		for i := range recs {
			hooks = append(hooks, *recs[i].webhook())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: webhooks of board %s: %w", boardID, err)
	}
	return hooks, nil
}

// loadWebhook reads a webhook the actor may manage, or returns
// notFound("Webhook").
func loadWebhook(ctx context.Context, db bun.IDB, actor Actor, id string, forUpdate bool) (*webhookRecord, error) {
	if hasNUL(id) {
		return nil, notFound("Webhook")
	}
	rec := new(webhookRecord)
	q := db.NewSelect().Model(rec).Where("id = ?", id)
	if forUpdate {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("Webhook")
		}
		return nil, err
	}
	if err := mayManageWebhooks(ctx, db, actor, rec.BoardID, "Webhook"); err != nil {
		return nil, err
	}
	return rec, nil
}

// Webhook returns a webhook, without its secret.
func (b *Board) Webhook(ctx context.Context, actor Actor, id string) (*Webhook, error) {
	var rec *webhookRecord
	err := b.readTx(ctx, func(tx bun.Tx) (err error) {
		rec, err = loadWebhook(ctx, tx, actor, id, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: webhook %s: %w", id, err)
	}
	return rec.webhook(), nil
}

// UpdateWebhook changes a webhook's URL, event types, description or
// status. Pausing keeps its cursor: the events of the paused time are
// delivered once it is active again; setting a paused or disabled
// webhook active resumes it from its cursor.
func (b *Board) UpdateWebhook(ctx context.Context, actor Actor, id string, in WebhookUpdate) (*Webhook, error) {
	var v validator
	if in.URL != nil {
		b.checkWebhookURL(ctx, &v, *in.URL)
	}
	var events string
	if in.Events != nil {
		events = checkWebhookEvents(&v, *in.Events)
	}
	if in.Description != nil {
		v.length("description", *in.Description, 0, MaxTitleLength)
	}
	if in.Status != nil && *in.Status != WebhookActive && *in.Status != WebhookPaused {
		v.add("status", `must be "active" or "paused"`)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	out := new(Webhook)
	seam.SetTxResult(ctx, out)
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		rec, err := loadWebhook(ctx, tx, actor, id, !b.sqlite)
		if err != nil {
			return err
		}
		q := tx.NewUpdate().Model((*webhookRecord)(nil)).Set("version = version + 1").Where("id = ?", id)
		if in.URL != nil {
			rec.URL = *in.URL
			q = q.Set("url = ?", rec.URL)
		}
		if in.Events != nil {
			rec.Events = events
			q = q.Set("events = ?", rec.Events)
		}
		if in.Description != nil {
			rec.Description = *in.Description
			q = q.Set("description = ?", rec.Description)
		}
		if in.Status != nil && *in.Status != rec.Status {
			rec.Status = *in.Status
			// A new start: the failure window begins again.
			q = q.Set("status = ?", rec.Status).Set("failing_since = NULL")
		}
		if _, err = q.Exec(ctx); err != nil {
			return err
		}
		*out = *rec.webhook()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: update webhook %s: %w", id, err)
	}
	b.hooks.changed(id)
	return out, nil
}

// DeleteWebhook deletes a webhook and its attempts.
func (b *Board) DeleteWebhook(ctx context.Context, actor Actor, id string) error {
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		if _, err := loadWebhook(ctx, tx, actor, id, !b.sqlite); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*webhookRecord)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("taskboard: delete webhook %s: %w", id, err)
	}
	b.hooks.changed(id)
	return nil
}

// ReplayWebhook restarts a webhook's delivery after seq after: the events
// after it are sent again, with the same webhook-id values. after must be
// between 0 and the board's seq; one older than the retained log makes the
// webhook get a reset first.
func (b *Board) ReplayWebhook(ctx context.Context, actor Actor, id string, after int64) (*Webhook, error) {
	out := new(Webhook)
	seam.SetTxResult(ctx, out)
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		rec, err := loadWebhook(ctx, tx, actor, id, !b.sqlite)
		if err != nil {
			return err
		}
		var seq int64
		if err := tx.NewSelect().Model((*BoardInfo)(nil)).Column("seq").Where("id = ?", rec.BoardID).Scan(ctx, &seq); err != nil {
			return err
		}
		if after < 0 || after > seq {
			return invalid("after", "must be between 0 and the board's seq %d", seq)
		}
		rec.Cursor = after
		if _, err = tx.NewUpdate().Model((*webhookRecord)(nil)).
			Set("cursor_seq = ?", after).Set("epoch = epoch + 1").Set("version = version + 1").
			Where("id = ?", id).Exec(ctx); err != nil {
			return err
		}
		*out = *rec.webhook()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: replay webhook %s: %w", id, err)
	}
	b.hooks.changed(id)
	return out, nil
}

// WebhookDeliveries returns a webhook's latest delivery attempts, newest
// first: at most limit, at most MaxWebhookAttempts (limit <= 0 means that
// many).
func (b *Board) WebhookDeliveries(ctx context.Context, actor Actor, id string, limit int) ([]WebhookAttempt, error) {
	if limit <= 0 || limit > MaxWebhookAttempts {
		limit = MaxWebhookAttempts
	}
	out := []WebhookAttempt{}
	err := b.readTx(ctx, func(tx bun.Tx) error {
		if _, err := loadWebhook(ctx, tx, actor, id, false); err != nil {
			return err
		}
		var recs []attemptRecord
		if err := tx.NewSelect().Model(&recs).Where("webhook_id = ?", id).Order("n DESC").Limit(int64(limit)).Scan(ctx); err != nil {
			return err
		}
		for _, r := range recs {
			out = append(out, WebhookAttempt{Seq: r.Seq, Attempt: r.Attempt, StatusCode: r.StatusCode,
				Error: r.Error, DurationMS: r.DurationMS, At: r.At})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: deliveries of webhook %s: %w", id, err)
	}
	return out, nil
}
