package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// bench is one run of the tool.
type bench struct {
	cfg    *config
	stderr io.Writer
	api    *api
	writes *http.Client // writers' client
	nextID atomic.Int64
}

func newBench(cfg *config, stderr io.Writer) *bench {
	return &bench{
		cfg:    cfg,
		stderr: stderr,
		api:    &api{client: &http.Client{Transport: newTransport(nil, 64), Timeout: 60 * time.Second}},
		writes: &http.Client{Transport: newTransport(nil, max(cfg.writers, cfg.restClients, 16))},
	}
}

func (b *bench) close() {
	b.api.client.CloseIdleConnections()
	b.writes.CloseIdleConnections()
}

func (b *bench) logf(format string, args ...any) {
	if !b.cfg.quiet {
		fmt.Fprintf(b.stderr, format+"\n", args...)
	}
}

// runMode runs the configured mode.
func (b *bench) runMode(ctx context.Context) (*Result, error) {
	res := newResult(b.cfg)
	var err error
	switch b.cfg.mode {
	case "fanout", "multi":
		var r *RunResult
		r, err = b.fanout(ctx, b.counts(), b.cfg.mode)
		if r != nil {
			res.Runs = append(res.Runs, r)
		}
	case "sweep":
		err = b.sweep(ctx, res)
	case "ceiling":
		err = b.ceiling(ctx, res)
	case "memory":
		err = b.memory(ctx, res)
	case "storm":
		err = b.stormMode(ctx, res)
	case "soak":
		err = b.soak(ctx, res)
	case "rest":
		err = b.rest(ctx, res)
	case "writes":
		err = b.writeLoad(ctx, res)
	case "setup":
		err = b.setup(ctx, res)
	default:
		return nil, fmt.Errorf("unknown -mode %q", b.cfg.mode)
	}
	res.Finished = time.Now().UTC()
	return res, err
}

// counts returns the subscriber counts of the command line.
func (b *bench) counts() map[string]int {
	return map[string]int{transSSE: b.cfg.sse, transWS: b.cfg.ws, transPoll: b.cfg.poll, transMulti: b.cfg.streams}
}

// session is a set of connected subscribers and the writers that feed them.
type session struct {
	b       *bench
	agg     *aggregator
	prog    *progress
	groups  []*group
	counts  map[string]int
	start   map[string]int64 // board → seq the subscribers start after
	movers  []*mover
	lastAcc map[string]Accounting
	lastCtr map[string]tickStats
	// droppable counts each worker's SSE and WebSocket subscribers.
	droppable []int
}

// connect starts the workers and connects the subscribers, at the ramp
// rate, each after its board's current seq.
func (b *bench) connect(ctx context.Context, counts map[string]int, label string) (*session, error) {
	cfg := b.cfg
	s := &session{b: b, agg: newAggregator(), counts: counts, start: make(map[string]int64), lastAcc: make(map[string]Accounting)}
	for _, board := range cfg.boards {
		snap, err := b.api.snapshot(ctx, cfg.urls[0], cfg.tokens[0], board)
		if err != nil {
			return nil, err
		}
		s.start[board] = snap.Seq
	}
	if cfg.writers > 0 {
		movers, err := planMovers(ctx, b.api, cfg.writeURLs, cfg.tokens, cfg.boards, cfg.writers, b.logf)
		if err != nil {
			return nil, err
		}
		s.movers = movers
	}
	var specs []subSpec
	// Interleave the transports so that every worker gets its share of each.
	remaining := map[string]int{}
	total := 0
	for t, n := range counts {
		remaining[t] = n
		total += n
	}
	// Each transport's subscribers are spread evenly over the servers and
	// the boards: the k-th of a transport goes to server k mod servers, and
	// to the boards in turn within each server.
	nth := map[string]int{}
	for len(specs) < total {
		for _, t := range transports {
			if remaining[t] > 0 {
				remaining[t]--
				i, k := len(specs), nth[t]
				nth[t]++
				board := cfg.boards[(k/len(cfg.urls))%len(cfg.boards)]
				spec := subSpec{
					ID: i, Transport: t, URL: cfg.urls[k%len(cfg.urls)], Board: board,
					Token: cfg.tokens[i%len(cfg.tokens)], After: s.start[board],
				}
				if t == transMulti {
					spec.Board, spec.After = "", 0
					spec.Boards = streamBoards(cfg.boards, cfg.streamBoards, k/len(cfg.urls))
					spec.Afters = make(map[string]int64, len(spec.Boards))
					for _, b := range spec.Boards {
						spec.Afters[b] = s.start[b]
					}
				}
				specs = append(specs, spec)
			}
		}
	}
	workers := cfg.workers
	if workers <= 0 {
		workers = max(1, (total+cfg.connsPerWorker-1)/cfg.connsPerWorker)
	}
	workers = min(workers, max(total, 1))
	s.prog = newProgress(b.stderr, s.agg)
	if !cfg.quiet {
		go s.prog.run()
	} else {
		close(s.prog.stopped)
	}
	s.prog.setLabel("%s: connecting %d", label, total)
	slices := make([][]subSpec, workers)
	s.droppable = make([]int, workers)
	for i, spec := range specs {
		slices[i%workers] = append(slices[i%workers], spec)
		if spec.Transport == transSSE || spec.Transport == transWS {
			s.droppable[i%workers]++
		}
	}
	for i := range workers {
		g, err := startGroup(ctx, i, cfg.inProcess, s.agg.onTick)
		if err != nil {
			s.close(ctx)
			return nil, err
		}
		s.groups = append(s.groups, g)
	}
	rampTime := time.Duration(0)
	if cfg.ramp > 0 {
		rampTime = time.Duration(float64(total) / cfg.ramp * float64(time.Second))
	}
	id := b.nextID.Add(1)
	for i, g := range s.groups {
		c := command{Cmd: "start", ID: id, Subs: slices[i], Sources: cfg.sources, PollTimeout: cfg.pollTimeout, Timeout: rampTime + cfg.connectTimeout}
		if cfg.ramp > 0 {
			c.Ramp = cfg.ramp / float64(workers)
		}
		if err := g.send(c); err != nil {
			s.close(ctx)
			return nil, err
		}
	}
	failed := 0
	for _, g := range s.groups {
		r, err := g.await(ctx, "started", id)
		if err != nil {
			s.close(ctx)
			return nil, err
		}
		failed += r.Failed
	}
	if failed > 0 {
		c := s.agg.counters()
		s.close(ctx)
		return nil, fmt.Errorf("%d of %d subscribers could not connect in time (last errors: %s)", failed, total, lastErrors(c))
	}
	b.logf("%s: %d subscribers connected (%s) over %d worker(s)", label, total, countsString(counts), workers)
	s.lastCtr = s.agg.counters()
	return s, nil
}

func lastErrors(c map[string]tickStats) string {
	out := ""
	for _, t := range transports {
		if e := c[t].LastError; e != "" {
			out += fmt.Sprintf("%s: %s; ", t, e)
		}
	}
	if out == "" {
		return "none"
	}
	return out
}

// close stops the workers and the progress line.
func (s *session) close(ctx context.Context) {
	id := s.b.nextID.Add(1)
	for _, g := range s.groups {
		g.stop(ctx, id)
	}
	s.groups = nil
	if !s.b.cfg.quiet {
		select {
		case <-s.prog.stopped:
		default:
			s.prog.close()
		}
	}
}

// finalSeqs reads every board's seq.
func (s *session) finalSeqs(ctx context.Context) (map[string]int64, error) {
	final := make(map[string]int64)
	for _, board := range s.b.cfg.boards {
		snap, err := s.b.api.snapshot(ctx, s.b.cfg.urls[0], s.b.cfg.tokens[0], board)
		if err != nil {
			return nil, err
		}
		final[board] = snap.Seq
	}
	return final, nil
}

// check waits for every subscriber to have the boards' final seqs and
// returns the accounting since the previous check, by transport, and the
// final seqs.
func (s *session) check(ctx context.Context) (map[string]Accounting, map[string]int64, error) {
	final, err := s.finalSeqs(ctx)
	if err != nil {
		return nil, nil, err
	}
	id := s.b.nextID.Add(1)
	for _, g := range s.groups {
		if err := g.send(command{Cmd: "check", ID: id, Final: final, Timeout: s.b.cfg.drain}); err != nil {
			return nil, nil, err
		}
	}
	total := make(map[string]Accounting)
	for _, g := range s.groups {
		r, err := g.await(ctx, "checked", id)
		if err != nil {
			return nil, nil, err
		}
		for t, a := range r.Accounts {
			x := total[t]
			x.Add(a)
			total[t] = x
		}
	}
	delta := make(map[string]Accounting)
	for t, a := range total {
		p := s.lastAcc[t]
		delta[t] = Accounting{
			Received: a.Received - p.Received, Lost: a.Lost - p.Lost, Duplicated: a.Duplicated - p.Duplicated,
			OutOfOrder: a.OutOfOrder - p.OutOfOrder, Behind: a.Behind,
		}
	}
	s.lastAcc = total
	return delta, final, nil
}

// measure moves tasks at rate for d, waits for the deliveries, and
// reports the phase. During, if not nil, runs beside the writes with a
// context that ends with them, and may end them early with stopWrites.
func (s *session) measure(ctx context.Context, label string, rate float64, d time.Duration, during func(wctx context.Context, stopWrites func())) (*RunResult, error) {
	cfg := s.b.cfg
	writes := newRequestStats()
	s.prog.setWrites(writes)
	s.prog.setLabel("%s: %s at %g moves/s", label, countsString(s.counts), rate)
	startSeqs, err := s.finalSeqs(ctx)
	if err != nil {
		return nil, err
	}
	s.agg.beginPhase()
	before := s.agg.counters()
	serverBefore, _ := s.b.sampleServers(ctx)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if during != nil {
		go func() { defer close(done); during(wctx, cancel) }()
	} else {
		close(done)
	}
	elapsed := runMovers(ctx, wctx, s.b.writes, s.movers, rate, d, cfg.movePos, writes)
	cancel()
	<-done
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	s.prog.setLabel("%s: draining", label)
	acc, final, err := s.check(ctx)
	if err != nil {
		return nil, err
	}
	hists, delivered, phase := s.agg.endPhase()
	var events int64
	for board, seq := range final {
		events += seq - startSeqs[board]
	}
	after := s.agg.counters()
	serverAfter, _ := s.b.sampleServers(ctx)
	r := &RunResult{
		Label: label, Subscribers: map[string]int{}, Boards: len(cfg.boards), Servers: len(cfg.urls),
		StreamBoards: cfg.streamBoards,
		Writers:      len(s.movers), WriteRate: rate, Seconds: phase.Seconds(), Events: events,
		Writes:     writes.result("moves", len(s.movers), elapsed, rate),
		Transports: map[string]*DeliveryResult{},
	}
	if serverBefore != nil && serverAfter != nil {
		r.ServerBefore, r.ServerAfter = serverBefore, serverAfter
	}
	all := &Histogram{}
	allRes := &DeliveryResult{}
	for _, t := range transports {
		n := s.counts[t]
		if n == 0 {
			continue
		}
		r.Subscribers[t] = n
		h := hists[t]
		if h == nil {
			h = &Histogram{}
		}
		all.Merge(h)
		a := acc[t]
		frames := after[t].Frames - before[t].Frames
		dr := &DeliveryResult{
			Subscribers: n, Connected: after[t].Connected, Deliveries: delivered[t],
			PerSecond: float64(delivered[t]) / phase.Seconds(), Latency: h.Summary(),
			Lost: a.Lost, Duplicated: a.Duplicated, OutOfOrder: a.OutOfOrder, Behind: a.Behind,
			Disconnects:     after[t].Disconnects - before[t].Disconnects,
			ConnectFailures: after[t].ConnectFailures - before[t].ConnectFailures,
			Resets:          after[t].Resets - before[t].Resets,
			ParseErrors:     after[t].ParseErrors - before[t].ParseErrors,
			Errors:          after[t].Errors - before[t].Errors,
			LastError:       after[t].LastError,
		}
		if frames > 0 {
			dr.Frames = frames
			dr.IDBytesPerFrame = float64(after[t].IDBytes-before[t].IDBytes) / float64(frames)
			dr.BytesPerFrame = float64(after[t].FrameBytes-before[t].FrameBytes) / float64(frames)
		}
		r.Transports[t] = dr
		allRes.add(dr)
	}
	allRes.Latency = all.Summary()
	allRes.PerSecond = float64(allRes.Deliveries) / phase.Seconds()
	r.All = allRes
	s.lastCtr = after
	return r, nil
}

// fanout connects the subscribers, measures one phase and disconnects.
func (b *bench) fanout(ctx context.Context, counts map[string]int, label string) (*RunResult, error) {
	if total(counts) == 0 {
		return nil, errors.New("no subscribers: give -sse, -ws or -poll")
	}
	s, err := b.connect(ctx, counts, label)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	return s.measure(ctx, label, b.cfg.rate, b.cfg.duration, nil)
}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// sweep runs fanout at each subscriber count for each transport and
// writes the latency chart.
func (b *bench) sweep(ctx context.Context, res *Result) error {
	for _, n := range b.cfg.sweep {
		for _, t := range b.cfg.sweepTransports {
			counts := map[string]int{t: n}
			if t == "mixed" {
				counts = map[string]int{transSSE: n / 2, transWS: n - n/2}
			}
			label := fmt.Sprintf("sweep %s %d", t, n)
			r, err := b.fanout(ctx, counts, label)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			r.Label = t
			res.Runs = append(res.Runs, r)
			b.logf("%s: p50 %.1f ms, p99 %.1f ms, %.0f deliveries/s, lost %d", label, r.All.Latency.P50, r.All.Latency.P99, r.All.PerSecond, r.All.Lost)
			b.waitIdle(ctx)
		}
	}
	if b.cfg.svgPath != "" {
		return writeChart(b.cfg.svgPath, sweepChart(res.Runs, b.cfg.rate))
	}
	return nil
}

// waitIdle waits (at most 30 s) until the servers hold no real-time
// connection, so that one run's teardown does not weigh on the next.
func (b *bench) waitIdle(ctx context.Context) {
	if b.cfg.adminToken == "" {
		sleepCtx(ctx, 3*time.Second)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s, err := b.sampleServers(ctx)
		if err != nil || s.Connections == 0 {
			return
		}
		if !sleepCtx(ctx, 250*time.Millisecond) {
			return
		}
	}
}

// sampleServers scrapes every server's /metrics and sums the figures. It
// returns nil without an admin token.
func (b *bench) sampleServers(ctx context.Context) (*ServerSample, error) {
	if b.cfg.adminToken == "" {
		return nil, nil
	}
	var sum ServerSample
	for _, u := range b.cfg.urls {
		m, err := scrape(ctx, b.api.client, u, b.cfg.adminToken)
		if err != nil {
			return nil, err
		}
		sum = sum.add(sampleOf(m))
	}
	sum.At = time.Now().UTC()
	return &sum, nil
}

// ceiling steps the write rate up until p99 passes the limit or an event
// is lost, duplicated or reordered, or a subscriber is dropped.
func (b *bench) ceiling(ctx context.Context, res *Result) error {
	counts := b.counts()
	if total(counts) == 0 {
		return errors.New("no subscribers: give -sse, -ws or -poll")
	}
	s, err := b.connect(ctx, counts, "ceiling")
	if err != nil {
		return err
	}
	defer s.close(ctx)
	c := &CeilingResult{Subscribers: counts, P99Limit: ms(b.cfg.ceilingP99)}
	res.Ceiling = c
	for _, rate := range b.cfg.ceilingRates {
		r, err := s.measure(ctx, fmt.Sprintf("ceiling step %g/s", rate), rate, b.cfg.step, nil)
		if err != nil {
			return err
		}
		r.Label = fmt.Sprintf("%g/s", rate)
		c.Steps = append(c.Steps, r)
		a := r.All
		reason := ""
		switch {
		case a.Lost+a.Duplicated+a.OutOfOrder > 0:
			reason = fmt.Sprintf("lost %d, duplicated %d, out of order %d", a.Lost, a.Duplicated, a.OutOfOrder)
		case a.Disconnects+a.Resets > 0:
			reason = fmt.Sprintf("%d disconnects, %d resets", a.Disconnects, a.Resets)
		case a.Latency.P99 >= ms(b.cfg.ceilingP99):
			reason = fmt.Sprintf("p99 %.1f ms", a.Latency.P99)
		case r.Writes.PerSecond < 0.9*rate:
			reason = fmt.Sprintf("writes reached %.1f/s of %g/s", r.Writes.PerSecond, rate)
		}
		b.logf("ceiling: %g moves/s → %.0f deliveries/s, p99 %.1f ms %s", rate, a.PerSecond, a.Latency.P99, reason)
		if reason != "" {
			c.StopReason = fmt.Sprintf("at %g moves/s: %s", rate, reason)
			break
		}
		c.Best = r
	}
	if b.cfg.svgPath != "" {
		return writeChart(b.cfg.svgPath, ceilingChart(c))
	}
	return nil
}

// memory measures server memory and goroutines per idle connection, one
// transport at a time: a scrape after a garbage collection before
// connecting, and another after connecting.
func (b *bench) memory(ctx context.Context, res *Result) error {
	if b.cfg.adminToken == "" {
		return errors.New("-mode memory needs -admin-token")
	}
	counts := b.counts()
	for _, t := range transports {
		n := counts[t]
		if n == 0 {
			continue
		}
		b.logf("memory %s: waiting for a garbage collection on the server before connecting", t)
		before, err := b.afterGC(ctx)
		if err != nil {
			return err
		}
		saved := b.cfg.writers
		b.cfg.writers = 0
		s, err := b.connect(ctx, map[string]int{t: n}, "memory "+t)
		b.cfg.writers = saved
		if err != nil {
			return err
		}
		s.prog.setLabel("memory %s: %d idle, settling", t, n)
		sleepCtx(ctx, b.cfg.settle)
		s.prog.setLabel("memory %s: %d idle, waiting for a garbage collection", t, n)
		after, err := b.afterGC(ctx)
		s.close(ctx)
		if err != nil {
			return err
		}
		m := &MemoryResult{Transport: t, Connections: n, Before: before, After: after}
		m.compute()
		res.Memory = append(res.Memory, m)
		b.logf("memory %s: %.1f KiB RSS, %.1f KiB heap+stack, %.2f goroutines per connection", t, m.RSSPerConn/1024, m.GoPerConn/1024, m.GoroutinesPerConn)
		b.waitIdle(ctx)
	}
	return nil
}

// afterGC waits until the servers have run a garbage collection that
// started after the call (the Go runtime forces one at least every two
// minutes), then samples them.
func (b *bench) afterGC(ctx context.Context) (*ServerSample, error) {
	first, err := b.sampleServers(ctx)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(b.cfg.gcWait)
	for {
		if !sleepCtx(ctx, time.Second) {
			return nil, ctx.Err()
		}
		s, err := b.sampleServers(ctx)
		if err != nil {
			return nil, err
		}
		if s.GCCycles > first.GCCycles {
			s.AfterGC = true
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, nil
		}
	}
}

// stormMode drops subscribers at once while writes go on, and measures
// how long they take to resume and whether anything was lost.
func (b *bench) stormMode(ctx context.Context, res *Result) error {
	counts := b.counts()
	k := b.cfg.storm
	if k <= 0 {
		k = counts[transSSE] + counts[transWS]
	}
	if k == 0 || k > counts[transSSE]+counts[transWS] {
		return errors.New("-mode storm needs -sse/-ws subscribers, at least -storm of them")
	}
	s, err := b.connect(ctx, counts, "storm")
	if err != nil {
		return err
	}
	defer s.close(ctx)
	st := &StormResult{Subscribers: counts, Dropped: k, Jitter: b.cfg.stormJitter.Seconds()}
	res.Storm = st
	var stormErr error
	// The writes go on until the storm is over, and -storm-after more.
	during := func(wctx context.Context, stopWrites func()) {
		defer stopWrites()
		if !sleepCtx(wctx, b.cfg.stormAfter) {
			return
		}
		s.prog.setLabel("storm: %d dropped, resuming", k)
		stormErr = s.storm(wctx, k, st)
		s.prog.setLabel("storm: writes after the storm")
		sleepCtx(wctx, b.cfg.stormAfter)
	}
	r, err := s.measure(ctx, "storm", b.cfg.rate, 2*b.cfg.stormAfter+b.cfg.stormTimeout+10*time.Second, during)
	if err != nil {
		return err
	}
	if stormErr != nil {
		return stormErr
	}
	st.Run = r
	return nil
}
