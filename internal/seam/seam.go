// Package seam connects the packages of this module to the store's
// internals; nothing outside the module can import it. The root package
// (taskboard) fills in its function variables when it is initialised, and
// reads the values its functions put in a context.
package seam

import (
	"context"

	"github.com/uptrace/bun"
)

// DB returns the database of store, a *taskboard.Board. It panics for
// anything else.
var DB func(store any) *bun.DB

// WriteTx runs fn in a write transaction on the database of store (a
// *taskboard.Board), queued behind the store's own writers as they are
// (SQLite has one writer at a time), and commits it when fn returns nil.
// Its error is reported as the store reports database errors: one matching
// taskboard.ErrUnavailable when the database cannot be reached. It does not
// run the hook of WithTxHook.
var WriteTx func(ctx context.Context, store any, fn func(ctx context.Context, tx bun.Tx) error) error

// DBError returns err, an error of a query on DB's database, as the store
// reports database errors: matching taskboard.ErrUnavailable when the
// database cannot be reached.
var DBError func(err error) error

// TxHookFunc runs inside the transaction of a store's write, just before it
// commits. An error rolls the write back, and the write returns it.
type TxHookFunc func(ctx context.Context, tx bun.Tx) error

type txHookKey struct{}

// WithTxHook returns a context whose writes run hook inside their own
// transaction just before they commit, after all their changes (a board
// write's events and the board's new seq included): what hook writes
// commits with the write, or rolls back with it. Every write of the store that changes a
// board, and every write that logs no event (CreateBoard, CreateUser),
// runs it; a write that fails before its commit does not reach it. A hook
// replaces one that ctx already carries; a nil hook removes it.
func WithTxHook(ctx context.Context, hook TxHookFunc) context.Context {
	return context.WithValue(ctx, txHookKey{}, hook)
}

// TxHook returns the hook of WithTxHook, or nil.
func TxHook(ctx context.Context) TxHookFunc {
	hook, _ := ctx.Value(txHookKey{}).(TxHookFunc)
	return hook
}

// ResultTxHookFunc is a TxHookFunc that also gets the write's result: the
// values the write hands to SetTxResult, nil when it hands none.
type ResultTxHookFunc func(ctx context.Context, tx bun.Tx, result []any) error

type txResultKey struct{}

// txResult holds what a write hands to SetTxResult.
type txResult struct{ values []any }

// WithResultTxHook is WithTxHook for a hook that needs what the write
// returns, to write it down with the write (a response built from the task,
// list or board it returns): the write hands it over with SetTxResult.
func WithResultTxHook(ctx context.Context, hook ResultTxHookFunc) context.Context {
	res := new(txResult)
	ctx = context.WithValue(ctx, txResultKey{}, res)
	return WithTxHook(ctx, func(ctx context.Context, tx bun.Tx) error {
		return hook(ctx, tx, res.values)
	})
}

// SetTxResult hands the hook of WithResultTxHook that ctx carries, if any,
// what the write will return: pointers to its results (CreateTask's task,
// AddMember's member and whether it was added...), which hold their final
// values when the hook runs and do not change after. A write calls it
// before its hook runs; a write that returns nothing but an error does not
// call it.
func SetTxResult(ctx context.Context, values ...any) {
	if res, _ := ctx.Value(txResultKey{}).(*txResult); res != nil {
		res.values = values
	}
}
