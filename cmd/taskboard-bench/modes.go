package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// storm drops k subscribers, spread over the workers in proportion to
// their SSE and WebSocket subscribers, and waits for all to resume.
func (s *session) storm(ctx context.Context, k int, st *StormResult) error {
	totalDroppable := 0
	for _, d := range s.droppable {
		totalDroppable += d
	}
	shares := make([]int, len(s.groups))
	given := 0
	for i, d := range s.droppable {
		shares[i] = k * d / totalDroppable
		given += shares[i]
	}
	for i := 0; given < k; i = (i + 1) % len(shares) {
		if shares[i] < s.droppable[i] {
			shares[i]++
			given++
		}
	}
	id := s.b.nextID.Add(1)
	began := time.Now()
	for i, g := range s.groups {
		if err := g.send(command{Cmd: "drop", ID: id, Count: shares[i], Jitter: s.b.cfg.stormJitter, Timeout: s.b.cfg.stormTimeout}); err != nil {
			return err
		}
	}
	var reconnect, catchUp Histogram
	for _, g := range s.groups {
		r, err := g.await(ctx, "dropped", id)
		if err != nil {
			return err
		}
		st.Reconnected += r.Storm.Reconnected
		st.CaughtUp += r.Storm.CaughtUp
		reconnect.MergeData(r.Storm.ReconnectTime)
		catchUp.MergeData(r.Storm.CatchUpTime)
	}
	st.ReconnectTime = reconnect.Summary()
	st.CatchUpTime = catchUp.Summary()
	st.AllResumed = st.CaughtUp == k
	st.Elapsed = time.Since(began).Seconds()
	s.b.logf("storm: %d of %d caught up, the last after %.2f s", st.CaughtUp, k, st.CatchUpTime.Max/1000)
	return nil
}

// soak runs writes for the whole duration and samples the servers'
// memory and goroutines every -sample.
func (b *bench) soak(ctx context.Context, res *Result) error {
	counts := b.counts()
	if total(counts) == 0 {
		return errors.New("no subscribers: give -sse, -ws or -poll")
	}
	if b.cfg.adminToken == "" {
		return errors.New("-mode soak needs -admin-token")
	}
	s, err := b.connect(ctx, counts, "soak")
	if err != nil {
		return err
	}
	defer s.close(ctx)
	soak := &SoakResult{Subscribers: counts, Interval: b.cfg.sample.Seconds()}
	res.Soak = soak
	began := time.Now()
	var mu sync.Mutex
	sample := func() {
		sm, err := b.sampleServers(ctx)
		if err != nil {
			b.logf("soak: scrape: %v", err)
			return
		}
		sm.Elapsed = time.Since(began).Seconds()
		mu.Lock()
		soak.Samples = append(soak.Samples, *sm)
		mu.Unlock()
	}
	sample()
	during := func(wctx context.Context, _ func()) {
		t := time.NewTicker(b.cfg.sample)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				sample()
			}
		}
	}
	r, err := s.measure(ctx, "soak", b.cfg.rate, b.cfg.duration, during)
	if err != nil {
		return err
	}
	sample()
	soak.Run = r
	if b.cfg.svgPath != "" {
		return writeChart(b.cfg.svgPath, soakChart(soak))
	}
	return nil
}

// rest measures reads and moves, each for -duration with -rest-clients
// clients sending requests back to back.
func (b *bench) rest(ctx context.Context, res *Result) error {
	cfg := b.cfg
	n := cfg.restClients
	reads := newRequestStats()
	b.logf("rest: %d clients reading for %s", n, cfg.duration)
	elapsed := runClosedLoop(ctx, n, cfg.duration, reads, func(ctx context.Context, i int) (int, error) {
		return getTasks(ctx, b.writes, cfg.writeURLs[i%len(cfg.writeURLs)], cfg.tokens[i%len(cfg.tokens)], cfg.boards[i%len(cfg.boards)])
	})
	res.REST = append(res.REST, reads.result("GET /boards/{id}/tasks", n, elapsed, 0))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	movers, err := planMovers(ctx, b.api, cfg.writeURLs, cfg.tokens, cfg.boards, n, b.logf)
	if err != nil {
		return err
	}
	moves := newRequestStats()
	b.logf("rest: %d clients moving tasks for %s", n, cfg.duration)
	elapsed = runClosedLoop(ctx, n, cfg.duration, moves, func(ctx context.Context, i int) (int, error) {
		return movers[i].move(ctx, b.writes, cfg.movePos)
	})
	res.REST = append(res.REST, moves.result("PATCH /tasks/{id}/move", n, elapsed, 0))
	return ctx.Err()
}

// setup creates boards, each with lists and tasks, adds members, and
// prints the boards' ids.
func (b *bench) setup(ctx context.Context, res *Result) error {
	cfg := b.cfg
	if cfg.setupLists < 2 {
		return errors.New("-setup-lists must be at least 2 (writers move tasks between the first two)")
	}
	base, token := cfg.writeURLs[0], cfg.tokens[0]
	res.Boards = nil
	for i := range cfg.setupBoards {
		var board struct {
			ID string `json:"id"`
		}
		if err := b.api.do(ctx, http.MethodPost, base, "/boards", token, map[string]any{"name": fmt.Sprintf("%s %d", cfg.setupName, i+1)}, &board); err != nil {
			return fmt.Errorf("create board: %w", err)
		}
		var lists []string
		for l := range cfg.setupLists {
			var list struct {
				ID string `json:"id"`
			}
			if err := b.api.do(ctx, http.MethodPost, base, "/boards/"+board.ID+"/lists", token, map[string]any{"name": "List " + strconv.Itoa(l+1)}, &list); err != nil {
				return fmt.Errorf("create list: %w", err)
			}
			lists = append(lists, list.ID)
		}
		for t := range cfg.setupTasks {
			body := map[string]any{"title": fmt.Sprintf("Task %d", t+1), "description": "created by taskboard-bench", "listId": lists[t%2]}
			if err := b.api.do(ctx, http.MethodPost, base, "/tasks", token, body, nil); err != nil {
				return fmt.Errorf("create task: %w", err)
			}
		}
		for _, m := range cfg.setupMembers {
			if err := b.api.do(ctx, http.MethodPost, base, "/boards/"+board.ID+"/members", token, map[string]any{"userId": m}, nil); err != nil {
				return fmt.Errorf("add member %s: %w", m, err)
			}
		}
		res.Boards = append(res.Boards, board.ID)
	}
	return nil
}
