package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// IdempotencyTTL is how long an idempotency key is remembered.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyKey scopes a client's Idempotency-Key to its user, method and
// path; RequestHash fingerprints the request body.
type IdempotencyKey struct {
	UserID      string
	Method      string
	Path        string
	Key         string
	RequestHash string
}

// StoredResponse is the response kept for an idempotency key.
type StoredResponse struct {
	Status int
	ETag   string
	Body   []byte
}

// BeginIdempotent claims an idempotency key for a request about to run. It
// returns (nil, nil) when the key is new (the caller runs the request, then
// calls FinishIdempotent or AbandonIdempotent), the stored response when the
// same request already finished, ErrIdempotencyMismatch when the key was
// used with another body, ErrIdempotencyInFlight while the first request
// still runs, and ErrInvalid when a part of k contains the NUL character.
func (b *Board) BeginIdempotent(ctx context.Context, k IdempotencyKey) (*StoredResponse, error) {
	if hasNUL(k.Key) {
		return nil, invalid("Idempotency-Key", "must not contain the NUL character")
	}
	if hasNUL(k.UserID, k.Method, k.Path, k.RequestHash) {
		return nil, invalid("Idempotency-Key", "cannot be kept for a user, method or path containing the NUL character")
	}
	t := now()
	var stored *StoredResponse
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		rec := new(IdempotencyRecord)
		err := tx.NewSelect().Model(rec).
			Where("user_id = ? AND method = ? AND path = ? AND key = ?", k.UserID, k.Method, k.Path, k.Key).Scan(ctx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case rec.CreatedAt.Before(t.Add(-IdempotencyTTL)):
			if _, err := tx.NewDelete().Model(rec).WherePK().Exec(ctx); err != nil {
				return err
			}
		case rec.RequestHash != k.RequestHash:
			return ErrIdempotencyMismatch
		case rec.Status == 0:
			return ErrIdempotencyInFlight
		default:
			stored = &StoredResponse{Status: rec.Status, ETag: rec.ETag, Body: []byte(rec.Body)}
			return nil
		}
		_, err = tx.NewInsert().Model(&IdempotencyRecord{UserID: k.UserID, Method: k.Method, Path: k.Path, Key: k.Key,
			RequestHash: k.RequestHash, CreatedAt: t}).Exec(ctx)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrIdempotencyMismatch) || errors.Is(err, ErrIdempotencyInFlight) {
			return nil, err
		}
		return nil, fmt.Errorf("taskboard: claim idempotency key: %w", err)
	}
	return stored, nil
}

// FinishIdempotent stores the response of a claimed key.
func (b *Board) FinishIdempotent(ctx context.Context, k IdempotencyKey, r StoredResponse) error {
	if hasNUL(k.UserID, k.Method, k.Path, k.Key) {
		return nil // BeginIdempotent refused the key: nothing was claimed
	}
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*IdempotencyRecord)(nil)).Set("status = ?, etag = ?, body = ?", r.Status, r.ETag, string(r.Body)).
			Where("user_id = ? AND method = ? AND path = ? AND key = ?", k.UserID, k.Method, k.Path, k.Key).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("taskboard: store idempotent response: %w", err)
	}
	return nil
}

// AbandonIdempotent releases a claimed key whose request failed with a
// server error, so that a retry runs again.
func (b *Board) AbandonIdempotent(ctx context.Context, k IdempotencyKey) error {
	if hasNUL(k.UserID, k.Method, k.Path, k.Key) {
		return nil // BeginIdempotent refused the key: nothing was claimed
	}
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		_, err := tx.NewDelete().Model((*IdempotencyRecord)(nil)).
			Where("user_id = ? AND method = ? AND path = ? AND key = ? AND status = 0", k.UserID, k.Method, k.Path, k.Key).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("taskboard: release idempotency key: %w", err)
	}
	return nil
}
