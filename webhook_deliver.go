package taskboard

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskboard/taskboard/webhook"
	"github.com/uptrace/bun"
)

// Delivery of webhooks.
//
// Each webhook is delivered by at most one instance at a time: the one
// whose name is in its row's lease_owner until lease_until. An instance's
// leaser takes the free or expired leases of active webhooks and renews
// its own, all in one statement every renewEvery, and runs one worker per
// webhook it holds. A worker reads the board's log after the webhook's
// cursor and posts each event of the chosen types in seq order, retrying
// one event until it is acknowledged; it starts a send only while its lease
// has more than the send's timeout and a renewal period left, so no send
// outlives the lease, and another instance takes over once a lease has
// expired. A worker wakes on the board's feed (this instance's writes and
// the signals of the others) and, failing that, looks at the log every
// idlePoll. Cursors, failure windows and attempts are written by one
// flusher for all workers, every flushEvery, in one transaction: a busy
// board costs its webhooks a few writes a second, not one per event.

const (
	// webhookIdlePoll is how often an idle worker reads its board's log
	// without having been woken.
	webhookIdlePoll = 15 * time.Second
	// webhookFlushEvery is how often cursors and attempts are written.
	webhookFlushEvery = 200 * time.Millisecond
	// webhookRetryMax is the longest wait between two attempts.
	webhookRetryMax = 10 * time.Minute
	// webhookPage is how many events a worker reads from the log at once.
	webhookPage = 100
	// sendCloseGrace is how long Close lets the sends under way finish.
	sendCloseGrace = 2 * time.Second
)

// hookRunner delivers the webhooks whose leases this instance holds. A nil
// *hookRunner (delivery off) does nothing.
type hookRunner struct {
	b      *Board
	owner  string
	client *http.Client

	timeout, lease, renewEvery time.Duration
	disableAfter, retryMin     time.Duration

	kickCh chan struct{} // cap 1: run the leaser now
	// log is what the workers read of their boards' logs, shared.
	log *hookLog
	// flushMu makes flushes one at a time, so that they write in order.
	flushMu sync.Mutex

	mu      sync.Mutex
	workers map[string]*hookWorker // by webhook ID
	pending map[string]*hookPending
	dirty   bool

	delivered, failed, retries atomic.Int64
	abandoned                  atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	// sendCtx is the context of the sends under way, which may finish
	// after a worker is told to stop: it ends sendCloseGrace after close
	// begins, at once on abandon.
	sendCtx    context.Context
	sendCancel context.CancelFunc
	wg         sync.WaitGroup // the leaser, the flusher and the workers
}

// hookWorker is the goroutine delivering one webhook.
type hookWorker struct {
	id, boardID string
	wake        chan struct{} // cap 1: new events, or settings changed
	reload      atomic.Bool   // settings changed: read the row again
	leaseUntil  atomic.Int64  // Unix ms
	version     atomic.Int64  // the row's version as the leaser last saw it
	lag         atomic.Int64  // events of the board not handled yet
	cancel      context.CancelFunc
	done        chan struct{}
}

func (w *hookWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// hookPending is what a worker has done since the last flush.
type hookPending struct {
	epoch        int64
	version      int64 // the settings' version the failure window is of
	cursor       int64
	failingSince *time.Time
	attempts     []attemptRecord
}

func newHookRunner(b *Board) *hookRunner {
	o := b.opts
	r := &hookRunner{
		b:            b,
		owner:        newID(),
		timeout:      o.WebhookTimeout,
		disableAfter: o.WebhookDisableAfter,
		retryMin:     o.WebhookRetryMin,
		kickCh:       make(chan struct{}, 1),
		log:          newHookLog(b),
		workers:      make(map[string]*hookWorker),
		pending:      make(map[string]*hookPending),
	}
	// The lease outlives a send by half a timeout and a second; it is
	// renewed eight times over its length.
	r.lease = r.timeout + r.timeout/2 + time.Second
	r.renewEvery = r.lease / 8
	r.client = webhook.NewClient(o.WebhookAllowPrivate, r.timeout)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.sendCtx, r.sendCancel = context.WithCancel(context.Background())
	r.wg.Add(2)
	go r.leaser()
	go r.flusher()
	return r
}

// kick makes the leaser look for webhooks to deliver now.
func (r *hookRunner) kick() {
	if r == nil {
		return
	}
	select {
	case r.kickCh <- struct{}{}:
	default:
	}
}

// changed tells the worker of a webhook, if it runs here, to read its
// settings again, and the leaser to look.
func (r *hookRunner) changed(id string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	w := r.workers[id]
	r.mu.Unlock()
	if w != nil {
		w.reload.Store(true)
		w.poke()
	}
	r.kick()
}

// wake wakes the workers of a board, whose log grew; "" wakes them all.
func (r *hookRunner) wake(boardID string) {
	if r == nil {
		return
	}
	r.log.woke(boardID)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workers {
		if boardID == "" || w.boardID == boardID {
			w.poke()
		}
	}
}

// close stops delivery: the workers end (a send under way is cancelled),
// what they did is written, and the leases are released so that another
// instance takes over at once.
func (r *hookRunner) close() {
	if r == nil {
		return
	}
	r.cancel()
	// The sends under way may finish, so that what they delivered is
	// not delivered again by the next instance.
	cut := time.AfterFunc(min(r.timeout, sendCloseGrace), r.sendCancel)
	r.wg.Wait()
	cut.Stop()
	r.sendCancel()
	r.client.CloseIdleConnections()
	if r.abandoned.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.flush(ctx)
	if _, err := r.b.db.NewUpdate().Model((*webhookRecord)(nil)).
		Set("lease_owner = NULL").Set("lease_until = 0").
		Where("lease_owner = ?", r.owner).Exec(ctx); err != nil {
		r.b.opts.Logger.Warn("taskboard: release webhook leases", "err", err)
	}
}

// abandon stops delivery as a crash would: nothing is written, the leases
// stay until they expire.
func (r *hookRunner) abandon() {
	r.abandoned.Store(true)
	r.cancel()
	r.sendCancel()
	r.wg.Wait()
	r.client.CloseIdleConnections()
	r.mu.Lock()
	r.pending = map[string]*hookPending{}
	r.mu.Unlock()
}

func (r *hookRunner) leaser() {
	defer r.wg.Done()
	t := time.NewTicker(r.renewEvery)
	defer t.Stop()
	for {
		r.renew()
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.kickCh:
		}
	}
}

// renew takes and renews, in one statement, the leases of every active
// webhook that is free, expired or this instance's; starts a worker for
// each new one and stops the workers of those it no longer holds.
func (r *hookRunner) renew() {
	start := time.Now()
	until := start.Add(r.lease).UnixMilli()
	ctx, cancel := context.WithTimeout(r.ctx, r.renewEvery*2)
	defer cancel()
	var rows []struct {
		ID      string `bun:"id"`
		BoardID string `bun:"board_id"`
		Version int64  `bun:"version"`
	}
	err := r.b.writeHook(ctx, func(db bun.IDB) error {
		// The rows are locked in the order of their IDs, as the flusher
		// updates them, so that the two never wait for each other in a
		// cycle (PostgreSQL would abort one, and leases would lapse).
		lockable := db.NewSelect().Model((*webhookRecord)(nil)).Column("id").
			Where("status = ?", WebhookActive).
			Where("lease_owner = ? OR lease_owner IS NULL OR lease_until < ?", r.owner, start.UnixMilli()).
			Order("id")
		if !r.b.sqlite {
			lockable = lockable.For("UPDATE")
		}
		return db.NewUpdate().Model((*webhookRecord)(nil)).
			Set("lease_owner = ?", r.owner).Set("lease_until = ?", until).
			Where("id IN (?)", lockable).
			Where("status = ?", WebhookActive).
			Where("lease_owner = ? OR lease_owner IS NULL OR lease_until < ?", r.owner, start.UnixMilli()).
			Returning("id, board_id, version").Scan(ctx, &rows)
	})
	if err != nil {
		if r.ctx.Err() == nil {
			r.b.opts.Logger.Warn("taskboard: renew webhook leases", "err", err)
		}
		return
	}
	held := make(map[string]bool, len(rows))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return
	}
	for _, row := range rows {
		held[row.ID] = true
		w := r.workers[row.ID]
		if w == nil {
			w = &hookWorker{id: row.ID, boardID: row.BoardID, wake: make(chan struct{}, 1), done: make(chan struct{})}
			w.leaseUntil.Store(until)
			w.version.Store(row.Version)
			var wctx context.Context
			wctx, w.cancel = context.WithCancel(r.ctx)
			r.workers[row.ID] = w
			r.wg.Add(1)
			go r.work(wctx, w)
			continue
		}
		w.leaseUntil.Store(until)
		if w.version.Swap(row.Version) != row.Version {
			w.reload.Store(true)
			w.poke()
		}
	}
	for id, w := range r.workers {
		if !held[id] {
			// Paused, disabled, deleted, or the lease was lost.
			w.cancel()
		}
	}
}

// writeHook runs a write of the deliverer, serialised with the other
// writers on SQLite.
func (b *Board) writeHook(ctx context.Context, fn func(db bun.IDB) error) error {
	if b.sqlite {
		b.writeMu.Lock()
		defer b.writeMu.Unlock()
	}
	return wrapDBError(fn(b.db))
}

// hookState is a worker's copy of its webhook's row.
type hookState struct {
	rec     webhookRecord
	attempt int   // attempts made at the event after the cursor
	lastN   int64 // the number of the latest attempt recorded
}

func (r *hookRunner) work(ctx context.Context, w *hookWorker) {
	defer r.wg.Done()
	defer func() {
		// Where the worker got to is written before another worker of the
		// webhook may start.
		if !r.abandoned.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.flush(ctx)
			cancel()
		}
		r.mu.Lock()
		if r.workers[w.id] == w {
			delete(r.workers, w.id)
		}
		last := true
		for _, o := range r.workers {
			if o.boardID == w.boardID {
				last = false
			}
		}
		if last {
			r.log.forget(w.boardID)
		}
		r.mu.Unlock()
		close(w.done)
	}()
	var st hookState
	if !r.load(ctx, w, &st, true) {
		return
	}
	for ctx.Err() == nil {
		if w.reload.Swap(false) && !r.load(ctx, w, &st, false) {
			return
		}
		board, events, err := r.log.after(ctx, st.rec.BoardID, st.rec.Cursor)
		if err != nil {
			if ctx.Err() == nil {
				r.b.opts.Logger.Warn("taskboard: webhook reads the log", "webhook", w.id, "err", err)
				r.pause(ctx, w, time.Second)
			}
			continue
		}
		w.lag.Store(board.Seq - st.rec.Cursor)
		if st.rec.Cursor < board.TrimmedSeq {
			body, _ := json.Marshal(map[string]any{"type": "reset", "boardId": st.rec.BoardID, "seq": board.Seq, "reason": ReasonHistoryTruncated})
			id := st.rec.BoardID + ":reset:" + strconv.FormatInt(board.Seq, 10)
			if !r.deliver(ctx, w, &st, board.Seq, id, body) {
				continue
			}
			r.advance(w, &st, board.Seq)
			continue
		}
		for _, ev := range events {
			if w.reload.Load() || ctx.Err() != nil {
				break
			}
			if st.rec.wants(ev.Type) {
				id := st.rec.BoardID + ":" + strconv.FormatInt(ev.Seq, 10)
				if !r.deliver(ctx, w, &st, ev.Seq, id, ev.Data) {
					break
				}
			}
			r.advance(w, &st, ev.Seq)
			w.lag.Store(board.Seq - st.rec.Cursor)
		}
		if len(events) == 0 {
			select {
			case <-ctx.Done():
			case <-w.wake:
			case <-time.After(webhookIdlePoll):
			}
		}
	}
}

// pause waits d, or less if the worker is woken or stopped.
func (r *hookRunner) pause(ctx context.Context, w *hookWorker, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-w.wake:
	case <-t.C:
	}
}

// load reads the webhook's row into st. It reports false when the worker
// must end: the row is gone or not active. A replay (a new epoch), or the
// first load, takes the stored cursor; otherwise the worker's own, which
// may be ahead of what is written, stays.
func (r *hookRunner) load(ctx context.Context, w *hookWorker, st *hookState, first bool) bool {
	for ctx.Err() == nil {
		var rec webhookRecord
		err := r.b.db.NewSelect().Model(&rec).Where("id = ?", w.id).Scan(ctx)
		if err == nil && first {
			var last int64
			err = r.b.db.NewSelect().Model((*attemptRecord)(nil)).ColumnExpr("COALESCE(MAX(n), 0)").
				Where("webhook_id = ?", w.id).Scan(ctx, &last)
			st.lastN = max(st.lastN, last)
		}
		if err != nil {
			if ctx.Err() == nil && !isNoRows(err) {
				r.b.opts.Logger.Warn("taskboard: webhook reads its settings", "webhook", w.id, "err", err)
				r.pause(ctx, w, time.Second)
				continue
			}
			return false
		}
		if rec.Status != WebhookActive {
			return false
		}
		if !first && rec.Epoch == st.rec.Epoch {
			rec.Cursor = st.rec.Cursor
			if rec.Version == st.rec.Version {
				// Unchanged settings: the worker's failure window, which
				// may be ahead of what is written, goes on.
				rec.FailingSince = st.rec.FailingSince
			}
		} else {
			st.attempt = 0
		}
		st.rec = rec
		return true
	}
	return false
}

// advance moves the worker's cursor past seq, for the flusher to write.
func (r *hookRunner) advance(w *hookWorker, st *hookState, seq int64) {
	st.rec.Cursor = seq
	st.rec.FailingSince = nil
	st.attempt = 0
	r.note(w, st, nil)
}

// note queues the worker's state, and an attempt if any, for the flusher.
func (r *hookRunner) note(w *hookWorker, st *hookState, a *attemptRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[w.id]
	if p == nil || p.epoch != st.rec.Epoch {
		var attempts []attemptRecord
		if p != nil {
			attempts = p.attempts
		}
		p = &hookPending{attempts: attempts}
		r.pending[w.id] = p
	}
	p.epoch, p.version, p.cursor, p.failingSince = st.rec.Epoch, st.rec.Version, st.rec.Cursor, st.rec.FailingSince
	if a != nil {
		p.attempts = append(p.attempts, *a)
	}
	r.dirty = true
}

// deliver sends one event (or reset) until it is acknowledged. It reports
// false when the worker stopped, its settings changed, or the webhook was
// disabled, before an acknowledgement.
func (r *hookRunner) deliver(ctx context.Context, w *hookWorker, st *hookState, seq int64, id string, body []byte) bool {
	for ctx.Err() == nil {
		if w.reload.Load() {
			return false
		}
		if !r.awaitLease(ctx, w) {
			return false
		}
		st.attempt++
		if st.attempt > 1 {
			r.retries.Add(1)
		}
		at := now()
		// A send under way is not cut when the worker is told to stop
		// (the lease covers it): an acknowledgement is kept.
		code, errText := r.send(r.sendCtx, st, id, body)
		if errText != "" && (ctx.Err() != nil || r.sendCtx.Err() != nil) {
			// Perhaps cut by the stop: not an answer of the receiver.
			return false
		}
		a := attemptRecord{WebhookID: w.id, Seq: seq, Attempt: st.attempt, At: at,
			DurationMS: time.Since(at).Milliseconds()}
		st.lastN = max(st.lastN+1, at.UnixMicro())
		a.N = st.lastN
		if code != 0 {
			a.StatusCode = &code
		}
		if errText == "" {
			r.delivered.Add(1)
			r.note(w, st, &a)
			return true
		}
		r.failed.Add(1)
		a.Error = &errText
		if st.rec.FailingSince == nil {
			st.rec.FailingSince = &at
		}
		r.note(w, st, &a)
		if time.Since(*st.rec.FailingSince) >= r.disableAfter {
			r.disable(ctx, w, st)
			return false
		}
		wait := r.backoff(st.attempt)
		t := time.NewTimer(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return false
			case <-w.wake:
				if w.reload.Load() {
					t.Stop()
					return false
				}
			case <-t.C:
				break waiting
			}
		}
	}
	return false
}

// backoff is the wait after the n-th failed attempt: from about
// Options.WebhookRetryMin, doubling, to at most 10 minutes, each wait drawn
// between its half and itself.
func (r *hookRunner) backoff(n int) time.Duration {
	d := r.retryMin
	for i := 1; i < n && d < webhookRetryMax; i++ {
		d *= 2
	}
	d = min(d, webhookRetryMax)
	return d/2 + rand.N(d/2+1)
}

// awaitLease waits until the worker's lease leaves room for a whole send,
// and reports false when the worker stopped first.
func (r *hookRunner) awaitLease(ctx context.Context, w *hookWorker) bool {
	for {
		if time.Now().Add(r.timeout+r.renewEvery).UnixMilli() < w.leaseUntil.Load() {
			return true
		}
		t := time.NewTimer(r.renewEvery / 2)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-w.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// send posts one delivery. It returns the response's status code (0 when
// none came) and, unless the receiver acknowledged, what went wrong.
func (r *hookRunner) send(ctx context.Context, st *hookState, id string, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ts := time.Now()
	sig, err := webhook.Sign(st.rec.Secret, id, ts, body)
	if err != nil {
		return 0, "cannot sign: " + err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.rec.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "bad request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "taskboard-webhooks")
	req.Header.Set(webhook.HeaderID, id)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, sig)
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, fmt.Sprintf("no answer within %s", r.timeout)
		}
		return 0, err.Error()
	}
	// At most a KiB of the body is read, and none of it kept.
	io.Copy(io.Discard, io.LimitReader(resp.Body, webhook.MaxResponseBytes))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, "answered " + strconv.Itoa(resp.StatusCode)
}

// disable turns the webhook disabled after its failure window.
func (r *hookRunner) disable(ctx context.Context, w *hookWorker, st *hookState) {
	r.flush(ctx)
	err := r.b.writeHook(ctx, func(db bun.IDB) error {
		_, err := db.NewUpdate().Model((*webhookRecord)(nil)).
			Set("status = ?", WebhookDisabled).Set("version = version + 1").
			Where("id = ? AND lease_owner = ? AND epoch = ? AND status = ?", w.id, r.owner, st.rec.Epoch, WebhookActive).Exec(ctx)
		return err
	})
	if err != nil {
		r.b.opts.Logger.Warn("taskboard: disable webhook", "webhook", w.id, "err", err)
	}
	w.reload.Store(true)
}

func (r *hookRunner) flusher() {
	defer r.wg.Done()
	t := time.NewTicker(webhookFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			r.flush(r.ctx)
		}
	}
}

// flush writes the workers' cursors, failure windows and attempts in one
// transaction, keeping the latest MaxWebhookAttempts attempts of each. A
// cursor is written only while this instance holds the lease and no replay
// moved it since.
func (r *hookRunner) flush(ctx context.Context) {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return
	}
	batch := r.pending
	r.pending = make(map[string]*hookPending)
	r.dirty = false
	r.mu.Unlock()
	var stale []string
	// Rows are updated in the order of their IDs, as the leaser locks
	// them, so that the two never wait for each other in a cycle.
	ids := make([]string, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	err := r.b.plainTx(ctx, func(tx bun.Tx) error {
		stale = stale[:0]
		for _, id := range ids {
			p := batch[id]
			res, err := tx.NewUpdate().Model((*webhookRecord)(nil)).
				Set("cursor_seq = ?", p.cursor).
				// A change of the settings (a resumption) starts a new
				// failure window, which an older one must not overwrite.
				Set("failing_since = CASE WHEN version = ? THEN ? ELSE failing_since END", p.version, p.failingSince).
				Where("id = ? AND lease_owner = ? AND epoch = ?", id, r.owner, p.epoch).Exec(ctx)
			if err != nil {
				return fmt.Errorf("write cursor of webhook %s: %w", id, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				stale = append(stale, id)
				exists, err := tx.NewSelect().Model((*webhookRecord)(nil)).Where("id = ?", id).Exists(ctx)
				if err != nil {
					return err
				}
				if !exists {
					continue
				}
			}
			if len(p.attempts) == 0 {
				continue
			}
			if _, err := tx.NewInsert().Model(&p.attempts).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return fmt.Errorf("record attempts of webhook %s: %w", id, err)
			}
			if _, err := tx.NewDelete().Model((*attemptRecord)(nil)).
				Where("webhook_id = ?", id).
				Where("n < (SELECT n FROM webhook_attempts WHERE webhook_id = ? ORDER BY n DESC LIMIT 1 OFFSET ?)", id, MaxWebhookAttempts-1).
				Exec(ctx); err != nil {
				return fmt.Errorf("prune attempts of webhook %s: %w", id, err)
			}
		}
		return nil
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			r.b.opts.Logger.Warn("taskboard: write webhook progress", "err", err)
		}
		// Keep it for the next flush; newer state wins, attempts in order.
		for id, p := range batch {
			if q := r.pending[id]; q != nil {
				if q.epoch == p.epoch {
					q.attempts = append(p.attempts, q.attempts...)
				}
				continue
			}
			r.pending[id] = p
		}
		r.dirty = true
		return
	}
	for _, id := range stale {
		if w := r.workers[id]; w != nil {
			w.reload.Store(true)
			w.poke()
		}
	}
}

// addStats adds the deliverer's counters to s.
func (r *hookRunner) addStats(s *Stats) {
	if r == nil {
		return
	}
	s.WebhookDeliveries = r.delivered.Load()
	s.WebhookFailures = r.failed.Load()
	s.WebhookRetries = r.retries.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workers {
		s.WebhookLag = max(s.WebhookLag, w.lag.Load())
	}
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
