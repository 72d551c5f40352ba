package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// aggregator merges the workers' ticks: the deliveries of the current
// measurement phase, of the current second (for the progress line), and
// each worker's latest counters.
type aggregator struct {
	mu             sync.Mutex
	phase          map[string]*Histogram
	phaseDelivered map[string]int64
	phaseStart     time.Time
	second         *Histogram
	secDelivered   int64
	latest         map[int]map[string]tickStats
}

// since returns what a worker's cumulative transport figures gained since
// its previous tick.
func since(cur, prev tickStats) (HistData, int64) {
	return cur.Hist.Sub(prev.Hist), cur.Delivered - prev.Delivered
}

func newAggregator() *aggregator {
	a := &aggregator{latest: make(map[int]map[string]tickStats)}
	a.beginPhase()
	a.second = &Histogram{}
	return a
}

// onTick merges one worker's tick.
func (a *aggregator) onTick(worker int, r report) {
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.latest[worker]
	a.latest[worker] = r.Transports
	for name, t := range r.Transports {
		hist, delivered := since(t, prev[name])
		if delivered == 0 && len(hist.Buckets) == 0 {
			continue
		}
		h := a.phase[name]
		if h == nil {
			h = &Histogram{}
			a.phase[name] = h
		}
		h.MergeData(hist)
		a.phaseDelivered[name] += delivered
		a.second.MergeData(hist)
		a.secDelivered += delivered
	}
}

// beginPhase starts a new measurement phase.
func (a *aggregator) beginPhase() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.phase = make(map[string]*Histogram)
	a.phaseDelivered = make(map[string]int64)
	a.phaseStart = time.Now()
}

// endPhase returns the phase's histograms, deliveries and duration.
func (a *aggregator) endPhase() (map[string]*Histogram, map[string]int64, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.phase, a.phaseDelivered, time.Since(a.phaseStart)
}

// takeSecond returns and clears the deliveries since the last call.
func (a *aggregator) takeSecond() (*Histogram, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, n := a.second, a.secDelivered
	a.second, a.secDelivered = &Histogram{}, 0
	return h, n
}

// counters returns the latest counters summed over the workers, by
// transport.
func (a *aggregator) counters() map[string]tickStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	sum := make(map[string]tickStats)
	for _, byTransport := range a.latest {
		for name, t := range byTransport {
			s := sum[name]
			s.Subscribers += t.Subscribers
			s.Connected += t.Connected
			s.Disconnects += t.Disconnects
			s.ConnectFailures += t.ConnectFailures
			s.Resets += t.Resets
			s.ParseErrors += t.ParseErrors
			s.Errors += t.Errors
			s.Frames += t.Frames
			s.FrameBytes += t.FrameBytes
			s.IDBytes += t.IDBytes
			if t.LastError != "" {
				s.LastError = t.LastError
			}
			sum[name] = s
		}
	}
	return sum
}

// progress prints a status line to w every second until stop is closed.
type progress struct {
	w       io.Writer
	tty     bool
	agg     *aggregator
	begin   time.Time
	label   atomic.Pointer[string]
	writes  atomic.Pointer[requestStats]
	lastOK  int64
	stop    chan struct{}
	stopped chan struct{}
	lineLen int
}

func newProgress(w io.Writer, agg *aggregator) *progress {
	p := &progress{w: w, agg: agg, begin: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	empty := ""
	p.label.Store(&empty)
	return p
}

// setLabel sets what the line says the tool is doing.
func (p *progress) setLabel(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	p.label.Store(&s)
}

// setWrites makes the line show the rate of these writes.
func (p *progress) setWrites(r *requestStats) {
	p.writes.Store(r)
	p.lastOK = 0
}

func (p *progress) run() {
	defer close(p.stopped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			if p.tty && p.lineLen > 0 {
				fmt.Fprintln(p.w)
			}
			return
		case <-t.C:
			p.print()
		}
	}
}

func (p *progress) close() {
	close(p.stop)
	<-p.stopped
}

func (p *progress) print() {
	h, n := p.agg.takeSecond()
	var b strings.Builder
	fmt.Fprintf(&b, "[%4.0fs] %s |", time.Since(p.begin).Seconds(), *p.label.Load())
	c := p.agg.counters()
	names := make([]string, 0, len(c))
	for name := range c {
		if c[name].Subscribers > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var disc, resets, errs int64
	for _, name := range names {
		t := c[name]
		fmt.Fprintf(&b, " %s %d/%d", name, t.Connected, t.Subscribers)
		disc += t.Disconnects
		resets += t.Resets
		errs += t.Errors + t.ParseErrors
	}
	if w := p.writes.Load(); w != nil {
		ok := w.ok.Load()
		fmt.Fprintf(&b, " | writes %d/s (%d failed)", ok-p.lastOK, w.failed.Load())
		p.lastOK = ok
	}
	fmt.Fprintf(&b, " | %d deliveries/s", n)
	if n > 0 {
		fmt.Fprintf(&b, " p50 %.1fms p99 %.1fms max %.1fms", ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Max()))
	}
	if disc+resets+errs > 0 {
		fmt.Fprintf(&b, " | disconnects %d resets %d errors %d", disc, resets, errs)
	}
	line := b.String()
	if p.tty {
		pad := ""
		if len(line) < p.lineLen {
			pad = strings.Repeat(" ", p.lineLen-len(line))
		}
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		p.lineLen = len(line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}
