package taskboard

import (
	"context"

	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// The packages of this module reach the store's database through seam.
func init() {
	seam.DB = func(store any) *bun.DB { return store.(*Board).db }
	seam.WriteTx = func(ctx context.Context, store any, fn func(ctx context.Context, tx bun.Tx) error) error {
		return store.(*Board).plainTx(seam.WithTxHook(ctx, nil), func(tx bun.Tx) error { return fn(ctx, tx) })
	}
	seam.DBError = wrapDBError
}

// runTxHook runs the transaction hook that ctx carries, if any.
func runTxHook(ctx context.Context, tx bun.Tx) error {
	if hook := seam.TxHook(ctx); hook != nil {
		return hook(ctx, tx)
	}
	return nil
}
