// Command taskboard-bench drives a running taskboard server and measures
// it: real-time fan-out over Server-Sent Events, WebSockets and long
// polling, the highest event rate it sustains, memory per connection, a
// reconnect storm, a soak, and REST throughput.
//
// Usage:
//
//	taskboard-bench -url http://127.0.0.1:3000 -token TOKEN [-admin-token T] [-mode MODE] [flags]
//
// Modes (-mode):
//
//	fanout   connect -sse/-ws/-poll subscribers, move tasks at -rate for -duration,
//	         report delivery latency, deliveries per second, lost, duplicated and
//	         out-of-order events per transport
//	multi    fanout over many-board SSE streams (GET /events?boards=...): -streams
//	         streams, each following -stream-boards of -boards, writes at
//	         -board-rate events a second on each board; also reports the bytes of
//	         the composite id: and of the whole frame (-streams also works with
//	         fanout, memory and soak)
//	sweep    fanout at each subscriber count of -sweep, for each of -sweep-transports,
//	         and write the latency chart (-svg)
//	ceiling  step the write rate up (-ceiling-rates) with the subscribers connected
//	         until p99 passes -ceiling-p99 or an event is lost; report the last good step
//	memory   server memory and goroutines per idle connection, per transport
//	storm    drop -storm subscribers at once while writes go on; they reconnect with
//	         jittered backoff and resume; report the time until all have resumed
//	soak     fanout for -duration while sampling the server's memory and goroutines
//	         every -sample
//	rest     REST throughput and latency of reads (GET /boards/{id}/tasks) and moves
//	writes   creates, deletes and moves (random, to the top, across lists) against
//	         the length of the list, at each of -list-lengths
//	writes-chart  draw the -json results of writes runs (-compare NAME=FILE,...) as -svg
//	setup    create -setup-boards boards with lists and tasks and print their ids
//
// Every event a subscriber receives is checked against the board's log:
// each seq after the starting point must arrive once and in order, up to
// the board's final seq read at the end. Delivery latency is the receive
// time minus the event's "at" timestamp, which the server sets inside the
// write's transaction; both clocks are the host's, so the server and the
// tool must run on the same machine.
//
// Large runs spread the connections over worker processes (the tool
// re-executes itself, -conns-per-worker connections each) and, with
// -sources, over several 127.0.0.x source addresses, and open them at -ramp
// connections a second. The tool loads only loopback addresses unless
// -allow-remote is given. Results go to stdout as a table and, with -json,
// to a file; a progress line goes to stderr every second.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// workerFlag, as the first argument, makes the process a worker: it reads
// commands on stdin and writes reports on stdout.
const workerFlag = "-worker"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == workerFlag {
		if path := os.Getenv(profileEnv); path != "" {
			stopProfile, perr := startProfile(fmt.Sprintf("%s.worker%d", path, os.Getpid()))
			if perr != nil {
				fmt.Fprintln(os.Stderr, "taskboard-bench worker:", perr)
			} else {
				exitHooks = append(exitHooks, stopProfile)
			}
		}
		err = runWorker(ctx, os.Stdin, os.Stdout)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	code := 0
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "taskboard-bench:", err)
		code = 1
	}
	runExitHooks()
	os.Exit(code)
}

// profileEnv passes -cpuprofile on to the worker processes.
const profileEnv = "TASKBOARD_BENCH_CPUPROFILE"

// exitHooks run before the process exits.
var exitHooks []func()

func runExitHooks() {
	for _, f := range exitHooks {
		f()
	}
}

// startProfile writes a CPU profile to path until the returned function
// is called.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// config is the parsed command line.
type config struct {
	mode        string
	urls        []string
	writeURLs   []string
	tokens      []string
	adminToken  string
	boards      []string
	allowRemote bool

	sse, ws, poll  int
	streams        int
	streamBoards   int
	boardRate      float64
	workers        int
	connsPerWorker int
	inProcess      bool
	ramp           float64
	sources        []net.IP
	pollTimeout    int
	connectTimeout time.Duration

	writers  int
	rate     float64
	duration time.Duration
	movePos  int
	drain    time.Duration

	sweep           []int
	sweepTransports []string
	svgPath         string
	jsonPath        string

	ceilingRates []float64
	ceilingP99   time.Duration
	step         time.Duration

	storm        int
	stormJitter  time.Duration
	stormAfter   time.Duration
	stormTimeout time.Duration

	sample time.Duration
	gcWait time.Duration
	settle time.Duration

	restClients int

	listLengths []int
	writeMixes  []string
	writeLists  []string
	serverPID   int
	compare     string

	setupBoards  int
	setupLists   int
	setupTasks   int
	setupMembers []string
	setupName    string

	timeout    time.Duration
	quiet      bool
	cpuProfile string
	args       []string
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseFlags parses the command line into a config.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{args: args}
	fs := flag.NewFlagSet("taskboard-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var urls, writeURLs, token, tokensFile, boards, sources, sweep, sweepTransports, ceilingRates, members string
	fs.StringVar(&c.mode, "mode", "fanout", "what to measure: fanout, multi, sweep, ceiling, memory, storm, soak, rest, writes or setup")
	fs.StringVar(&urls, "url", "http://127.0.0.1:3000", "base URL of the server; a comma-separated list spreads subscribers over several instances (round-robin)")
	fs.StringVar(&writeURLs, "write-url", "", "base URLs the writers use, comma-separated (default: the first -url)")
	fs.StringVar(&token, "token", os.Getenv("TASKBOARD_TOKEN"), "bearer token of a member of the boards (default $TASKBOARD_TOKEN)")
	fs.StringVar(&tokensFile, "tokens-file", "", "file of bearer tokens, one a line, used round-robin by subscribers and writers (for servers that limit connections per user)")
	fs.StringVar(&c.adminToken, "admin-token", os.Getenv("TASKBOARD_ADMIN_TOKEN"), "the server's --admin-token, to read /metrics (memory, goroutines); without it those figures are skipped (default $TASKBOARD_ADMIN_TOKEN)")
	fs.StringVar(&boards, "boards", "board-1", "boards to follow and write to, comma-separated; subscribers and writers are spread round-robin")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a -url that is not a loopback address")

	fs.IntVar(&c.sse, "sse", 0, "SSE subscribers (fanout, ceiling, memory, storm, soak)")
	fs.IntVar(&c.ws, "ws", 0, "WebSocket subscribers (fanout, ceiling, memory, storm, soak)")
	fs.IntVar(&c.poll, "poll", 0, "long-polling subscribers (fanout, ceiling, memory, soak)")
	fs.IntVar(&c.streams, "streams", 0, "many-board SSE streams, GET /events?boards=... (multi, fanout, memory, soak)")
	fs.IntVar(&c.streamBoards, "stream-boards", 0, "boards each of -streams follows, 1..100, taken from -boards in turn (0: all of -boards)")
	fs.Float64Var(&c.boardRate, "board-rate", 0, "events per second on each board of -boards: sets -rate to this times the boards and -writers to a multiple of the boards (0: use -rate and -writers)")
	fs.IntVar(&c.workers, "workers", 0, "worker processes holding the subscribers (0: one per -conns-per-worker connections)")
	fs.IntVar(&c.connsPerWorker, "conns-per-worker", 5000, "connections per worker process when -workers is 0 (a process may have 20,000 open files here)")
	fs.BoolVar(&c.inProcess, "in-process", false, "hold the subscribers in this process instead of worker processes")
	fs.Float64Var(&c.ramp, "ramp", 500, "new connections per second, in total, while connecting (0: all at once)")
	fs.StringVar(&sources, "sources", "", "source addresses for the connections, used in turn: a list of loopback IPv4 addresses and ranges (127.0.0.2-127.0.0.9); default the kernel's choice")
	fs.IntVar(&c.pollTimeout, "poll-timeout", 25, "timeout parameter of each long poll, in seconds (1..60)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 60*time.Second, "how long connecting may take beyond what -ramp needs")

	fs.IntVar(&c.writers, "writers", 4, "concurrent writers moving tasks; each moves a task of its own between the board's first two lists")
	fs.Float64Var(&c.rate, "rate", 10, "target total task moves per second (events per second over all boards)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long writes go on (fanout, sweep, soak; rest: per measurement)")
	fs.IntVar(&c.movePos, "move-position", 0, "position each move puts the task at")
	fs.DurationVar(&c.drain, "drain", 15*time.Second, "how long to wait after the writes for every subscriber to have the last event")

	fs.StringVar(&sweep, "sweep", "1000,5000,10000", "subscriber counts of -mode sweep (setting it implies -mode sweep)")
	fs.StringVar(&sweepTransports, "sweep-transports", "sse,ws,mixed", "transports of -mode sweep: sse, ws, poll, mixed (half SSE, half WebSocket)")
	fs.StringVar(&c.svgPath, "svg", "", "write an SVG chart here: latency against subscribers (sweep), p99 against deliveries per second (ceiling), memory over time (soak)")
	fs.StringVar(&c.jsonPath, "json", "", "write the results as JSON to this file")

	fs.StringVar(&ceilingRates, "ceiling-rates", "5,10,15,20,30,40,60,80,100,150,200,300,400,600,800,1000", "write rates (moves per second) that -mode ceiling steps through")
	fs.DurationVar(&c.ceilingP99, "ceiling-p99", 100*time.Millisecond, "the p99 delivery latency a ceiling step must stay under")
	fs.DurationVar(&c.step, "step", 15*time.Second, "duration of each ceiling step")

	fs.IntVar(&c.storm, "storm", 0, "subscribers the storm drops at once (0: all SSE and WebSocket subscribers)")
	fs.DurationVar(&c.stormJitter, "storm-jitter", 2*time.Second, "each dropped subscriber reconnects after a random wait of at most this (then with exponential backoff and full jitter on failures)")
	fs.DurationVar(&c.stormAfter, "storm-after", 5*time.Second, "writes before the storm, and after it")
	fs.DurationVar(&c.stormTimeout, "storm-timeout", 60*time.Second, "how long the subscribers may take to resume")

	fs.DurationVar(&c.sample, "sample", 10*time.Second, "interval between /metrics samples of -mode soak")
	fs.DurationVar(&c.gcWait, "gc-wait", 150*time.Second, "-mode memory: how long to wait for a garbage collection on the server before reading its memory (the Go runtime forces one every 2 minutes)")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "-mode memory: wait after connecting before waiting for the garbage collection")

	fs.IntVar(&c.restClients, "rest-clients", 8, "concurrent clients of -mode rest and -mode writes")
	var listLengths, writeMixesFlag, writeLists string
	fs.StringVar(&listLengths, "list-lengths", "10,1000,10000,100000", "-mode writes: the list lengths to measure at, in increasing order (the list is filled over HTTP)")
	fs.StringVar(&writeMixesFlag, "write-mixes", strings.Join(writeMixes, ","), "-mode writes: the mixes to run at each length: create (create at the end, then delete), move-random, move-top, move-across")
	fs.StringVar(&writeLists, "write-lists", "", "-mode writes: two existing list ids to write to (default: two new lists on the first of -boards)")
	fs.StringVar(&c.compare, "compare", "", "-mode writes-chart: NAME=FILE,... JSON results of -mode writes (or of bench/pocketbase writes) to draw, one line per server and kind")
	fs.IntVar(&c.serverPID, "server-pid", 0, "-mode writes: the server's process id, to report its CPU time per request (same host, Linux)")

	fs.IntVar(&c.setupBoards, "setup-boards", 1, "boards -mode setup creates")
	fs.IntVar(&c.setupLists, "setup-lists", 3, "lists per board -mode setup creates")
	fs.IntVar(&c.setupTasks, "setup-tasks", 20, "tasks per board -mode setup creates")
	fs.StringVar(&members, "setup-members", "", "user ids -mode setup adds to each board, comma-separated (for -tokens-file users)")
	fs.StringVar(&c.setupName, "setup-name", "bench", "name prefix of the boards -mode setup creates")

	fs.DurationVar(&c.timeout, "timeout", 0, "stop everything after this long (0: a bound computed from the mode's durations)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress line")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the tool's own CPU profile here (each worker process to this path + .worker<pid>), to see what the load costs the host")
	fs.Usage = func() {
		fmt.Fprint(stderr, `taskboard-bench drives a running taskboard server and measures it.

Usage: taskboard-bench -url URL -token TOKEN [-admin-token T] [-mode MODE] [flags]

Examples:
  taskboard-bench -token $T -sse 1000 -ws 1000 -rate 10 -duration 30s
  taskboard-bench -token $T -admin-token $A -mode sweep -sweep 1000,5000,10000 -svg fanout.svg -json sweep.json
  taskboard-bench -token $T -mode ceiling -sse 10000
  taskboard-bench -token $T -admin-token $A -mode multi -boards $B100 -streams 1000 -stream-boards 100 -board-rate 1 -duration 30s
  taskboard-bench -token $T -admin-token $A -mode memory -sse 10000
  taskboard-bench -token $T -mode storm -sse 2500 -ws 2500 -rate 10
  taskboard-bench -token $T -admin-token $A -mode soak -sse 1000 -duration 30m -sample 30s
  taskboard-bench -token $T -mode rest -duration 10s
  taskboard-bench -token $T -mode writes -rest-clients 50 -duration 10s -list-lengths 10,1000,10000,100000
  taskboard-bench -token $T -mode setup -setup-boards 4 -setup-tasks 50

Every event is checked: lost, duplicated and out-of-order events are counted per
transport against the board's final seq. Latency is receive time minus the event's
"at" timestamp (set in the write's transaction): run the tool on the server's host.
Tokens: a server may limit connections per user; give -tokens-file with tokens of
several users (members of the boards) to spread the connections over them.
Memory: the figures are deltas of the server's /metrics after a garbage collection;
resident memory is only meaningful on a freshly started server, one transport a run.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.writeMixes = splitList(writeMixesFlag)
	c.writeLists = splitList(writeLists)
	for _, s := range splitList(listLengths) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-list-lengths: %q is not a positive count", s)
		}
		c.listLengths = append(c.listLengths, n)
	}
	if len(c.writeLists) != 0 && len(c.writeLists) != 2 {
		return nil, errors.New("-write-lists takes two list ids")
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "sweep" && c.mode == "fanout" {
			c.mode = "sweep"
		}
	})
	c.urls = splitList(urls)
	for i, u := range c.urls {
		c.urls[i] = strings.TrimRight(u, "/")
	}
	c.writeURLs = splitList(writeURLs)
	for i, u := range c.writeURLs {
		c.writeURLs[i] = strings.TrimRight(u, "/")
	}
	if len(c.writeURLs) == 0 && len(c.urls) > 0 {
		c.writeURLs = c.urls[:1]
	}
	c.boards = splitList(boards)
	c.setupMembers = splitList(members)
	if tokensFile != "" {
		t, err := readTokens(tokensFile)
		if err != nil {
			return nil, err
		}
		c.tokens = t
	} else if token != "" {
		c.tokens = []string{token}
	}
	var err error
	if c.sources, err = parseSources(sources); err != nil {
		return nil, err
	}
	for _, s := range splitList(sweep) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-sweep: %q is not a positive count", s)
		}
		c.sweep = append(c.sweep, n)
	}
	c.sweepTransports = splitList(sweepTransports)
	for _, t := range c.sweepTransports {
		if t != transSSE && t != transWS && t != transPoll && t != "mixed" {
			return nil, fmt.Errorf("-sweep-transports: unknown transport %q", t)
		}
	}
	for _, s := range splitList(ceilingRates) {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("-ceiling-rates: %q is not a positive rate", s)
		}
		c.ceilingRates = append(c.ceilingRates, r)
	}
	switch {
	case len(c.urls) == 0:
		return nil, errors.New("-url is required")
	case len(c.tokens) == 0:
		return nil, errors.New("-token or -tokens-file is required")
	case len(c.boards) == 0 && c.mode != "setup":
		return nil, errors.New("-boards is empty")
	case c.pollTimeout < 1 || c.pollTimeout > 60:
		return nil, errors.New("-poll-timeout must be 1..60")
	case c.sse < 0 || c.ws < 0 || c.poll < 0 || c.writers < 0 || c.rate < 0:
		return nil, errors.New("counts and rates must not be negative")
	case c.connsPerWorker < 1:
		return nil, errors.New("-conns-per-worker must be positive")
	case c.streams < 0 || c.streamBoards < 0 || c.boardRate < 0:
		return nil, errors.New("-streams, -stream-boards and -board-rate must not be negative")
	case c.mode == "multi" && c.streams == 0:
		return nil, errors.New("-mode multi needs -streams")
	}
	if c.streamBoards == 0 {
		c.streamBoards = min(len(c.boards), 100)
	}
	if c.streams > 0 && (c.streamBoards > 100 || c.streamBoards > len(c.boards)) {
		return nil, fmt.Errorf("-stream-boards must be 1..100 and at most the %d boards of -boards", len(c.boards))
	}
	if c.boardRate > 0 {
		n := len(c.boards)
		c.rate = c.boardRate * float64(n)
		// Each board gets the same number of writers, hence the same rate.
		c.writers = max(1, (c.writers+n-1)/n) * n
	}
	return c, nil
}

// run runs the tool with the command line args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.mode == "writes-chart" {
		return writesChart(cfg.compare, cfg.svgPath)
	}
	if !cfg.allowRemote {
		for _, u := range append(append([]string{}, cfg.urls...), cfg.writeURLs...) {
			if err := checkLoopback(ctx, u); err != nil {
				return err
			}
		}
	}
	if cfg.cpuProfile != "" {
		stopProfile, err := startProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
		os.Setenv(profileEnv, cfg.cpuProfile)
	}
	timeout := cfg.timeout
	if timeout <= 0 {
		timeout = cfg.bound()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b := newBench(cfg, stderr)
	defer b.close()
	res, err := b.runMode(ctx)
	if res != nil {
		res.print(stdout)
		if cfg.jsonPath != "" {
			if werr := res.writeJSON(cfg.jsonPath); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && err != nil {
		err = fmt.Errorf("%w (the run's time bound is %s; see -timeout)", err, timeout)
	}
	return err
}

// bound is the default time limit of a run: the mode's own durations with
// generous room for connecting and draining.
func (c *config) bound() time.Duration {
	n := c.sse + c.ws + c.poll + c.streams
	connect := c.connectTimeout
	if c.ramp > 0 {
		connect += time.Duration(float64(n) / c.ramp * float64(time.Second))
	}
	base := 2*connect + c.drain + 2*time.Minute
	switch c.mode {
	case "sweep":
		total := time.Duration(0)
		for _, n := range c.sweep {
			ramp := c.connectTimeout
			if c.ramp > 0 {
				ramp += time.Duration(float64(n) / c.ramp * float64(time.Second))
			}
			total += time.Duration(len(c.sweepTransports)) * (ramp + c.duration + c.drain + time.Minute)
		}
		return total + 2*time.Minute
	case "ceiling":
		return base + time.Duration(len(c.ceilingRates))*(c.step+c.drain+5*time.Second)
	case "memory":
		return 4 * (base + 2*c.gcWait + c.settle)
	case "storm":
		return base + 2*c.stormAfter + c.stormTimeout + 30*time.Second
	case "rest":
		return 2*c.duration + time.Minute
	case "writes":
		fill := 0
		if len(c.listLengths) > 0 {
			fill = c.listLengths[len(c.listLengths)-1]
		}
		// Filling at a pessimistic 200 tasks a second.
		return time.Duration(len(c.listLengths)*len(c.writeMixes))*(c.duration+30*time.Second) + time.Duration(fill/200)*time.Second + time.Minute
	case "setup":
		return 10 * time.Minute
	default:
		return base + c.duration
	}
}
