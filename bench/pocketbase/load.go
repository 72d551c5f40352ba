package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// delivery is one update event as a subscriber received it.
type delivery struct {
	seq      int64
	latUpd   int64 // recv - record.updated (ns)
	latSend  int64 // recv - writer send stamp (ns)
	parseErr bool
}

// subscriber is one SSE connection to /api/realtime and what it received.
type subscriber struct {
	id       int
	clientID string
	events   []delivery
	otherEv  int
	err      error
	errAt    time.Time
}

var (
	client   *http.Client
	baseURL  string
	stopping atomic.Bool
	droppedN atomic.Int64
)

// runLoad connects the subscribers, runs the writer, then prints latency,
// lost, duplicated and reordered events, CPU and server memory.
func runLoad(args []string) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8090", "PocketBase base URL")
	n := fs.Int("n", 1000, "number of SSE subscribers")
	rate := fs.Float64("rate", 20, "total updates per second")
	dur := fs.Duration("dur", 60*time.Second, "write phase duration")
	writers := fs.Int("writers", 1, "number of writers (1 => commit order == writer seq order)")
	ramp := fs.Int("ramp", 500, "new SSE connections per second")
	pid := fs.Int("pid", 0, "server pid for VmRSS (0 => find by port via ss)")
	drain := fs.Duration("drain", 5*time.Second, "wait after last write before counting")
	idle := fs.Duration("idle", 0, "idle-memory mode: connect+subscribe N, then stay idle this long sampling RSS (no writes)")
	settle := fs.Duration("settle", 2*time.Second, "pause after all subscribed, before writes")
	fs.Parse(args)
	baseURL = strings.TrimRight(*url, "/")

	client = &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     0,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 10000,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}

	if *pid == 0 {
		*pid = findPidByPort(baseURL)
	}
	fmt.Printf("server pid: %d\n", *pid)

	rssBefore := vmRSS(*pid)
	msBefore := memstats()
	fmt.Printf("server VmRSS before connecting: %d kB  memstats: %s\n", rssBefore, msBefore)

	// records to update
	ids := listIDs()
	fmt.Printf("records: %d\n", len(ids))

	ctx, cancel := context.WithCancel(context.Background())
	subs := make([]*subscriber, *n)
	var ready sync.WaitGroup
	var done sync.WaitGroup
	var setupFail atomic.Int64
	ready.Add(*n)
	done.Add(*n)
	tRamp := time.Now()
	interval := time.Second / time.Duration(*ramp)
	for i := 0; i < *n; i++ {
		s := &subscriber{id: i, events: make([]delivery, 0, int(*rate*dur.Seconds())+64)}
		subs[i] = s
		go func() {
			defer done.Done()
			runSubscriber(ctx, s, &ready, &setupFail)
		}()
		if d := time.Until(tRamp.Add(time.Duration(i+1) * interval)); d > 0 {
			time.Sleep(d)
		}
	}
	ready.Wait()
	setupDur := time.Since(tRamp)
	fmt.Printf("subscribers ready: %d ok, %d failed, setup %.1fs\n", int64(*n)-setupFail.Load(), setupFail.Load(), setupDur.Seconds())
	rssSubscribed := vmRSS(*pid)
	msSubscribed := memstats()
	fmt.Printf("server VmRSS after subscribe: %d kB  memstats: %s\n", rssSubscribed, msSubscribed)

	if *idle > 0 {
		runIdle(*pid, *n, setupFail.Load(), rssBefore, msBefore, *idle, subs)
		stopping.Store(true)
		cancel()
		done.Wait()
		return
	}

	time.Sleep(*settle)

	// ---- writers ----
	total := int(math.Round(*rate * dur.Seconds()))
	per := time.Duration(float64(time.Second) / *rate)
	okSeq := make([]bool, total)
	sendNs := make([]int64, total)
	patchLat := make([]int64, total)
	var patchErr, late atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now().Add(50 * time.Millisecond)
	srvCPU0, selfCPU0 := procCPU(pid), selfCPU()
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for seq := w; seq < total; seq += *writers {
				target := t0.Add(time.Duration(seq) * per)
				if d := time.Until(target); d > 0 {
					time.Sleep(d)
				} else if -d > per {
					late.Add(1)
				}
				id := ids[seq%len(ids)]
				send := time.Now().UnixNano()
				body := fmt.Sprintf(`{"pos":%d,"title":"%d:%d"}`, seq, seq, send)
				req, _ := http.NewRequest("PATCH", baseURL+"/api/collections/tasks/records/"+id, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					patchErr.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				patchLat[seq] = time.Now().UnixNano() - send
				sendNs[seq] = send
				if resp.StatusCode == 200 {
					okSeq[seq] = true
				} else {
					patchErr.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}
		}(w)
	}
	wg.Wait()
	writeEnd := time.Now()
	srvCPU1, selfCPU1 := procCPU(pid), selfCPU()
	writeSpan := writeEnd.Sub(t0)
	time.Sleep(*drain)

	rssEnd := vmRSS(*pid)
	stopping.Store(true)
	// snapshot: close all streams
	cancel()
	done.Wait()
	msEnd := memstats()

	// ---- analysis ----
	okCount := 0
	for _, ok := range okSeq {
		if ok {
			okCount++
		}
	}
	var latU, latS []int64
	var lost, dup, extra, parseErrs, otherEv int64
	orderDiff, subsWithLoss, subsWithDup := 0, 0, 0
	dropped := droppedN.Load()
	inversions := int64(0)
	invAt := map[string]int{}
	for _, s := range subs {
		otherEv += int64(s.otherEv)
		seen := make(map[int64]int, len(s.events))
		var prev int64 = -1
		inv := 0
		for _, d := range s.events {
			if d.parseErr {
				parseErrs++
				continue
			}
			seen[d.seq]++
			latU = append(latU, d.latUpd)
			latS = append(latS, d.latSend)
			if d.seq < prev {
				inv++
				invAt[fmt.Sprintf("%d<-after-%d", d.seq, prev)]++
			}
			if d.seq > prev {
				prev = d.seq
			}
		}
		if inv > 0 {
			orderDiff++
			inversions += int64(inv)
		}
		l, du := 0, 0
		for seq, ok := range okSeq {
			if ok && seen[int64(seq)] == 0 {
				l++
			}
		}
		for seq, c := range seen {
			if c > 1 {
				du += c - 1
			}
			if seq < 0 || int(seq) >= total || !okSeq[seq] {
				extra++
			}
		}
		lost += int64(l)
		dup += int64(du)
		if l > 0 {
			subsWithLoss++
		}
		if du > 0 {
			subsWithDup++
		}
	}
	deliveries := int64(len(latU))
	sort.Slice(latU, func(i, j int) bool { return latU[i] < latU[j] })
	sort.Slice(latS, func(i, j int) bool { return latS[i] < latS[j] })
	var pl []int64
	for _, v := range patchLat {
		if v > 0 {
			pl = append(pl, v)
		}
	}
	sort.Slice(pl, func(i, j int) bool { return pl[i] < pl[j] })

	fmt.Println()
	fmt.Println("==== RESULT ====")
	fmt.Printf("subscribers=%d (setup failed %d, dropped during run %d) rate=%.1f/s dur=%s writers=%d\n",
		*n, setupFail.Load(), dropped, *rate, dur.String(), *writers)
	fmt.Printf("updates sent=%d ok(200)=%d errors=%d late(>1 interval behind)=%d write span=%.2fs achieved=%.2f/s first error=%v\n",
		total, okCount, patchErr.Load(), late.Load(), writeSpan.Seconds(), float64(total)/writeSpan.Seconds(), firstErr.Load())
	fmt.Printf("expected deliveries=%d deliveries=%d deliveries/s=%.0f (over write span)\n",
		int64(okCount)*(int64(*n)-setupFail.Load()), deliveries, float64(deliveries)/writeSpan.Seconds())
	fmt.Printf("latency recv-updated (ms): %s\n", pct(latU))
	fmt.Printf("latency recv-send    (ms): %s\n", pct(latS))
	fmt.Printf("PATCH round trip     (ms): %s\n", pct(pl))
	fmt.Printf("lost=%d (subs with loss %d) duplicated=%d (subs with dup %d) unexpected-seq=%d parse-errors=%d other-events=%d\n",
		lost, subsWithLoss, dup, subsWithDup, extra, parseErrs, otherEv)
	fmt.Printf("subscribers whose order differs from commit order=%d (total inversions %d)\n", orderDiff, inversions)
	if len(invAt) > 0 {
		type kv struct {
			k string
			v int
		}
		var l []kv
		for k, v := range invAt {
			l = append(l, kv{k, v})
		}
		sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
		if len(l) > 10 {
			l = l[:10]
		}
		fmt.Printf("inversions by (seq received after a higher seq): %d distinct, top: %v\n", len(invAt), l)
	}
	fmt.Printf("CPU during write phase (%% of one core): server=%.0f%% load-tool=%.0f%%\n",
		100*(srvCPU1-srvCPU0)/writeSpan.Seconds(), 100*(selfCPU1-selfCPU0)/writeSpan.Seconds())
	fmt.Printf("server VmRSS kB: before=%d subscribed=%d end=%d\n", rssBefore, rssSubscribed, rssEnd)
	fmt.Printf("server memstats end (after streams closed): %s\n", msEnd)
	// TSV line for the results table
	fmt.Printf("TSV\t%d\t%.0f\t%s\t%d\t%.0f\t%s\t%s\t%d\t%d\t%d\t%d\n",
		*n, *rate, dur.String(), deliveries, float64(deliveries)/writeSpan.Seconds(),
		pctShort(latU), pctShort(latS), lost, dup, orderDiff, rssEnd)
}

// runIdle keeps the subscribers connected and idle, then prints the
// server's resident memory per connection.
func runIdle(pid, n int, failed int64, rssBefore int64, msBefore string, idle time.Duration, subs []*subscriber) {
	t := time.Now()
	for time.Since(t) < idle {
		time.Sleep(15 * time.Second)
		fmt.Printf("idle t=%3.0fs VmRSS=%d kB\n", time.Since(t).Seconds(), vmRSS(pid))
	}
	rss := vmRSS(pid)
	ms := memstats()
	dropped := droppedN.Load()
	conns := int64(n) - failed - dropped
	fmt.Println()
	fmt.Println("==== IDLE RESULT ====")
	fmt.Printf("connections=%d (setup failed %d, dropped %d) idle=%s\n", conns, failed, dropped, idle)
	fmt.Printf("VmRSS before=%d kB after=%d kB delta=%d kB => %.1f kB/conn\n", rssBefore, rss, rss-rssBefore, float64(rss-rssBefore)/float64(conns))
	fmt.Printf("memstats before: %s\nmemstats after:  %s\n", msBefore, ms)
}

// runSubscriber opens one realtime stream, subscribes it to "tasks" and
// records every update it receives until ctx ends.
func runSubscriber(ctx context.Context, s *subscriber, ready *sync.WaitGroup, setupFail *atomic.Int64) {
	readyDone := false
	fail := func(err error) {
		s.err = err
		s.errAt = time.Now()
		if !readyDone {
			readyDone = true
			setupFail.Add(1)
			ready.Done()
			if setupFail.Load() <= 5 {
				log.Printf("subscriber %d setup failed: %v", s.id, err)
			}
		} else if !stopping.Load() {
			droppedN.Add(1)
			log.Printf("subscriber %d dropped: %v", s.id, err)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", baseURL+"/api/realtime", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fail(fmt.Errorf("GET status %d", resp.StatusCode))
		return
	}
	br := bufio.NewReaderSize(resp.Body, 8192)
	name, data, _, err := readEvent(br)
	if err != nil {
		fail(err)
		return
	}
	if name != "PB_CONNECT" {
		fail(fmt.Errorf("first event %q", name))
		return
	}
	var c struct {
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal(data, &c); err != nil || c.ClientID == "" {
		fail(fmt.Errorf("bad PB_CONNECT %q", data))
		return
	}
	s.clientID = c.ClientID
	body, _ := json.Marshal(map[string]any{"clientId": c.ClientID, "subscriptions": []string{"tasks"}})
	preq, _ := http.NewRequest("POST", baseURL+"/api/realtime", bytes.NewReader(body))
	preq.Header.Set("Content-Type", "application/json")
	presp, err := client.Do(preq)
	if err != nil {
		fail(err)
		return
	}
	io.Copy(io.Discard, presp.Body)
	presp.Body.Close()
	if presp.StatusCode != 204 && presp.StatusCode != 200 {
		fail(fmt.Errorf("subscribe status %d", presp.StatusCode))
		return
	}
	readyDone = true
	ready.Done()

	var ev struct {
		Action string `json:"action"`
		Record struct {
			Title   string `json:"title"`
			Updated string `json:"updated"`
		} `json:"record"`
	}
	for {
		name, data, recv, err := readEvent(br)
		if err != nil {
			fail(err)
			return
		}
		if name != "tasks" {
			s.otherEv++
			continue
		}
		ev.Action, ev.Record.Title, ev.Record.Updated = "", "", ""
		d := delivery{}
		if err := json.Unmarshal(data, &ev); err != nil || ev.Action != "update" {
			d.parseErr = true
			s.events = append(s.events, d)
			continue
		}
		seq, send, ok := parseTitle(ev.Record.Title)
		upd, err2 := time.Parse("2006-01-02 15:04:05.000Z", ev.Record.Updated)
		if !ok || err2 != nil {
			d.parseErr = true
			s.events = append(s.events, d)
			continue
		}
		d.seq = seq
		d.latSend = recv.UnixNano() - send
		d.latUpd = recv.UnixNano() - upd.UnixNano()
		s.events = append(s.events, d)
	}
}

// readEvent reads one SSE event; recv is the time the terminating blank line was read.
func readEvent(br *bufio.Reader) (name string, data []byte, recv time.Time, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return "", nil, time.Time{}, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if name == "" && data == nil {
				continue
			}
			return name, data, time.Now(), nil
		}
		switch {
		case bytes.HasPrefix(line, []byte("event:")):
			name = string(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("event:")), []byte(" ")))
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, v...)
		}
	}
}

// parseTitle splits the writer's "seq:sendUnixNano" title.
func parseTitle(t string) (seq, send int64, ok bool) {
	i := strings.IndexByte(t, ':')
	if i < 0 {
		return 0, 0, false
	}
	a, e1 := strconv.ParseInt(t[:i], 10, 64)
	b, e2 := strconv.ParseInt(t[i+1:], 10, 64)
	return a, b, e1 == nil && e2 == nil
}

// listIDs returns the ids of the records the writer updates.
func listIDs() []string {
	resp, err := client.Get(baseURL + "/api/collections/tasks/records?perPage=100&sort=pos")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		log.Fatal(err)
	}
	if len(r.Items) == 0 {
		log.Fatal("no records in tasks")
	}
	ids := make([]string, len(r.Items))
	for i, it := range r.Items {
		ids[i] = it.ID
	}
	return ids
}

// memstats reads the server's /bench/memstats route.
func memstats() string {
	resp, err := client.Get(baseURL + "/bench/memstats")
	if err != nil {
		return "n/a"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// vmRSS returns the resident memory of pid in kB, or -1.
func vmRSS(pid int) int64 {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}

var pidRe = regexp.MustCompile(`pid=(\d+)`)

// findPidByPort finds the process listening on the port of u with ss.
func findPidByPort(u string) int {
	port := u[strings.LastIndexByte(u, ':')+1:]
	out, err := exec.Command("ss", "-ltnpH", "sport = :"+port).Output()
	if err != nil {
		log.Printf("ss failed: %v (pass -pid)", err)
		return 0
	}
	m := pidRe.FindSubmatch(out)
	if m == nil {
		return 0
	}
	p, _ := strconv.Atoi(string(m[1]))
	return p
}

// pct formats the percentiles of sorted nanosecond values in ms.
func pct(v []int64) string {
	if len(v) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("p50=%.2f p90=%.2f p99=%.2f max=%.2f (min=%.2f, n=%d)",
		ms(q(v, .50)), ms(q(v, .90)), ms(q(v, .99)), ms(v[len(v)-1]), ms(v[0]), len(v))
}

// pctShort is pct as "p50 / p90 / p99 / max".
func pctShort(v []int64) string {
	if len(v) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f / %.2f", ms(q(v, .50)), ms(q(v, .90)), ms(q(v, .99)), ms(v[len(v)-1]))
}

// q returns the p-quantile of sorted values.
func q(v []int64, p float64) int64 {
	i := int(math.Ceil(p*float64(len(v)))) - 1
	if i < 0 {
		i = 0
	}
	return v[i]
}

// procCPU returns utime+stime seconds of pid (assumes CLK_TCK=100).
func procCPU(pid *int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", *pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// selfCPU returns this process's user and system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// ms converts nanoseconds to milliseconds.
func ms(ns int64) float64 { return float64(ns) / 1e6 }
