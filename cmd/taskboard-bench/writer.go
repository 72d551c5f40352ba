package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mover is one writer's task: it moves the task back and forth between the
// board's first two lists.
type mover struct {
	base, token, board, task string
	lists                    [2]string
	cur                      int // index in lists of the task's list
}

// planMovers assigns n writers to tasks: writer i works on board
// boards[i % len(boards)] and on a task of its own while the board has
// enough tasks. Writers that share a task make some moves that change
// nothing (and log no event); warn, if not nil, is told so.
func planMovers(ctx context.Context, a *api, bases, tokens, boards []string, n int, warn func(format string, args ...any)) ([]*mover, error) {
	type boardInfo struct {
		lists [2]string
		tasks []string
		where map[string]string
	}
	infos := make(map[string]*boardInfo)
	for _, b := range boards {
		snap, err := a.snapshot(ctx, bases[0], tokens[0], b)
		if err != nil {
			return nil, err
		}
		if len(snap.Lists) < 2 || len(snap.Tasks) == 0 {
			return nil, fmt.Errorf("board %s needs at least two lists and one task (see -setup)", b)
		}
		sort.Slice(snap.Lists, func(i, j int) bool { return snap.Lists[i].Position < snap.Lists[j].Position })
		info := &boardInfo{lists: [2]string{snap.Lists[0].ID, snap.Lists[1].ID}, where: make(map[string]string)}
		for _, t := range snap.Tasks {
			info.tasks = append(info.tasks, t.ID)
			info.where[t.ID] = t.ListID
		}
		infos[b] = info
		if writers := (n + len(boards) - 1 - indexOf(boards, b)) / len(boards); writers > len(info.tasks) && warn != nil {
			warn("board %s has %d tasks for %d writers: writers share tasks and some moves change nothing (-mode setup makes a board with more tasks)", b, len(info.tasks), writers)
		}
	}
	movers := make([]*mover, n)
	for i := range movers {
		b := boards[i%len(boards)]
		info := infos[b]
		task := info.tasks[(i/len(boards))%len(info.tasks)]
		m := &mover{base: bases[i%len(bases)], token: tokens[i%len(tokens)], board: b, task: task, lists: info.lists, cur: 1}
		if info.where[task] == info.lists[0] {
			m.cur = 0
		}
		movers[i] = m
	}
	return movers, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// move moves the task to the other list, at position pos.
func (m *mover) move(ctx context.Context, client *http.Client, pos int) (int, error) {
	body := `{"listId":"` + m.lists[1-m.cur] + `","position":` + strconv.Itoa(pos) + `}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, m.base+"/tasks/"+url.PathEscape(m.task)+"/move", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+m.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp)
	if resp.StatusCode == http.StatusOK {
		m.cur = 1 - m.cur
	}
	return resp.StatusCode, nil
}

// drain reads and closes a response body so that its connection is reused.
func drain(resp *http.Response) {
	var buf [4096]byte
	for {
		if _, err := resp.Body.Read(buf[:]); err != nil {
			break
		}
	}
	resp.Body.Close()
}

// requestStats counts REST requests and their latency.
type requestStats struct {
	hist   Histogram
	ok     atomic.Int64
	failed atomic.Int64
	mu     sync.Mutex
	status map[string]int64
}

func newRequestStats() *requestStats { return &requestStats{status: make(map[string]int64)} }

// note records one request.
func (r *requestStats) note(d time.Duration, status int, err error) {
	r.hist.Record(d)
	if err == nil && status/100 == 2 {
		r.ok.Add(1)
		return
	}
	r.failed.Add(1)
	key := strconv.Itoa(status)
	if err != nil {
		key = "error: " + err.Error()
		if len(key) > 80 {
			key = key[:80]
		}
	}
	r.mu.Lock()
	r.status[key]++
	r.mu.Unlock()
}

// RequestResult is a REST measurement.
type RequestResult struct {
	Name      string           `json:"name"`
	Clients   int              `json:"clients"`
	Seconds   float64          `json:"seconds"`
	OK        int64            `json:"ok"`
	Failed    int64            `json:"failed"`
	Failures  map[string]int64 `json:"failures,omitempty"`
	PerSecond float64          `json:"perSecond"`
	// TargetRate is the rate asked for (0: as fast as possible).
	TargetRate float64 `json:"targetRate,omitempty"`
	Latency    Summary `json:"latency"`
}

func (r *requestStats) result(name string, clients int, elapsed time.Duration, target float64) RequestResult {
	r.mu.Lock()
	failures := make(map[string]int64, len(r.status))
	for k, v := range r.status {
		failures[k] = v
	}
	r.mu.Unlock()
	ok := r.ok.Load()
	return RequestResult{
		Name: name, Clients: clients, Seconds: elapsed.Seconds(), OK: ok, Failed: r.failed.Load(),
		Failures: failures, PerSecond: float64(ok) / elapsed.Seconds(), TargetRate: target, Latency: r.hist.Summary(),
	}
}

// runMovers moves tasks at a total rate for d, or until stop ends (open
// loop: each writer keeps its own schedule of rate/len(movers) moves a
// second; a move that takes longer than its slot delays the next one). A
// move in flight when stop ends completes; ctx ends everything.
func runMovers(ctx, stop context.Context, client *http.Client, movers []*mover, rate float64, d time.Duration, pos int, stats *requestStats) time.Duration {
	begin := time.Now()
	if rate <= 0 || len(movers) == 0 {
		sleepCtx(stop, d)
		return time.Since(begin)
	}
	period := time.Duration(float64(len(movers)) / rate * float64(time.Second))
	end := begin.Add(d)
	var wg sync.WaitGroup
	for i, m := range movers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := begin.Add(period * time.Duration(i) / time.Duration(len(movers)))
			for k := 0; ; k++ {
				due := first.Add(period * time.Duration(k))
				if !due.Before(end) || !sleepCtx(stop, time.Until(due)) {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t0 := time.Now()
				status, err := m.move(rctx, client, pos)
				cancel()
				if ctx.Err() != nil {
					return
				}
				stats.note(time.Since(t0), status, err)
			}
		}()
	}
	wg.Wait()
	return time.Since(begin)
}

// runClosedLoop runs clients that each send requests back to back for d.
func runClosedLoop(ctx context.Context, clients int, d time.Duration, stats *requestStats, do func(ctx context.Context, client int) (int, error)) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				status, err := do(ctx, i)
				if ctx.Err() != nil {
					return
				}
				stats.note(time.Since(t0), status, err)
			}
		}()
	}
	wg.Wait()
	return time.Since(begin)
}

// getTasks sends GET /boards/{board}/tasks and reads the answer.
func getTasks(ctx context.Context, client *http.Client, base, token, board string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/boards/"+url.PathEscape(board)+"/tasks", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp)
	return resp.StatusCode, nil
}
