package httpapi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// idempotencyTTL is how long an idempotency key is remembered.
const idempotencyTTL = 24 * time.Hour

var (
	// errIdempotencyMismatch reports an idempotency key reused with a
	// different request body.
	errIdempotencyMismatch = errors.New("httpapi: idempotency key reused with another request")
	// errIdempotencyInFlight reports an idempotency key whose first request
	// has not finished yet.
	errIdempotencyInFlight = errors.New("httpapi: idempotent request still in flight")
)

// idempotencyKey scopes a client's Idempotency-Key to its user, method and
// path; requestHash fingerprints the request body.
type idempotencyKey struct {
	userID      string
	method      string
	path        string
	key         string
	requestHash string
}

// storedResponse is the response kept for an idempotency key.
type storedResponse struct {
	status int
	etag   string
	body   []byte
}

// idempotencyRecord remembers the response to a write that carried an
// Idempotency-Key (the idempotency_keys table of the store's schema).
// Status is zero while the first request is in flight.
type idempotencyRecord struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	UserID      string    `bun:"user_id,pk"`
	Method      string    `bun:"method,pk"`
	Path        string    `bun:"path,pk"`
	Key         string    `bun:"key,pk"`
	RequestHash string    `bun:"request_hash,notnull"`
	Status      int       `bun:"status,notnull"`
	ETag        string    `bun:"etag"`
	Body        string    `bun:"body"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
}

// idempotencyStore keeps the responses of idempotent writes in the store's
// database.
type idempotencyStore struct {
	store *taskboard.Board
}

func newIdempotencyStore(store *taskboard.Board) *idempotencyStore {
	return &idempotencyStore{store: store}
}

func (s *idempotencyStore) writeTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return seam.WriteTx(ctx, s.store, fn)
}

// idemNow is the records' clock: UTC, at microsecond precision so that both
// databases return what was written.
func idemNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// hasNUL reports whether a string holds the NUL character, which neither
// database stores.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}

func invalidKey(message string) error {
	return &taskboard.ValidationError{Fields: []taskboard.FieldError{{Path: []string{"Idempotency-Key"}, Message: message}}}
}

// begin claims an idempotency key for a request about to run. It returns
// (nil, nil) when the key is new (the caller runs the request, then calls
// finish or abandon), the stored response when the same request already
// finished, errIdempotencyMismatch when the key was used with another body,
// errIdempotencyInFlight while the first request still runs, and
// taskboard.ErrInvalid when a part of k contains the NUL character.
func (s *idempotencyStore) begin(ctx context.Context, k idempotencyKey) (*storedResponse, error) {
	if hasNUL(k.key) {
		return nil, invalidKey("must not contain the NUL character")
	}
	if hasNUL(k.userID, k.method, k.path, k.requestHash) {
		return nil, invalidKey("cannot be kept for a user, method or path containing the NUL character")
	}
	t := idemNow()
	var stored *storedResponse
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		rec := new(idempotencyRecord)
		err := tx.NewSelect().Model(rec).
			Where("user_id = ? AND method = ? AND path = ? AND key = ?", k.userID, k.method, k.path, k.key).Scan(ctx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case rec.CreatedAt.Before(t.Add(-idempotencyTTL)):
			if _, err := tx.NewDelete().Model(rec).WherePK().Exec(ctx); err != nil {
				return err
			}
		case rec.RequestHash != k.requestHash:
			return errIdempotencyMismatch
		case rec.Status == 0:
			return errIdempotencyInFlight
		default:
			stored = &storedResponse{status: rec.Status, etag: rec.ETag, body: []byte(rec.Body)}
			return nil
		}
		res, err := tx.NewInsert().Model(&idempotencyRecord{UserID: k.userID, Method: k.method, Path: k.path, Key: k.key,
			RequestHash: k.requestHash, CreatedAt: t}).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			// A concurrent request with the same key claimed it first
			// (PostgreSQL; on SQLite writers take turns).
			rec = &idempotencyRecord{UserID: k.userID, Method: k.method, Path: k.path, Key: k.key}
			if err := tx.NewSelect().Model(rec).WherePK().Scan(ctx); errors.Is(err, sql.ErrNoRows) {
				return errIdempotencyInFlight // claimed and already abandoned: retry
			} else if err != nil {
				return err
			}
			if rec.RequestHash != k.requestHash {
				return errIdempotencyMismatch
			}
			return errIdempotencyInFlight
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, errIdempotencyMismatch) || errors.Is(err, errIdempotencyInFlight) {
			return nil, err
		}
		return nil, fmt.Errorf("httpapi: claim idempotency key: %w", err)
	}
	return stored, nil
}

// finish stores the response of a claimed key.
func (s *idempotencyStore) finish(ctx context.Context, k idempotencyKey, r storedResponse) error {
	if hasNUL(k.userID, k.method, k.path, k.key) {
		return nil // begin refused the key: nothing was claimed
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*idempotencyRecord)(nil)).Set("status = ?, etag = ?, body = ?", r.status, r.etag, string(r.body)).
			Where("user_id = ? AND method = ? AND path = ? AND key = ?", k.userID, k.method, k.path, k.key).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("httpapi: store idempotent response: %w", err)
	}
	return nil
}

// abandon releases a claimed key whose request failed with a server
// error, so that a retry runs again.
func (s *idempotencyStore) abandon(ctx context.Context, k idempotencyKey) error {
	if hasNUL(k.userID, k.method, k.path, k.key) {
		return nil // begin refused the key: nothing was claimed
	}
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewDelete().Model((*idempotencyRecord)(nil)).
			Where("user_id = ? AND method = ? AND path = ? AND key = ? AND status = 0", k.userID, k.method, k.path, k.key).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("httpapi: release idempotency key: %w", err)
	}
	return nil
}

// expire deletes the records older than idempotencyTTL.
func (s *idempotencyStore) expire(ctx context.Context) error {
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewDelete().Model((*idempotencyRecord)(nil)).Where("created_at < ?", idemNow().Add(-idempotencyTTL)).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("httpapi: delete expired idempotency records: %w", err)
	}
	return nil
}
