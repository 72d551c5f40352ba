package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is everything one run of the tool measured; it is what -json
// writes.
type Result struct {
	Mode     string    `json:"mode"`
	Command  []string  `json:"command"`
	Machine  Machine   `json:"machine"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	URLs     []string  `json:"urls"`
	Boards   []string  `json:"boards"`

	Runs    []*RunResult    `json:"runs,omitempty"`
	Ceiling *CeilingResult  `json:"ceiling,omitempty"`
	Memory  []*MemoryResult `json:"memory,omitempty"`
	Storm   *StormResult    `json:"storm,omitempty"`
	Soak    *SoakResult     `json:"soak,omitempty"`
	REST    []RequestResult `json:"rest,omitempty"`
	Writes  []WriteResult   `json:"writes,omitempty"`
}

// Machine describes the host the tool ran on.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryGiB int    `json:"memoryGiB"`
	OS        string `json:"os"`
	Go        string `json:"go"`
}

// RunResult is one measured phase: subscribers connected, writes at a rate.
type RunResult struct {
	Label       string         `json:"label"`
	Subscribers map[string]int `json:"subscribers"`
	Boards      int            `json:"boards"`
	// StreamBoards is how many boards each many-board stream follows.
	StreamBoards int     `json:"streamBoards,omitempty"`
	Servers      int     `json:"servers"`
	Writers      int     `json:"writers"`
	WriteRate    float64 `json:"writeRate"`
	Seconds      float64 `json:"seconds"`
	// Events is how many events the boards' logs gained in the phase.
	Events     int64                      `json:"events"`
	Writes     RequestResult              `json:"writes"`
	Transports map[string]*DeliveryResult `json:"transports"`
	All        *DeliveryResult            `json:"all"`
	// ServerBefore and ServerAfter are the servers' /metrics figures
	// around the phase (with -admin-token).
	ServerBefore *ServerSample `json:"serverBefore,omitempty"`
	ServerAfter  *ServerSample `json:"serverAfter,omitempty"`
}

// DeliveryResult is what the subscribers of one transport received.
type DeliveryResult struct {
	Subscribers int     `json:"subscribers"`
	Connected   int64   `json:"connected"`
	Deliveries  int64   `json:"deliveries"`
	PerSecond   float64 `json:"deliveriesPerSecond"`
	// Latency is from the event's commit ("at") to its receipt.
	Latency         Summary `json:"latency"`
	Lost            int64   `json:"lost"`
	Duplicated      int64   `json:"duplicated"`
	OutOfOrder      int64   `json:"outOfOrder"`
	Behind          int64   `json:"behind"`
	Disconnects     int64   `json:"disconnects"`
	ConnectFailures int64   `json:"connectFailures"`
	Resets          int64   `json:"resets"`
	ParseErrors     int64   `json:"parseErrors"`
	Errors          int64   `json:"errors"`
	LastError       string  `json:"lastError,omitempty"`
	// Frames is how many frames with a logged event many-board streams
	// received; IDBytesPerFrame and BytesPerFrame are the mean size of
	// their id: value and of the whole frame (id, event, data lines and
	// the blank line that ends it).
	Frames          int64   `json:"frames,omitempty"`
	IDBytesPerFrame float64 `json:"idBytesPerFrame,omitempty"`
	BytesPerFrame   float64 `json:"bytesPerFrame,omitempty"`
}

func (d *DeliveryResult) add(o *DeliveryResult) {
	d.Subscribers += o.Subscribers
	d.Connected += o.Connected
	d.Deliveries += o.Deliveries
	d.Lost += o.Lost
	d.Duplicated += o.Duplicated
	d.OutOfOrder += o.OutOfOrder
	d.Behind += o.Behind
	d.Disconnects += o.Disconnects
	d.ConnectFailures += o.ConnectFailures
	d.Resets += o.Resets
	d.ParseErrors += o.ParseErrors
	d.Errors += o.Errors
	if o.LastError != "" {
		d.LastError = o.LastError
	}
}

// CeilingResult is the steps of -mode ceiling and the last good one.
type CeilingResult struct {
	Subscribers map[string]int `json:"subscribers"`
	P99Limit    float64        `json:"p99LimitMs"`
	Steps       []*RunResult   `json:"steps"`
	Best        *RunResult     `json:"best,omitempty"`
	StopReason  string         `json:"stopReason,omitempty"`
}

// MemoryResult is the server's cost of idle connections of one transport.
type MemoryResult struct {
	Transport   string        `json:"transport"`
	Connections int           `json:"connections"`
	Before      *ServerSample `json:"before"`
	After       *ServerSample `json:"after"`
	// Per connection: resident memory, Go heap and stacks in use,
	// goroutines; and the stack bytes per goroutine they imply.
	RSSPerConn         float64 `json:"rssBytesPerConnection"`
	HeapPerConn        float64 `json:"heapBytesPerConnection"`
	StackPerConn       float64 `json:"stackBytesPerConnection"`
	GoPerConn          float64 `json:"goBytesPerConnection"`
	GoroutinesPerConn  float64 `json:"goroutinesPerConnection"`
	StackPerGoroutine  float64 `json:"stackBytesPerGoroutine"`
	WithoutGoroutines  float64 `json:"bytesPerConnectionWithoutIdleGoroutines"`
	ConnectionsCounted float64 `json:"connectionsCountedByServer"`
}

// compute derives the per-connection figures.
func (m *MemoryResult) compute() {
	n := float64(m.Connections)
	m.RSSPerConn = (m.After.RSS - m.Before.RSS) / n
	m.HeapPerConn = (m.After.HeapInuse - m.Before.HeapInuse) / n
	m.StackPerConn = (m.After.StackInuse - m.Before.StackInuse) / n
	m.GoPerConn = m.HeapPerConn + m.StackPerConn
	m.GoroutinesPerConn = (m.After.Goroutines - m.Before.Goroutines) / n
	if g := m.After.Goroutines - m.Before.Goroutines; g > 0 {
		m.StackPerGoroutine = (m.After.StackInuse - m.Before.StackInuse) / g
	}
	// Without goroutines parked per connection, a connection would cost
	// its heap objects only (the runtime's g structures, about 400 bytes
	// each, are heap and stay counted).
	m.WithoutGoroutines = m.HeapPerConn
	m.ConnectionsCounted = m.After.Connections - m.Before.Connections
}

// StormResult is -mode storm's outcome.
type StormResult struct {
	Subscribers map[string]int `json:"subscribers"`
	Dropped     int            `json:"dropped"`
	Jitter      float64        `json:"jitterSeconds"`
	Reconnected int            `json:"reconnected"`
	CaughtUp    int            `json:"caughtUp"`
	AllResumed  bool           `json:"allResumed"`
	Elapsed     float64        `json:"elapsedSeconds"`
	// ReconnectTime is from the drop to the server accepting the resume;
	// CatchUpTime to having every event committed before it again.
	ReconnectTime Summary    `json:"reconnectTime"`
	CatchUpTime   Summary    `json:"catchUpTime"`
	Run           *RunResult `json:"run,omitempty"`
}

// SoakResult is -mode soak's samples of the servers over time.
type SoakResult struct {
	Subscribers map[string]int `json:"subscribers"`
	Interval    float64        `json:"intervalSeconds"`
	Samples     []ServerSample `json:"samples"`
	Run         *RunResult     `json:"run,omitempty"`
}

// newResult starts the result of a run.
func newResult(cfg *config) *Result {
	return &Result{
		Mode: cfg.mode, Command: append([]string{"taskboard-bench"}, cfg.args...), Machine: machine(),
		Started: time.Now().UTC(), URLs: cfg.urls, Boards: cfg.boards,
	}
}

// machine describes this host from /proc.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemoryGiB = int((kb + 1<<19) >> 20)
			}
		}
		f.Close()
	}
	return m
}

// countsString formats subscriber counts as "sse 5000 + ws 5000".
func countsString(counts map[string]int) string {
	var parts []string
	for _, t := range transports {
		if counts[t] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", t, counts[t]))
		}
	}
	return strings.Join(parts, " + ")
}

// writeJSON writes r to path.
func (r *Result) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// print writes r as readable tables.
func (r *Result) print(w io.Writer) {
	fmt.Fprintf(w, "taskboard-bench -mode %s on %s (%d cores, %d GiB), %s\n", r.Mode, r.Machine.CPU, r.Machine.Cores, r.Machine.MemoryGiB, r.Machine.Go)
	fmt.Fprintf(w, "servers %s, boards %s\n\n", strings.Join(r.URLs, " "), strings.Join(r.Boards, ","))
	if len(r.Runs) > 0 {
		printRuns(w, "Fan-out", r.Runs)
	}
	if c := r.Ceiling; c != nil {
		printRuns(w, fmt.Sprintf("Ceiling with %s subscribers (p99 limit %.0f ms)", countsString(c.Subscribers), c.P99Limit), c.Steps)
		if c.Best != nil {
			fmt.Fprintf(w, "ceiling: %.0f deliveries/s at %s moves/s (p99 %.1f ms)\n", c.Best.All.PerSecond, strconv.FormatFloat(c.Best.WriteRate, 'f', -1, 64), c.Best.All.Latency.P99)
		} else {
			fmt.Fprintln(w, "ceiling: no step passed")
		}
		if c.StopReason != "" {
			fmt.Fprintf(w, "stopped %s\n", c.StopReason)
		}
		fmt.Fprintln(w)
	}
	if len(r.Memory) > 0 {
		fmt.Fprintln(w, "Server memory per idle connection (after a GC; deltas over the connections)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "transport\tconns\tRSS/conn\theap/conn\tstack/conn\tgoroutines/conn\tstack/goroutine\tGC seen\t")
		for _, m := range r.Memory {
			fmt.Fprintf(tw, "%s\t%d\t%.1f KiB\t%.1f KiB\t%.1f KiB\t%.2f\t%.1f KiB\t%v\t\n", m.Transport, m.Connections,
				m.RSSPerConn/1024, m.HeapPerConn/1024, m.StackPerConn/1024, m.GoroutinesPerConn, m.StackPerGoroutine/1024, m.Before.AfterGC && m.After.AfterGC)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if s := r.Storm; s != nil {
		fmt.Fprintf(w, "Reconnect storm: %d of %s dropped at once, reconnecting within %.1f s of jitter\n", s.Dropped, countsString(s.Subscribers), s.Jitter)
		fmt.Fprintf(w, "  reconnected %d, caught up %d, all resumed: %v\n", s.Reconnected, s.CaughtUp, s.AllResumed)
		fmt.Fprintf(w, "  reconnect time p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", s.ReconnectTime.P50, s.ReconnectTime.P99, s.ReconnectTime.Max)
		fmt.Fprintf(w, "  catch-up time  p50 %.0f ms, p99 %.0f ms, max %.0f ms (all resumed after %.2f s)\n", s.CatchUpTime.P50, s.CatchUpTime.P99, s.CatchUpTime.Max, s.CatchUpTime.Max/1000)
		if s.Run != nil {
			printRuns(w, "Deliveries during the storm", []*RunResult{s.Run})
		}
	}
	if s := r.Soak; s != nil {
		fmt.Fprintf(w, "Soak with %s subscribers, a sample every %.0f s\n", countsString(s.Subscribers), s.Interval)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "elapsed\tRSS\theap\tstacks\tgoroutines\tconnections\tdeliveries\tslow drops\t")
		for _, x := range s.Samples {
			fmt.Fprintf(tw, "%.0fs\t%.1f MiB\t%.1f MiB\t%.1f MiB\t%.0f\t%.0f\t%.0f\t%.0f\t\n", x.Elapsed, x.RSS/(1<<20), x.HeapInuse/(1<<20), x.StackInuse/(1<<20), x.Goroutines, x.Connections, x.Deliveries, x.SlowDrops)
		}
		tw.Flush()
		fmt.Fprintln(w)
		if s.Run != nil {
			printRuns(w, "Deliveries during the soak", []*RunResult{s.Run})
		}
	}
	if len(r.REST) > 0 {
		fmt.Fprintln(w, "REST")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "request\tclients\tok\tfailed\treq/s\tp50\tp90\tp99\tmax\t")
		for _, x := range r.REST {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.2f ms\t%.2f ms\t%.2f ms\t%.1f ms\t\n", x.Name, x.Clients, x.OK, x.Failed, x.PerSecond, x.Latency.P50, x.Latency.P90, x.Latency.P99, x.Latency.Max)
		}
		tw.Flush()
		for _, x := range r.REST {
			printFailures(w, x)
		}
		fmt.Fprintln(w)
	}
	if len(r.Writes) > 0 {
		fmt.Fprintln(w, "Writes against list length")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "tasks\tmix\trequest\tclients\tok\tfailed\treq/s\tlogged/s\tp50\tp99\tserver CPU/req\t")
		for _, x := range r.Writes {
			cpu := "-"
			if x.ServerCPUMicros > 0 {
				cpu = fmt.Sprintf("%.0f µs", x.ServerCPUMicros)
			}
			logged := "-"
			if x.LoggedPerSecond > 0 {
				logged = fmt.Sprintf("%.0f", x.LoggedPerSecond)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%.0f\t%s\t%.2f ms\t%.2f ms\t%s\t\n", x.ListLength, x.Mix, x.Name, x.Clients, x.OK, x.Failed, x.PerSecond, logged, x.Latency.P50, x.Latency.P99, cpu)
		}
		tw.Flush()
		for _, x := range r.Writes {
			printFailures(w, x.RequestResult)
		}
		fmt.Fprintln(w)
	}
	if len(r.Boards) > 0 && r.Mode == "setup" {
		fmt.Fprintf(w, "created boards: -boards %s\n", strings.Join(r.Boards, ","))
	}
}

func printFailures(w io.Writer, x RequestResult) {
	if len(x.Failures) == 0 {
		return
	}
	keys := make([]string, 0, len(x.Failures))
	for k := range x.Failures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s failures: %s ×%d\n", x.Name, k, x.Failures[k])
	}
}

// printRuns prints one row per transport per run.
func printRuns(w io.Writer, title string, runs []*RunResult) {
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\ttransport\tsubs\tmoves/s\tdeliveries\tdeliv/s\tp50\tp90\tp99\tmax\tlost\tdup\tooo\tdisconn\tresets\terrors\t")
	for _, r := range runs {
		rows := []string{}
		for _, t := range transports {
			if r.Transports[t] != nil {
				rows = append(rows, t)
			}
		}
		if len(rows) > 1 {
			rows = append(rows, "all")
		}
		for _, t := range rows {
			d := r.Transports[t]
			if t == "all" {
				d = r.All
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%d\t%.0f\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%d\t%d\t%d\t%d\t%d\t%d\t\n",
				r.Label, t, d.Subscribers, r.Writes.PerSecond, d.Deliveries, d.PerSecond, d.Latency.P50, d.Latency.P90, d.Latency.P99, d.Latency.Max,
				d.Lost, d.Duplicated, d.OutOfOrder, d.Disconnects, d.Resets, d.Errors+d.ParseErrors+d.ConnectFailures)
		}
	}
	tw.Flush()
	for _, r := range runs {
		fmt.Fprintf(w, "  %s: %d writers, %d moves ok, %d failed, move latency p50 %.1f ms p99 %.1f ms", r.Label, r.Writers, r.Writes.OK, r.Writes.Failed, r.Writes.Latency.P50, r.Writes.Latency.P99)
		if r.ServerAfter != nil {
			fmt.Fprintf(w, "; server RSS %.0f MiB, %.0f goroutines", r.ServerAfter.RSS/(1<<20), r.ServerAfter.Goroutines)
			if cpu := r.ServerAfter.CPUSeconds - r.ServerBefore.CPUSeconds; cpu > 0 && r.Seconds > 0 {
				fmt.Fprintf(w, ", server CPU %.2f cores", cpu/r.Seconds)
				if r.All != nil && r.All.Deliveries > 0 {
					fmt.Fprintf(w, " (%.1f µs a delivery, writes included)", cpu/float64(r.All.Deliveries)*1e6)
				}
			}
		}
		fmt.Fprintln(w)
		printFailures(w, r.Writes)
		if d := r.Transports[transMulti]; d != nil && d.Frames > 0 {
			fmt.Fprintf(w, "  %s: %d streams of %d boards; %d event frames, id %.0f bytes a frame, whole frame %.0f bytes (mean)\n",
				transMulti, d.Subscribers, r.StreamBoards, d.Frames, d.IDBytesPerFrame, d.BytesPerFrame)
		}
		if r.All != nil && r.All.LastError != "" {
			fmt.Fprintf(w, "  last subscriber error: %s\n", r.All.LastError)
		}
	}
	fmt.Fprintln(w)
}

// Transport colors of the charts.
var transportColor = map[string]string{transSSE: "#1f77b4", transWS: "#d62728", transPoll: "#2ca02c", "mixed": "#9467bd"}

// sweepChart plots p50 and p99 against the subscriber count, per run
// label (transport).
func sweepChart(runs []*RunResult, rate float64) *Chart {
	c := &Chart{
		Title:  fmt.Sprintf("Delivery latency vs subscribers on one board, %g events/s", rate),
		XLabel: "subscribers", YLabel: "latency (ms)", Limit: 100, LimitLabel: "100 ms",
	}
	var labels []string
	p50 := map[string][]Point{}
	p99 := map[string][]Point{}
	for _, r := range runs {
		if _, ok := p50[r.Label]; !ok {
			labels = append(labels, r.Label)
		}
		n := float64(r.All.Subscribers)
		p50[r.Label] = append(p50[r.Label], Point{n, r.All.Latency.P50})
		p99[r.Label] = append(p99[r.Label], Point{n, r.All.Latency.P99})
	}
	for _, l := range labels {
		c.Series = append(c.Series,
			Series{Name: l + " p99", Color: transportColor[l], Points: p99[l]},
			Series{Name: l + " p50", Color: transportColor[l], Dashed: true, Points: p50[l]})
	}
	return c
}

// ceilingChart plots p99 against deliveries per second for each step.
func ceilingChart(c *CeilingResult) *Chart {
	ch := &Chart{
		Title:  fmt.Sprintf("p99 delivery latency vs delivery rate, %s subscribers", countsString(c.Subscribers)),
		XLabel: "deliveries per second", YLabel: "latency (ms)", Limit: c.P99Limit, LimitLabel: fmt.Sprintf("%.0f ms", c.P99Limit),
	}
	var p50, p99 []Point
	for _, s := range c.Steps {
		p50 = append(p50, Point{s.All.PerSecond, s.All.Latency.P50})
		p99 = append(p99, Point{s.All.PerSecond, s.All.Latency.P99})
	}
	ch.Series = []Series{{Name: "p99", Points: p99}, {Name: "p50", Dashed: true, Points: p50}}
	return ch
}

// soakChart plots the servers' memory over time.
func soakChart(s *SoakResult) *Chart {
	c := &Chart{Title: fmt.Sprintf("Server memory during a soak, %s subscribers", countsString(s.Subscribers)), XLabel: "seconds", YLabel: "MiB"}
	var rss, heap, stack []Point
	for _, x := range s.Samples {
		rss = append(rss, Point{x.Elapsed, x.RSS / (1 << 20)})
		heap = append(heap, Point{x.Elapsed, x.HeapInuse / (1 << 20)})
		stack = append(stack, Point{x.Elapsed, x.StackInuse / (1 << 20)})
	}
	c.Series = []Series{{Name: "RSS", Points: rss}, {Name: "heap in use", Points: heap}, {Name: "stacks", Points: stack}}
	return c
}

// writeChart writes a chart to path, creating its directory.
func writeChart(path string, c *Chart) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.WriteSVG(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
