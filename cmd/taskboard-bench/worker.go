package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

// A worker holds a slice of the subscribers. It runs in a process of its
// own (the tool re-executes itself with the hidden -worker flag, so that no
// process needs more open files than it may have) or, for small runs and
// tests, in the coordinator's process. Either way it reads commands as JSON
// lines and writes reports as JSON lines: a tick every second with the
// deliveries of that second, and one answer per command.

// command is a coordinator's instruction to a worker.
type command struct {
	Cmd string `json:"cmd"` // start, flush, check, drop, stop
	ID  int64  `json:"id"`

	// start
	Subs        []subSpec `json:"subs,omitempty"`
	Ramp        float64   `json:"ramp,omitempty"` // connections per second
	Sources     []net.IP  `json:"sources,omitempty"`
	PollTimeout int       `json:"pollTimeout,omitempty"`

	// check: wait until every subscriber has its board's final seq
	Final map[string]int64 `json:"final,omitempty"`

	// drop: the reconnect storm
	Count  int           `json:"count,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`

	// start, check and drop: how long to wait at most
	Timeout time.Duration `json:"timeout,omitempty"`
}

// report is a worker's message to the coordinator.
type report struct {
	Type string `json:"t"` // tick, started, checked, dropped, stopped, error
	ID   int64  `json:"id,omitempty"`

	Transports map[string]tickStats `json:"transports,omitempty"`

	// started
	Failed int `json:"failed,omitempty"`
	// checked: per transport
	Accounts map[string]Accounting `json:"accounts,omitempty"`
	// dropped
	Storm *stormReport `json:"storm,omitempty"`

	Msg string `json:"msg,omitempty"`
}

// stormReport is a worker's part of a reconnect storm.
type stormReport struct {
	Dropped int `json:"dropped"`
	// Reconnected and CaughtUp count the dropped subscribers that the
	// server accepted again, and that had every event again, in time.
	Reconnected int `json:"reconnected"`
	CaughtUp    int `json:"caughtUp"`
	// ReconnectTime and CatchUpTime are the times from the drop.
	ReconnectTime HistData `json:"reconnectTime"`
	CatchUpTime   HistData `json:"catchUpTime"`
}

// workerState is a running worker.
type workerState struct {
	out   *json.Encoder
	outMu sync.Mutex
	stats map[string]*transportStats

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	subsMu sync.Mutex
	subs   []*subscriber
}

// subscribers returns the worker's subscribers so far.
func (w *workerState) subscribers() []*subscriber {
	w.subsMu.Lock()
	defer w.subsMu.Unlock()
	return w.subs
}

func (w *workerState) send(r report) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.out.Encode(r)
}

func (w *workerState) tick(typ string, id int64) {
	r := report{Type: typ, ID: id, Transports: make(map[string]tickStats)}
	for name, st := range w.stats {
		r.Transports[name] = st.tick()
	}
	w.send(r)
}

// runWorker serves commands from in until a stop command or the end of in.
func runWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	w := &workerState{out: json.NewEncoder(out), stats: make(map[string]*transportStats)}
	for _, t := range transports {
		w.stats[t] = newTransportStats()
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	defer w.cancel()

	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		for {
			select {
			case <-w.ctx.Done():
				return
			case <-ticker.C:
				w.tick("tick", 0)
			}
		}
	}()

	cmds := make(chan command)
	readErr := make(chan error, 1)
	go func() {
		dec := json.NewDecoder(bufio.NewReader(in))
		for {
			var c command
			if err := dec.Decode(&c); err != nil {
				readErr <- err
				return
			}
			select {
			case cmds <- c:
			case <-w.ctx.Done():
				return
			}
		}
	}()

	var jobs sync.WaitGroup
	defer func() {
		w.cancel()
		w.wg.Wait()
		jobs.Wait()
		<-tickDone
	}()
	for {
		var c command
		select {
		case c = <-cmds:
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		switch c.Cmd {
		case "start":
			jobs.Add(1)
			go func() { defer jobs.Done(); w.start(c) }()
		case "flush":
			w.tick("tick", c.ID)
		case "check":
			jobs.Add(1)
			go func() { defer jobs.Done(); w.check(c) }()
		case "drop":
			jobs.Add(1)
			go func() { defer jobs.Done(); w.drop(c) }()
		case "stop":
			w.cancel()
			w.wg.Wait()
			w.tick("tick", 0)
			w.send(report{Type: "stopped", ID: c.ID})
			return nil
		default:
			w.send(report{Type: "error", ID: c.ID, Msg: fmt.Sprintf("unknown command %q", c.Cmd)})
		}
	}
}

// start launches the subscribers at the ramp rate and answers when all
// have connected once, or when the timeout ends.
func (w *workerState) start(c command) {
	pollTimeout := c.PollTimeout
	if pollTimeout <= 0 {
		pollTimeout = 25
	}
	tr := newTransport(c.Sources, 64)
	env := &subEnv{client: &http.Client{Transport: tr}, pollTimeout: pollTimeout}
	subs := make([]*subscriber, len(c.Subs))
	for i, spec := range c.Subs {
		st := w.stats[spec.Transport]
		if st == nil {
			w.send(report{Type: "error", ID: c.ID, Msg: fmt.Sprintf("unknown transport %q", spec.Transport)})
			return
		}
		subs[i] = newSubscriber(spec, st, env)
		st.subscribers.Add(1)
	}
	w.subsMu.Lock()
	w.subs = append(w.subs, subs...)
	w.subsMu.Unlock()
	deadline := time.Now().Add(c.Timeout)
	interval := time.Duration(0)
	if c.Ramp > 0 {
		interval = time.Duration(float64(time.Second) / c.Ramp)
	}
	begin := time.Now()
	for i, s := range subs {
		if interval > 0 && !sleepCtx(w.ctx, time.Until(begin.Add(time.Duration(i)*interval))) {
			return
		}
		w.wg.Add(1)
		go func() { defer w.wg.Done(); s.run(w.ctx) }()
	}
	failed := 0
	for _, s := range subs {
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-s.first:
		case <-t.C:
			failed++
		case <-w.ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
	w.send(report{Type: "started", ID: c.ID, Failed: failed})
}

// check waits until every subscriber has seen its board's final seq, or
// the timeout, then reports the accounting by transport.
func (w *workerState) check(c command) {
	deadline := time.Now().Add(c.Timeout)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	subs := w.subscribers()
	for {
		behind := false
		for _, s := range subs {
			if s.behind(c.Final) {
				behind = true
				break
			}
		}
		if !behind || time.Now().After(deadline) {
			break
		}
		select {
		case <-t.C:
		case <-w.ctx.Done():
			return
		}
	}
	acc := make(map[string]Accounting)
	for _, s := range subs {
		a := acc[s.spec.Transport]
		a.Add(s.account(c.Final))
		acc[s.spec.Transport] = a
	}
	w.tick("tick", 0)
	w.send(report{Type: "checked", ID: c.ID, Accounts: acc})
}

// drop drops the first c.Count WebSocket and SSE subscribers at once, each
// to reconnect after a random wait of at most c.Jitter, and reports when
// all have caught up again, or at the timeout.
func (w *workerState) drop(c command) {
	var victims []*subscriber
	for _, s := range w.subscribers() {
		if len(victims) == c.Count {
			break
		}
		if s.spec.Transport == transSSE || s.spec.Transport == transWS {
			victims = append(victims, s)
		}
	}
	now := time.Now()
	for _, s := range victims {
		s.drop(now, jitterOf(c.Jitter))
	}
	deadline := now.Add(c.Timeout)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		done := true
		for _, s := range victims {
			if _, _, cu := s.stormTimes(); cu.IsZero() {
				done = false
				break
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		select {
		case <-t.C:
		case <-w.ctx.Done():
			return
		}
	}
	rep := &stormReport{Dropped: len(victims)}
	var rt, ct Histogram
	for _, s := range victims {
		d, r, cu := s.stormTimes()
		if !r.IsZero() {
			rep.Reconnected++
			rt.Record(r.Sub(d))
		}
		if !cu.IsZero() {
			rep.CaughtUp++
			ct.Record(cu.Sub(d))
		}
	}
	rep.ReconnectTime, rep.CatchUpTime = rt.Data(), ct.Data()
	w.send(report{Type: "dropped", ID: c.ID, Storm: rep})
}

// group is the coordinator's handle on one worker.
type group struct {
	id      int
	enc     *json.Encoder
	stdin   io.Closer
	replies chan report
	done    chan struct{} // the worker's reports ended
	proc    *exec.Cmd
	errMu   sync.Mutex
	err     error
}

// startGroup starts a worker, as a process of its own unless inProcess.
// Its ticks go to onTick; other reports wait in replies.
func startGroup(ctx context.Context, id int, inProcess bool, onTick func(int, report)) (*group, error) {
	g := &group{id: id, replies: make(chan report, 16), done: make(chan struct{})}
	var out io.Reader
	if inProcess {
		cmdR, cmdW := io.Pipe()
		repR, repW := io.Pipe()
		go func() {
			err := runWorker(ctx, cmdR, repW)
			repW.CloseWithError(err)
			cmdR.Close()
		}()
		g.enc, g.stdin, out = json.NewEncoder(cmdW), cmdW, repR
	} else {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, exe, "-worker")
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
		g.proc, g.enc, g.stdin, out = cmd, json.NewEncoder(stdin), stdin, stdout
	}
	go func() {
		defer close(g.done)
		dec := json.NewDecoder(bufio.NewReaderSize(out, 64<<10))
		for {
			var r report
			if err := dec.Decode(&r); err != nil {
				if !errors.Is(err, io.EOF) {
					g.setErr(err)
				}
				return
			}
			if r.Type == "tick" {
				onTick(g.id, r)
				if r.ID == 0 {
					continue
				}
			}
			g.replies <- r
		}
	}()
	return g, nil
}

func (g *group) setErr(err error) {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if g.err == nil {
		g.err = err
	}
}

// send sends a command.
func (g *group) send(c command) error { return g.enc.Encode(c) }

// await waits for the report of type typ that answers command id.
func (g *group) await(ctx context.Context, typ string, id int64) (report, error) {
	for {
		select {
		case r := <-g.replies:
			if r.Type == "error" {
				return r, fmt.Errorf("worker %d: %s", g.id, r.Msg)
			}
			if r.Type == typ && r.ID == id {
				return r, nil
			}
		case <-g.done:
			g.errMu.Lock()
			err := g.err
			g.errMu.Unlock()
			if err == nil {
				err = errors.New("exited")
			}
			return report{}, fmt.Errorf("worker %d: %w", g.id, err)
		case <-ctx.Done():
			return report{}, ctx.Err()
		}
	}
}

// stop ends the worker and waits for it.
func (g *group) stop(ctx context.Context, id int64) {
	if g.send(command{Cmd: "stop", ID: id}) == nil {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, _ = g.await(sctx, "stopped", id)
		cancel()
	}
	g.stdin.Close()
	if g.proc != nil {
		_ = g.proc.Wait()
	}
	<-g.done
}
