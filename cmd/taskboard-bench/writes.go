package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WriteResult is one measured kind of request of -mode writes: a mix run
// against a list of ListLength tasks.
type WriteResult struct {
	ListLength int    `json:"listLength"`
	Mix        string `json:"mix"`
	RequestResult
	// ServerCPUMicros is the server's CPU time per request in
	// microseconds (of the -server-pid process), zero when unknown.
	ServerCPUMicros float64 `json:"serverCpuMicros,omitempty"`
	// LoggedPerSecond is the events the board logged per second during
	// the mix (its seq's growth), when the tool made the board's lists: a
	// move to where a task already is changes and logs nothing, and with
	// fewer tasks than clients such moves happen.
	LoggedPerSecond float64 `json:"loggedPerSecond,omitempty"`
}

// The write mixes of -mode writes.
var writeMixes = []string{"create", "create-only", "move-random", "move-top", "move-across"}

// writeLoad measures creates, deletes and moves against the length of the
// list they touch: for each -list-lengths n it brings the first of the two
// -write-lists to n tasks (creating them over HTTP), then runs each
// -write-mixes mix for -duration with -rest-clients clients sending
// requests back to back:
//
//	create       each client creates a task at the end of the list and
//	             deletes it again, so the list keeps its length
//	create-only  each client creates tasks at the end of the list (which
//	             grows meanwhile; they are deleted after the measurement)
//	move-random  each client moves a task to a random position in its list
//	move-top     each client moves a task to the top of its list
//	move-across  each client moves a task to a random position in the other
//	             list, back and forth
//
// The lists are made on -boards' first board unless -write-lists names
// two existing ones (any server with the same task routes, such as the
// course's, can be measured so).
func (b *bench) writeLoad(ctx context.Context, res *Result) error {
	cfg := b.cfg
	w := &listWrites{b: b, base: cfg.writeURLs[0], token: cfg.tokens[0], clients: cfg.restClients}
	if len(cfg.writeLists) == 2 {
		w.lists = [2]string{cfg.writeLists[0], cfg.writeLists[1]}
	} else {
		w.board = cfg.boards[0]
		if err := w.makeLists(ctx); err != nil {
			return err
		}
	}
	for _, mix := range cfg.writeMixes {
		if !contains(writeMixes, mix) {
			return fmt.Errorf("unknown write mix %q (have %s)", mix, strings.Join(writeMixes, ", "))
		}
	}
	for _, n := range cfg.listLengths {
		if err := w.fill(ctx, n); err != nil {
			return err
		}
		for _, mix := range cfg.writeMixes {
			b.logf("writes: %d tasks, %s, %d clients for %s", n, mix, w.clients, cfg.duration)
			results, err := w.run(ctx, n, mix)
			if err != nil {
				return err
			}
			res.Writes = append(res.Writes, results...)
		}
	}
	return nil
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

// listWrites is the state of -mode writes: the two lists and the tasks it
// made in the first.
type listWrites struct {
	b           *bench
	base, token string
	clients     int
	board       string // the lists' board, when the tool made them
	lists       [2]string
	tasks       []string // in lists[0]
}

// makeLists creates the two lists on the first board.
func (w *listWrites) makeLists(ctx context.Context) error {
	board := w.b.cfg.boards[0]
	for i := range w.lists {
		var list struct {
			ID string `json:"id"`
		}
		body := map[string]any{"name": fmt.Sprintf("writes %d", i+1)}
		if err := w.b.api.do(ctx, http.MethodPost, w.base, "/boards/"+url.PathEscape(board)+"/lists", w.token, body, &list); err != nil {
			return fmt.Errorf("create list: %w", err)
		}
		w.lists[i] = list.ID
	}
	return nil
}

// fill creates tasks at the end of the first list until it holds n of
// this tool's tasks, with the clients in parallel.
func (w *listWrites) fill(ctx context.Context, n int) error {
	need := n - len(w.tasks)
	if need <= 0 {
		return nil
	}
	w.b.logf("writes: filling the list to %d tasks", n)
	began := time.Now()
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range w.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(need) && ctx.Err() == nil {
				id, status, err := w.create(ctx, "fill")
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("create task: status %d", status)
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
				} else {
					w.tasks = append(w.tasks, id)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	w.b.logf("writes: %d tasks in %.1f s", len(w.tasks), time.Since(began).Seconds())
	return ctx.Err()
}

// run runs one mix against a list of n tasks and returns a result per
// kind of request.
func (w *listWrites) run(ctx context.Context, n int, mix string) ([]WriteResult, error) {
	cpu0, _ := w.serverCPU(ctx)
	seq0, seqErr := w.boardSeq(ctx)
	var results []WriteResult
	clients := w.clients
	d := w.b.cfg.duration
	switch mix {
	case "create-only":
		creates := newRequestStats()
		var mu sync.Mutex
		var made []string
		elapsed := runClosedLoop(ctx, clients, d, creates, func(ctx context.Context, i int) (int, error) {
			id, status, err := w.create(ctx, "created")
			if err == nil && status == http.StatusCreated {
				mu.Lock()
				made = append(made, id)
				mu.Unlock()
			}
			return status, err
		})
		results = append(results, WriteResult{ListLength: n, Mix: mix, RequestResult: creates.result("POST /tasks", clients, elapsed, 0)})
		defer func() {
			if err := w.deleteAll(ctx, made); err != nil {
				w.b.logf("writes: delete the created tasks: %v", err)
			}
		}()
	case "create":
		creates, deletes := newRequestStats(), newRequestStats()
		elapsed := runClosedLoop(ctx, clients, d, creates, func(ctx context.Context, i int) (int, error) {
			id, status, err := w.create(ctx, "created")
			if err != nil || status != http.StatusCreated {
				return status, err
			}
			// The delete is counted on its own; a delete cut short by the
			// end of the run leaves a task behind, which fill accounts for.
			t1 := time.Now()
			dstatus, derr := w.send(context.WithoutCancel(ctx), http.MethodDelete, "/tasks/"+url.PathEscape(id), "")
			deletes.note(time.Since(t1), dstatus, derr)
			return status, err
		})
		results = append(results,
			WriteResult{ListLength: n, Mix: mix, RequestResult: creates.result("POST /tasks", clients, elapsed, 0)},
			WriteResult{ListLength: n, Mix: mix, RequestResult: deletes.result("DELETE /tasks/{id}", clients, elapsed, 0)})
	default:
		stats := newRequestStats()
		where := make([]int, clients) // the list each client's task is in
		elapsed := runClosedLoop(ctx, clients, d, stats, func(ctx context.Context, i int) (int, error) {
			task := w.tasks[i%len(w.tasks)]
			to, pos := where[i], 0
			switch mix {
			case "move-random":
				pos = rand.IntN(n)
			case "move-across":
				to = 1 - where[i]
				pos = rand.IntN(n)
			}
			body := `{"listId":"` + w.lists[to] + `","position":` + strconv.Itoa(pos) + `}`
			status, err := w.send(ctx, http.MethodPatch, "/tasks/"+url.PathEscape(task)+"/move", body)
			if status == http.StatusOK {
				where[i] = to
			}
			return status, err
		})
		results = append(results, WriteResult{ListLength: n, Mix: mix, RequestResult: stats.result("PATCH /tasks/{id}/move", clients, elapsed, 0)})
		// Put the tasks moved to the other list back.
		for i, l := range where {
			if l == 1 {
				body := `{"listId":"` + w.lists[0] + `","position":` + strconv.Itoa(n) + `}`
				if status, err := w.send(ctx, http.MethodPatch, "/tasks/"+url.PathEscape(w.tasks[i%len(w.tasks)])+"/move", body); err != nil || status != http.StatusOK {
					return nil, fmt.Errorf("move a task back: status %d: %v", status, err)
				}
			}
		}
	}
	if seq1, err := w.boardSeq(ctx); err == nil && seqErr == nil && len(results) > 0 {
		for i := range results {
			results[i].LoggedPerSecond = float64(seq1-seq0) / results[0].Seconds
		}
	}
	if cpu1, ok := w.serverCPU(ctx); ok && cpu0 > 0 {
		total := int64(0)
		for _, r := range results {
			total += r.OK
		}
		if total > 0 {
			for i := range results {
				results[i].ServerCPUMicros = (cpu1 - cpu0) * 1e6 / float64(total)
			}
		}
	}
	return results, ctx.Err()
}

// deleteAll deletes tasks with the clients in parallel.
func (w *listWrites) deleteAll(ctx context.Context, ids []string) error {
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range w.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(ids)) && ctx.Err() == nil; i = next.Add(1) - 1 {
				if status, err := w.send(ctx, http.MethodDelete, "/tasks/"+url.PathEscape(ids[i]), ""); err != nil || status != http.StatusNoContent {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d deletes failed", n, len(ids))
	}
	return ctx.Err()
}

// boardSeq returns the seq of the lists' board, when the tool made them.
func (w *listWrites) boardSeq(ctx context.Context) (int64, error) {
	if w.board == "" {
		return 0, errors.New("board unknown")
	}
	var boards struct {
		Data []struct {
			ID  string `json:"id"`
			Seq int64  `json:"seq"`
		} `json:"data"`
	}
	if err := w.b.api.do(ctx, http.MethodGet, w.base, "/boards", w.token, nil, &boards); err != nil {
		return 0, err
	}
	for _, b := range boards.Data {
		if b.ID == w.board {
			return b.Seq, nil
		}
	}
	return 0, fmt.Errorf("board %s not among the caller's", w.board)
}

// create creates a task at the end of the first list and returns its id.
func (w *listWrites) create(ctx context.Context, title string) (string, int, error) {
	body := `{"title":"` + title + `","listId":"` + w.lists[0] + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+"/tasks", strings.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.b.writes.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		drain(resp)
		return "", resp.StatusCode, nil
	}
	var task struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&task); err != nil {
		return "", resp.StatusCode, fmt.Errorf("read the created task: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	if task.ID == "" {
		return "", resp.StatusCode, errors.New("the created task has no id")
	}
	return task.ID, resp.StatusCode, nil
}

// send sends a request with an optional JSON body and reads the answer.
func (w *listWrites) send(ctx context.Context, method, path, body string) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.b.writes.Do(req)
	if err != nil {
		return 0, err
	}
	drain(resp)
	return resp.StatusCode, nil
}

// serverCPU returns the CPU seconds the -server-pid process has used so
// far, when it is given.
func (w *listWrites) serverCPU(context.Context) (float64, bool) {
	if w.b.cfg.serverPID == 0 {
		return 0, false
	}
	return processCPU(w.b.cfg.serverPID)
}

// processCPU reads a process's user and system CPU seconds from
// /proc/PID/stat (Linux).
func processCPU(pid int) (float64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticks = 100 // USER_HZ on Linux
	return (utime + stime) / ticks, true
}
