package taskboard

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Positions are 0-based indexes kept contiguous (0..n-1) inside a parent:
// the tasks of a list, the lists of a board. Every insert, move and delete
// shifts the neighbours so that the rule holds after each operation.

// insertAt returns where an insert at p lands among n siblings: p itself,
// or n (the end) when p is nil or past the end.
func insertAt(p *int, n int) int {
	if p == nil || *p > n {
		return n
	}
	return *p
}

// shift adds delta to the position of the siblings (rows of model whose
// parentCol is parentID) with position >= from, and < to when to >= 0. A
// non-zero touch is set as the siblings' updated_at (tasks have one).
func shift(ctx context.Context, tx bun.Tx, model any, parentCol, parentID string, from, to, delta int, touch time.Time) error {
	q := tx.NewUpdate().Model(model).
		Set("position = position + ?", delta).
		Where("? = ?", bun.Ident(parentCol), parentID).
		Where("position >= ?", from)
	if !touch.IsZero() {
		// A shifted task's row changed: short polling by time must see it.
		// Its version stays, as the task itself did not change.
		q = q.Set("updated_at = ?", touch)
	}
	if to >= 0 {
		q = q.Where("position < ?", to)
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("shift positions: %w", err)
	}
	return nil
}

// moveWithin shifts the siblings between from and to so that the row at
// from can take position to (an array splice within one parent). The
// moving row itself is updated by the caller.
func moveWithin(ctx context.Context, tx bun.Tx, model any, parentCol, parentID string, from, to int, touch time.Time) error {
	if to > from {
		return shift(ctx, tx, model, parentCol, parentID, from+1, to+1, -1, touch)
	}
	return shift(ctx, tx, model, parentCol, parentID, to, from, +1, touch)
}

// count runs q as a COUNT query.
func count(ctx context.Context, q *bun.SelectQuery) (int, error) {
	n, err := q.Count(ctx)
	return int(n), err
}
