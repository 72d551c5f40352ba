package httpapi

import (
	"context"

	"github.com/taskboard/taskboard"
)

// IdempotencyKeyForTest is an idempotency key as the external tests build
// it.
type IdempotencyKeyForTest struct {
	UserID, Method, Path, Key, RequestHash string
}

func (k IdempotencyKeyForTest) internal() idempotencyKey {
	return idempotencyKey{userID: k.UserID, method: k.Method, path: k.Path, key: k.Key, requestHash: k.RequestHash}
}

// BeginIdempotentForTest claims k as a request would, and reports whether a
// response was stored for it.
func BeginIdempotentForTest(ctx context.Context, store *taskboard.Board, k IdempotencyKeyForTest) (bool, error) {
	stored, err := newIdempotencyStore(store).begin(ctx, k.internal())
	return stored != nil, err
}

// AbandonIdempotentForTest releases a claim of BeginIdempotentForTest.
func AbandonIdempotentForTest(ctx context.Context, store *taskboard.Board, k IdempotencyKeyForTest) error {
	return newIdempotencyStore(store).abandon(ctx, k.internal())
}
