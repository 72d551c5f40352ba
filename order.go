package taskboard

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/uptrace/bun"
)

// Positions are 0-based indexes kept contiguous (0..n-1) inside a parent:
// the tasks of a list, the lists of a board. They are not stored: each row
// holds an order key (rank.go), and its position is the number of its
// siblings with a smaller key. A write puts the row it creates or moves
// between its new neighbours' keys and leaves the siblings' rows alone.
//
// Writes find positions and neighbours in an in-memory index of each
// parent's keys (orderCache), read from the database the first time a
// change needs it and trusted only while the board's seq is the one it was
// kept at: every change that reorders a parent appends an event, so a seq
// that moved without this process (another instance sharing PostgreSQL)
// makes the index reload. Reads derive positions from the key order of the
// rows they read, in their own snapshot.

// siblings names a set of ordered rows: the tasks of a list or the lists
// of a board.
type siblings struct {
	table     string // "tasks" or "lists"
	parentCol string // "list_id" or "board_id"
	parentID  string
}

func tasksOf(listID string) siblings  { return siblings{"tasks", "list_id", listID} }
func listsOf(boardID string) siblings { return siblings{"lists", "board_id", boardID} }

// insertAt returns where an insert at p lands among n siblings: p itself,
// or n (the end) when p is nil or past the end.
func insertAt(p *int, n int) int {
	if p == nil || *p > n {
		return n
	}
	return *p
}

// order is the sorted keys of one set of siblings, in blocks of at most
// 2*orderBlock keys, so that finding, inserting and removing a key costs
// O(n/orderBlock + orderBlock) instead of moving the whole slice.
type order struct {
	blocks [][]string
	n      int
}

// orderBlock is the usual number of keys in a block of an order.
const orderBlock = 512

func newOrder(keys []string) *order {
	o := &order{n: len(keys)}
	for len(keys) > 0 {
		m := min(len(keys), orderBlock)
		o.blocks = append(o.blocks, slices.Clip(keys[:m]))
		keys = keys[m:]
	}
	return o
}

// len returns the number of keys.
func (o *order) len() int { return o.n }

// index returns the position of key k, which the set holds.
func (o *order) index(k string) (int, error) {
	pos := 0
	for _, b := range o.blocks {
		if b[len(b)-1] < k {
			pos += len(b)
			continue
		}
		i := sort.SearchStrings(b, k)
		if b[i] == k {
			return pos + i, nil
		}
		break
	}
	return 0, fmt.Errorf("order index out of step: key %q missing", k)
}

// find returns the block holding position i and i's index in it; i == n
// gives the end of the last block.
func (o *order) find(i int) (int, int) {
	for bi, b := range o.blocks {
		if i < len(b) {
			return bi, i
		}
		i -= len(b)
	}
	if len(o.blocks) == 0 {
		return 0, 0
	}
	last := len(o.blocks) - 1
	return last, len(o.blocks[last])
}

// at returns the key at position i, or "" outside the set.
func (o *order) at(i int) string {
	if i < 0 || i >= o.n {
		return ""
	}
	bi, j := o.find(i)
	return o.blocks[bi][j]
}

// set replaces the key at position i (keeping the order).
func (o *order) set(i int, k string) {
	bi, j := o.find(i)
	o.blocks[bi][j] = k
}

func (o *order) insert(i int, k string) {
	o.n++
	if len(o.blocks) == 0 {
		o.blocks = [][]string{{k}}
		return
	}
	bi, j := o.find(i)
	b := slices.Insert(o.blocks[bi], j, k)
	if len(b) > 2*orderBlock {
		right := slices.Clone(b[orderBlock:])
		b = slices.Clip(b[:orderBlock])
		o.blocks = slices.Insert(o.blocks, bi+1, right)
	}
	o.blocks[bi] = b
}

func (o *order) remove(i int) {
	bi, j := o.find(i)
	o.n--
	b := slices.Delete(o.blocks[bi], j, j+1)
	if len(b) == 0 {
		o.blocks = slices.Delete(o.blocks, bi, bi+1)
		return
	}
	o.blocks[bi] = b
}

// boardOrder is the order index of one board's parents, valid at seq.
type boardOrder struct {
	seq  int64
	used uint64 // orderCache.clock when last used
	keys int    // keys loaded, for the memory bound
	sets map[siblings]*order
}

// orderCache holds the order index of the boards written to lately. Its
// boardOrders are used under their board's write lock; mu guards the map.
type orderCache struct {
	mu     sync.Mutex
	boards map[string]*boardOrder
	keys   int    // keys held over all boards
	max    int    // bound on keys; least recently used boards go first
	clock  uint64 // counts uses
}

// maxCachedKeys bounds the keys the order index holds (about 40 MB at
// 20-byte keys).
const maxCachedKeys = 2_000_000

// forChange returns the board's order index for a change that started at
// seq, emptied if the board moved on since it was kept.
func (oc *orderCache) forChange(boardID string, seq int64) *boardOrder {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.boards == nil {
		oc.boards = map[string]*boardOrder{}
	}
	oc.clock++
	bo := oc.boards[boardID]
	if bo == nil || bo.seq != seq {
		if bo != nil {
			oc.keys -= bo.keys
		}
		bo = &boardOrder{seq: seq, sets: map[siblings]*order{}}
		oc.boards[boardID] = bo
	}
	bo.used = oc.clock
	return bo
}

// loaded accounts for n keys read into bo and evicts idle boards while the
// index holds too many.
func (oc *orderCache) loaded(boardID string, bo *boardOrder, n int) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.boards[boardID] != bo {
		return
	}
	bo.keys += n
	oc.keys += n
	limit := oc.max
	if limit == 0 {
		limit = maxCachedKeys
	}
	for oc.keys > limit {
		var oldest string
		var ob *boardOrder
		for id, b := range oc.boards {
			if b != bo && (ob == nil || b.used < ob.used) {
				oldest, ob = id, b
			}
		}
		if ob == nil {
			return
		}
		delete(oc.boards, oldest)
		oc.keys -= ob.keys
	}
}

// done records the outcome of a change that used bo: committed, the index
// is valid at the board's new seq; otherwise (or for a deleted board) it is
// dropped.
func (oc *orderCache) done(boardID string, bo *boardOrder, committed bool, seq int64) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.boards[boardID] != bo {
		return
	}
	if committed {
		bo.seq = seq
		return
	}
	delete(oc.boards, boardID)
	oc.keys -= bo.keys
}

// drop forgets the board's order index, which the next change reads anew.
func (oc *orderCache) drop(boardID string) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if bo := oc.boards[boardID]; bo != nil {
		delete(oc.boards, boardID)
		oc.keys -= bo.keys
	}
}

// order returns the order index of a set of siblings of the change's board.
func (c *change) order(ctx context.Context, s siblings) (*order, error) {
	if c.ord == nil {
		c.ord = c.orders.forChange(c.board.ID, c.startSeq)
	}
	if o := c.ord.sets[s]; o != nil {
		return o, nil
	}
	keys := []string{}
	if err := c.tx.NewSelect().Table(s.table).Column("rank").
		Where("? = ?", bun.Ident(s.parentCol), s.parentID).
		Order("rank").Scan(ctx, &keys); err != nil {
		return nil, fmt.Errorf("read order: %w", err)
	}
	o := newOrder(keys)
	c.ord.sets[s] = o
	c.orders.loaded(c.board.ID, c.ord, len(keys))
	return o, nil
}

// forget drops the order index of a set whose rows are all gone.
func (c *change) forget(s siblings) {
	if c.ord != nil {
		delete(c.ord.sets, s)
	}
}

// maxRankLen is the longest key a write makes before it respaces the keys
// around the spot; a variable so that tests can reach it quickly.
var maxRankLen = 24

// respaceWindow is the first number of neighbours on each side that a
// respacing rewrites; it doubles until the new keys are short enough.
const respaceWindow = 16

// place returns the key of a row put at position i of o (which does not
// hold the row), respacing neighbours when the key would be too long.
// skipID is the row's own id when it is still in the table.
func (c *change) place(ctx context.Context, s siblings, o *order, i int, skipID string) (string, error) {
	k, err := rankBetween(o.at(i-1), o.at(i))
	if err == nil && len(k) <= maxRankLen {
		return k, nil
	}
	return c.respace(ctx, s, o, i, skipID)
}

// respace gives the rows around position i of o new, evenly spread keys
// and returns a key for a row put at i. It changes only keys: no version,
// no updated_at and no event, as no position changes. The window grows
// until its keys fit in half of maxRankLen or it spans every sibling.
func (c *change) respace(ctx context.Context, s siblings, o *order, i int, skipID string) (string, error) {
	n := o.len()
	for w := respaceWindow; ; w *= 2 {
		lo, hi := max(0, i-w), min(n, i+w)
		whole := lo == 0 && hi == n
		keys, err := ranksBetween(o.at(lo-1), o.at(hi), hi-lo+1)
		if err != nil {
			if whole {
				return "", fmt.Errorf("respace order keys: %w", err)
			}
			continue
		}
		if !whole && longest(keys) > maxRankLen/2 {
			continue
		}
		if lo == hi {
			return keys[0], nil
		}
		var rows []struct {
			ID   string `bun:"id"`
			Rank string `bun:"rank"`
		}
		if err := c.tx.NewSelect().Table(s.table).Column("id", "rank").
			Where("? = ?", bun.Ident(s.parentCol), s.parentID).
			Where("rank >= ? AND rank <= ?", o.at(lo), o.at(hi-1)).
			Where("id <> ?", skipID).
			Order("rank").Scan(ctx, &rows); err != nil {
			return "", fmt.Errorf("respace order keys: %w", err)
		}
		if len(rows) != hi-lo {
			return "", fmt.Errorf("order index out of step: %d rows between %q and %q, want %d", len(rows), o.at(lo), o.at(hi-1), hi-lo)
		}
		for j, r := range rows {
			nk := keys[j]
			if j >= i-lo {
				nk = keys[j+1]
			}
			if _, err := c.tx.NewUpdate().Table(s.table).Set("rank = ?", nk).Where("id = ?", r.ID).Exec(ctx); err != nil {
				return "", fmt.Errorf("respace order keys: %w", err)
			}
			o.set(lo+j, nk)
		}
		return keys[i-lo], nil
	}
}

func longest(keys []string) int {
	n := 0
	for _, k := range keys {
		n = max(n, len(k))
	}
	return n
}

// orderChanged records that the order of a list's tasks changed, so that
// short polling by time returns the whole list.
func (c *change) orderChanged(ctx context.Context, listID string) error {
	if _, err := c.stmts.exec(ctx, c.tx, "UPDATE lists SET order_changed_at = ? WHERE id = ?", sqlTime(c.at), listID); err != nil {
		return fmt.Errorf("record order change: %w", err)
	}
	return nil
}

// numberTasks sets the positions of tasks read in list order, then key
// order, with every task of each list.
func numberTasks(tasks []Task) {
	for i := range tasks {
		if i > 0 && tasks[i-1].ListID == tasks[i].ListID {
			tasks[i].Position = tasks[i-1].Position + 1
		} else {
			tasks[i].Position = 0
		}
	}
}

// numberLists sets the positions of a board's lists read in key order.
func numberLists(lists []List) {
	for i := range lists {
		lists[i].Position = i
	}
}

// count runs q as a COUNT query.
func count(ctx context.Context, q *bun.SelectQuery) (int, error) {
	n, err := q.Count(ctx)
	return int(n), err
}
