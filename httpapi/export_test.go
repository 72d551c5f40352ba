package httpapi

import (
	"context"
	"net/http"

	"github.com/taskboard/taskboard"
)

// IdempotencyKeyForTest is an idempotency key as the external tests build
// it; Path is the request's path, which the record keeps as its hash.
type IdempotencyKeyForTest struct {
	UserID, Method, Path, Key, RequestHash string
}

func (k IdempotencyKeyForTest) internal() idempotencyKey {
	return idempotencyKey{userID: k.UserID, method: k.Method, path: pathKey(k.Path), key: k.Key, requestHash: k.RequestHash}
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

// WriteContextForTest returns the context that a write route gives the
// store for a request under k: a write made with it stores, in its own
// transaction, what respond makes of its result as k's response. A test
// that drops everything after such a write has the server crash right
// after the write's commit.
func WriteContextForTest(ctx context.Context, store *taskboard.Board, k IdempotencyKeyForTest, respond func(w http.ResponseWriter, result []any)) context.Context {
	st := &idemState{store: newIdempotencyStore(store), k: k.internal()}
	ctx = context.WithValue(taskboard.WithMutationID(ctx, k.Key), idemStateKey{}, st)
	return writeContext((&http.Request{}).WithContext(ctx), respond)
}

// CreatedTaskResponseForTest is the response of POST /tasks to the result
// of CreateTask.
func CreatedTaskResponseForTest(w http.ResponseWriter, result []any) {
	taskResponse(http.StatusCreated)(w, resultOf[*taskboard.Task](result, 0))
}

// TaskResponseForTest is the response of the task routes answering status
// to the result of their write.
func TaskResponseForTest(status int) func(w http.ResponseWriter, result []any) {
	return func(w http.ResponseWriter, result []any) {
		taskResponse(status)(w, resultOf[*taskboard.Task](result, 0))
	}
}
