package httpapi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
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
// path (pathKey: a hash of the path); requestHash fingerprints the request
// body.
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

// legacyClaimTimeout is how long a record without a response (status 0,
// the claim of an earlier version, which kept claims in the database) is
// taken for a request in flight; an older one is a claim whose request
// never finished, and is dropped.
const legacyClaimTimeout = 5 * time.Minute

// claimKey names a key claimed by a request of this process: the key of a
// store (an instance of this process's stores stands for one server).
type claimKey struct {
	store                   *taskboard.Board
	userID, method, path, k string
}

// claims holds the keys whose requests this process is serving, with
// their request hashes. A key is claimed here only: a crash forgets it, and
// what stays in the database is either the record the write committed with
// or nothing.
var claims struct {
	sync.Mutex
	m map[claimKey]string
}

func (s *idempotencyStore) claimKey(k idempotencyKey) claimKey {
	return claimKey{store: s.store, userID: k.userID, method: k.method, path: k.path, k: k.key}
}

// claim claims k for this process: errIdempotencyInFlight when it is
// claimed already, errIdempotencyMismatch when with another body.
func (s *idempotencyStore) claim(k idempotencyKey) error {
	claims.Lock()
	defer claims.Unlock()
	ck := s.claimKey(k)
	if hash, ok := claims.m[ck]; ok {
		if hash != k.requestHash {
			return errIdempotencyMismatch
		}
		return errIdempotencyInFlight
	}
	if claims.m == nil {
		claims.m = make(map[claimKey]string)
	}
	claims.m[ck] = k.requestHash
	return nil
}

// release ends the claim of k.
func (s *idempotencyStore) release(k idempotencyKey) {
	claims.Lock()
	defer claims.Unlock()
	delete(claims.m, s.claimKey(k))
}

// begin claims an idempotency key for a request about to run. It returns
// (nil, nil) when the key is new (the caller runs the request, having the
// write store its response with record, or stores it after with finish,
// or gives up with abandon), the stored response when the same request
// already finished, errIdempotencyMismatch when the key was used with
// another body, errIdempotencyInFlight while the first request still runs,
// and taskboard.ErrInvalid when a part of k contains the NUL character.
// Only the (nil, nil) answer leaves the key claimed.
func (s *idempotencyStore) begin(ctx context.Context, k idempotencyKey) (*storedResponse, error) {
	if hasNUL(k.key) {
		return nil, invalidKey("must not contain the NUL character")
	}
	if hasNUL(k.userID, k.method, k.path, k.requestHash) {
		return nil, invalidKey("cannot be kept for a user, method or path containing the NUL character")
	}
	if err := s.claim(k); err != nil {
		return nil, err
	}
	stored, err := s.lookup(ctx, k)
	if err != nil || stored != nil {
		s.release(k)
		return stored, err
	}
	return nil, nil
}

// lookup returns the response stored for k: nil when there is none (an
// expired record, or a claim of an earlier version's request that never
// finished, is deleted), errIdempotencyMismatch when the key was used with
// another body, errIdempotencyInFlight for the claim of an earlier
// version's request that may still run.
func (s *idempotencyStore) lookup(ctx context.Context, k idempotencyKey) (*storedResponse, error) {
	t := idemNow()
	var stored *storedResponse
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		rec := &idempotencyRecord{UserID: k.userID, Method: k.method, Path: k.path, Key: k.key}
		err := tx.NewSelect().Model(rec).WherePK().Scan(ctx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		case rec.CreatedAt.Before(t.Add(-idempotencyTTL)),
			rec.Status == 0 && rec.CreatedAt.Before(t.Add(-legacyClaimTimeout)):
			_, err := tx.NewDelete().Model(rec).WherePK().Exec(ctx)
			return err
		case rec.RequestHash != k.requestHash:
			return errIdempotencyMismatch
		case rec.Status == 0:
			return errIdempotencyInFlight
		}
		stored = &storedResponse{status: rec.Status, etag: rec.ETag, body: []byte(rec.Body)}
		return nil
	})
	if err != nil {
		if errors.Is(err, errIdempotencyMismatch) || errors.Is(err, errIdempotencyInFlight) {
			return nil, err
		}
		return nil, fmt.Errorf("httpapi: look up idempotency key: %w", err)
	}
	return stored, nil
}

// errIdempotencyTaken reports, from record, that the key's record was
// stored by another request (of another server) meanwhile: the write that
// tried to store its own must roll back.
var errIdempotencyTaken = fmt.Errorf("%w: stored by another request", errIdempotencyInFlight)

// record stores the response of k in tx, the transaction of the write that
// answers it, so that the response commits with the write. It returns
// errIdempotencyTaken when the key already has a record.
func (s *idempotencyStore) record(ctx context.Context, tx bun.Tx, k idempotencyKey, r storedResponse) error {
	res, err := tx.NewInsert().Model(newRecord(k, r)).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return fmt.Errorf("httpapi: store idempotent response: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("httpapi: store idempotent response: %w", err)
	} else if n == 0 {
		return errIdempotencyTaken
	}
	return nil
}

func newRecord(k idempotencyKey, r storedResponse) *idempotencyRecord {
	return &idempotencyRecord{UserID: k.userID, Method: k.method, Path: k.path, Key: k.key,
		RequestHash: k.requestHash, Status: r.status, ETag: r.etag, Body: string(r.body), CreatedAt: idemNow()}
}

// finish stores the response of a claimed key after its request ran (one
// whose write stored nothing: a 4xx answer, a write that does not run the
// store's transaction hook), and releases the key. A record stored
// meanwhile is kept.
func (s *idempotencyStore) finish(ctx context.Context, k idempotencyKey, r storedResponse) error {
	if hasNUL(k.userID, k.method, k.path, k.key) {
		return nil // begin refused the key: nothing was claimed
	}
	defer s.release(k)
	err := s.writeTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(newRecord(k, r)).On("CONFLICT DO NOTHING").Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("httpapi: store idempotent response: %w", err)
	}
	return nil
}

// abandon releases a claimed key whose request failed with a server
// error, so that a retry runs again. A stored response is kept.
func (s *idempotencyStore) abandon(ctx context.Context, k idempotencyKey) error {
	if hasNUL(k.userID, k.method, k.path, k.key) {
		return nil // begin refused the key: nothing was claimed
	}
	s.release(k)
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
