package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tasksPath is the records route of the tasks collection.
const tasksPath = "/api/collections/tasks/records"

// WriteResult is one measured kind of request of one mix at one
// collection length.
type WriteResult struct {
	Length  int     `json:"length"`
	Mix     string  `json:"mix"`
	Kind    string  `json:"kind"`
	Clients int     `json:"clients"`
	Seconds float64 `json:"seconds"`
	OK      int64   `json:"ok"`
	// Errors counts answers other than 2xx and requests that got no answer.
	Errors    int64            `json:"errors"`
	Failures  map[string]int64 `json:"failures,omitempty"`
	PerSecond float64          `json:"perSecond"`
	P50       float64          `json:"p50Ms"`
	P90       float64          `json:"p90Ms"`
	P99       float64          `json:"p99Ms"`
	Max       float64          `json:"maxMs"`
	// ServerCPU is the server's CPU time over the measurement, in percent
	// of one core (0 when its pid is unknown).
	ServerCPU float64 `json:"serverCpuPercent,omitempty"`
	// ServerCPUMicros is the server's CPU time per successful request of
	// the mix (all its kinds together), in microseconds.
	ServerCPUMicros float64 `json:"serverCpuMicros,omitempty"`
	// CountAfter is the number of records after the mix, which a create
	// mix must leave as it found.
	CountAfter int `json:"countAfter"`
}

// WritesReport is what -json writes.
type WritesReport struct {
	Server   string        `json:"server"`
	URL      string        `json:"url"`
	Clients  int           `json:"clients"`
	Duration string        `json:"duration"`
	Lengths  []int         `json:"lengths"`
	Mixes    []string      `json:"mixes"`
	Fill     []FillResult  `json:"fill"`
	Results  []WriteResult `json:"results"`
}

// FillResult is how the collection was brought to a length.
type FillResult struct {
	From    int     `json:"from"`
	To      int     `json:"to"`
	Seconds float64 `json:"seconds"`
}

// writesBench holds what every request of the writes subcommand shares.
type writesBench struct {
	base    string
	hc      *http.Client
	clients int
}

// runWrites measures creates, deletes and moves of records of the tasks
// collection at each collection length, with closed-loop clients.
func runWrites(args []string) {
	fs := flag.NewFlagSet("writes", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8090", "PocketBase base URL")
	clients := fs.Int("clients", 50, "closed-loop clients, each sending requests back to back")
	dur := fs.Duration("dur", 10*time.Second, "duration of each measurement")
	lengthsFlag := fs.String("lengths", "10,1000,10000,100000", "collection lengths, in turn")
	mixesFlag := fs.String("mixes", "create,create-only,move-random,move-top,move-across", "mixes run at each length")
	pid := fs.Int("pid", 0, "server pid for its CPU time (0 => find by port via ss)")
	jsonPath := fs.String("json", "", "also write the results to this JSON file")
	fs.Parse(args)

	lengths, err := parseLengths(*lengthsFlag)
	if err != nil {
		log.Fatal(err)
	}
	mixes := strings.Split(*mixesFlag, ",")
	for _, m := range mixes {
		if _, ok := mixKinds[m]; !ok {
			log.Fatalf("unknown mix %q (create, move-random, move-top, move-across)", m)
		}
	}
	if *clients < 1 {
		log.Fatal("-clients must be at least 1")
	}

	w := &writesBench{
		base:    strings.TrimRight(*url, "/"),
		clients: *clients,
		hc: &http.Client{
			Timeout: time.Minute,
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        0,
				MaxIdleConnsPerHost: max(*clients, 16),
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			},
		},
	}
	if *pid == 0 {
		*pid = findPidByPort(w.base)
	}

	rep := WritesReport{
		Server: pocketbaseVersion(), URL: w.base, Clients: *clients, Duration: dur.String(),
		Lengths: lengths, Mixes: mixes,
	}
	fmt.Printf("%s at %s, server pid %d, %d clients, %s per measurement\n", rep.Server, w.base, *pid, *clients, dur)
	fmt.Printf("%-8s %-12s %-7s %10s %9s %9s %7s %12s\n", "length", "mix", "kind", "req/s", "p50 ms", "p99 ms", "errors", "srv CPU/req")
	for _, n := range lengths {
		for _, mix := range mixes {
			f, err := w.resize(n)
			if err != nil {
				log.Fatalf("bring tasks to %d records: %v", n, err)
			}
			if f.From != f.To {
				rep.Fill = append(rep.Fill, f)
			}
			res, err := w.measure(n, mix, *dur, *pid)
			if err != nil {
				log.Fatalf("length %d, %s: %v", n, mix, err)
			}
			for _, r := range res {
				cpu := "-"
				if r.ServerCPUMicros > 0 {
					cpu = fmt.Sprintf("%.0f µs", r.ServerCPUMicros)
				}
				fmt.Printf("%-8d %-12s %-7s %10.1f %9.2f %9.2f %7d %12s\n", r.Length, r.Mix, r.Kind, r.PerSecond, r.P50, r.P99, r.Errors, cpu)
				if r.Errors > 0 {
					fmt.Printf("         failures: %v\n", r.Failures)
				}
				rep.Results = append(rep.Results, r)
			}
			if c := res[0].CountAfter; c != n && mix != "create-only" {
				fmt.Fprintf(os.Stderr, "pbbench: %d records after %s at length %d\n", c, mix, n)
			}
		}
	}
	if *jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			log.Fatalf("write %s: %v", *jsonPath, err)
		}
	}
}

// mixKinds names the kinds of request each mix sends, in the order of
// its results.
var mixKinds = map[string][]string{
	"create":      {"create", "delete"},
	"create-only": {"create"},
	"move-random": {"move"},
	"move-top":    {"move"},
	"move-across": {"move"},
}

// parseLengths parses "10,1000,...".
func parseLengths(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad -lengths entry %q: want a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// pocketbaseVersion is the PocketBase module this binary is built with.
func pocketbaseVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/pocketbase/pocketbase" {
				return "PocketBase " + d.Version
			}
		}
	}
	return "PocketBase"
}

// recorder collects one client's requests of one kind.
type recorder struct {
	lat      []time.Duration
	ok, errs int64
	failures map[string]int64
}

// note records one request that took d and ended with status or err.
func (r *recorder) note(d time.Duration, status int, err error) {
	r.lat = append(r.lat, d)
	if err == nil && status/100 == 2 {
		r.ok++
		return
	}
	r.errs++
	key := strconv.Itoa(status)
	if err != nil {
		key = "error: " + err.Error()
		if len(key) > 80 {
			key = key[:80]
		}
	}
	if r.failures == nil {
		r.failures = map[string]int64{}
	}
	r.failures[key]++
}

// measure runs one mix for d against a collection of n records and
// returns one result per kind of request.
func (w *writesBench) measure(n int, mix string, d time.Duration, pid int) ([]WriteResult, error) {
	kinds := mixKinds[mix]
	var step func(c int, rng *rand.Rand, recs []*recorder)
	switch mix {
	case "create-only":
		// Each client creates records; the count grows, and the next
		// resize deletes them.
		step = func(c int, rng *rand.Rand, recs []*recorder) {
			body := `{"title":"created","list":"a","position":` + strconv.Itoa(n) + `}`
			t0 := time.Now()
			status, err := w.do(http.MethodPost, tasksPath, body, nil)
			recs[0].note(time.Since(t0), status, err)
		}
	case "create":
		// Each client creates a record and deletes it, so the count stays.
		step = func(c int, rng *rand.Rand, recs []*recorder) {
			body := `{"title":"created","list":"a","position":` + strconv.Itoa(n) + `}`
			var created struct {
				ID string `json:"id"`
			}
			t0 := time.Now()
			status, err := w.do(http.MethodPost, tasksPath, body, &created)
			recs[0].note(time.Since(t0), status, err)
			if err != nil || status/100 != 2 || created.ID == "" {
				return
			}
			t0 = time.Now()
			status, err = w.do(http.MethodDelete, tasksPath+"/"+created.ID, "", nil)
			recs[1].note(time.Since(t0), status, err)
		}
	default:
		ids, err := w.ids(min(n, w.clients))
		if err != nil {
			return nil, err
		}
		across := make([]bool, w.clients)
		step = func(c int, rng *rand.Rand, recs []*recorder) {
			var body string
			switch mix {
			case "move-random":
				body = `{"position":` + strconv.Itoa(rng.IntN(n)) + `}`
			case "move-top":
				body = `{"position":0}`
			case "move-across":
				across[c] = !across[c]
				list := "a"
				if across[c] {
					list = "b"
				}
				body = `{"list":"` + list + `","position":` + strconv.Itoa(rng.IntN(n)) + `}`
			}
			t0 := time.Now()
			status, err := w.do(http.MethodPatch, tasksPath+"/"+ids[c%len(ids)], body, nil)
			recs[0].note(time.Since(t0), status, err)
		}
	}

	recs := make([][]*recorder, w.clients)
	for c := range recs {
		recs[c] = make([]*recorder, len(kinds))
		for k := range kinds {
			recs[c][k] = &recorder{}
		}
	}
	cpu0 := procCPU(&pid)
	begin := time.Now()
	end := begin.Add(d)
	var wg sync.WaitGroup
	for c := range w.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(begin.UnixNano())))
			// A step begun before the end completes (a create is always
			// followed by its delete) and counts.
			for time.Now().Before(end) {
				step(c, rng, recs[c])
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	cpu := procCPU(&pid) - cpu0

	count, err := w.count()
	if err != nil {
		return nil, err
	}
	out := make([]WriteResult, len(kinds))
	var okAll int64
	for k, kind := range kinds {
		r := WriteResult{Length: n, Mix: mix, Kind: kind, Clients: w.clients, Seconds: elapsed.Seconds(), CountAfter: count}
		var lat []int64
		for c := range recs {
			rc := recs[c][k]
			r.OK += rc.ok
			r.Errors += rc.errs
			for key, v := range rc.failures {
				if r.Failures == nil {
					r.Failures = map[string]int64{}
				}
				r.Failures[key] += v
			}
			for _, l := range rc.lat {
				lat = append(lat, int64(l))
			}
		}
		slices.Sort(lat)
		r.PerSecond = float64(r.OK) / elapsed.Seconds()
		if len(lat) > 0 {
			r.P50, r.P90, r.P99, r.Max = ms(q(lat, .50)), ms(q(lat, .90)), ms(q(lat, .99)), ms(lat[len(lat)-1])
		}
		if pid > 0 {
			r.ServerCPU = 100 * cpu / elapsed.Seconds()
		}
		okAll += r.OK
		out[k] = r
	}
	if pid > 0 && okAll > 0 {
		for k := range out {
			out[k].ServerCPUMicros = cpu * 1e6 / float64(okAll)
		}
	}
	return out, nil
}

// resize brings the tasks collection to n records: the clients create
// the missing ones in parallel, or delete the extra ones.
func (w *writesBench) resize(n int) (FillResult, error) {
	begin := time.Now()
	from, err := w.count()
	if err != nil {
		return FillResult{}, err
	}
	have := from
	for range 1000 {
		if have == n {
			f := FillResult{From: from, To: n, Seconds: time.Since(begin).Seconds()}
			if from != n {
				fmt.Fprintf(os.Stderr, "pbbench: tasks %d -> %d records in %.1fs\n", from, n, f.Seconds)
			}
			return f, nil
		}
		if have < n {
			start := have
			err = w.parallel(n-have, func(i int) (int, error) {
				body := `{"title":"task ` + strconv.Itoa(start+i) + `","list":"a","position":` + strconv.Itoa(start+i) + `}`
				return w.do(http.MethodPost, tasksPath, body, nil)
			})
		} else {
			var ids []string
			ids, err = w.ids(min(have-n, 1000))
			if err == nil {
				err = w.parallel(len(ids), func(i int) (int, error) {
					return w.do(http.MethodDelete, tasksPath+"/"+ids[i], "", nil)
				})
			}
		}
		if err != nil {
			return FillResult{}, err
		}
		if have, err = w.count(); err != nil {
			return FillResult{}, err
		}
	}
	return FillResult{}, fmt.Errorf("still %d records", have)
}

// parallel runs do for 0..n-1 on the clients and fails on the first
// request that fails.
func (w *writesBench) parallel(n int, do func(i int) (int, error)) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(w.clients, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				status, err := do(i)
				if err == nil && status/100 != 2 {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// count returns the number of records in tasks.
func (w *writesBench) count() (int, error) {
	var page struct {
		TotalItems int `json:"totalItems"`
	}
	status, err := w.do(http.MethodGet, tasksPath+"?perPage=1&fields=id", "", &page)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("status %d", status)
	}
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return page.TotalItems, nil
}

// ids returns the ids of k records of tasks (fewer if it has fewer).
func (w *writesBench) ids(k int) ([]string, error) {
	var ids []string
	for p := 1; len(ids) < k; p++ {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		path := fmt.Sprintf("%s?page=%d&perPage=%d&skipTotal=1&fields=id", tasksPath, p, min(k, 1000))
		status, err := w.do(http.MethodGet, path, "", &page)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if len(page.Items) < min(k, 1000) {
			break
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("no records in tasks")
	}
	return ids[:min(k, len(ids))], nil
}

// do sends one request with a JSON body (none if empty), decodes a 2xx
// answer into out if not nil, and drains the rest.
func (w *writesBench) do(method, path, body string, out any) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, w.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
