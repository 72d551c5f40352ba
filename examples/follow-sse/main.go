// Command follow-sse follows a task board over Server-Sent Events and prints
// each change. After a disconnect it reconnects with Last-Event-ID, so it
// misses nothing; after a reset it refetches the board's snapshot and
// follows on from its seq.
//
//	go run ./examples/follow-sse -url http://localhost:3000 -token tb_... -board board-1
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	base := flag.String("url", "http://localhost:3000", "the taskboard server's base URL")
	token := flag.String("token", os.Getenv("TASKBOARD_TOKEN"), "an API token (default $TASKBOARD_TOKEN)")
	board := flag.String("board", "board-1", "the board to follow")
	flag.Parse()
	if *token == "" {
		log.Fatal("follow-sse: -token is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	f := &follower{base: strings.TrimRight(*base, "/"), token: *token, board: *board, retry: 2 * time.Second}
	if err := f.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatalf("follow-sse: %v", err)
	}
}

// follower follows one board, remembering the last event it printed.
type follower struct {
	base, token, board string
	lastID             string // the seq of the last event printed; empty: from now
	retry              time.Duration
}

// errFatal marks an answer that reconnecting cannot fix.
var errFatal = errors.New("giving up")

// run follows the board until ctx is done or a fatal error.
func (f *follower) run(ctx context.Context) error {
	for {
		err := f.stream(ctx)
		if ctx.Err() != nil || errors.Is(err, errFatal) {
			return err
		}
		if err != nil {
			log.Printf("disconnected: %v; reconnecting in %v", err, f.retry)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.retry):
		}
	}
}

// event is the part of an event envelope this program prints.
type event struct {
	Type    string `json:"type"`
	Seq     int64  `json:"seq"`
	ActorID string `json:"actorId"`
	Reason  string `json:"reason"`
	TaskID  string `json:"taskId"`
	Task    *struct {
		ID       string `json:"id"`
		Title    string `json:"title"`
		ListID   string `json:"list_id"`
		Position int    `json:"position"`
	} `json:"task"`
	List *struct {
		Name string `json:"name"`
	} `json:"list"`
	User *struct {
		Name string `json:"name"`
	} `json:"user"`
}

// stream reads one connection's events until it ends.
func (f *follower) stream(ctx context.Context) error {
	u := f.base + "/boards/" + url.PathEscape(f.board) + "/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", errFatal, err)
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Accept", "text/event-stream")
	if f.lastID != "" {
		req.Header.Set("Last-Event-ID", f.lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("server answered %s", resp.Status)
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("%w: server answered %s: %s", errFatal, resp.Status, strings.TrimSpace(string(body)))
	}

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var id, typ string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id = value
			case "event":
				typ = value
			case "data":
				data = append(data, value)
			case "retry":
				if ms, err := strconv.Atoi(value); err == nil && ms > 0 {
					f.retry = time.Duration(ms) * time.Millisecond
				}
			}
			continue
		}
		// A blank line ends a frame.
		if len(data) > 0 {
			if err := f.handle(ctx, id, typ, strings.Join(data, "\n")); err != nil {
				return err
			}
		}
		id, typ, data = "", "", nil
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("stream ended")
}

// handle prints one frame and remembers its id.
func (f *follower) handle(ctx context.Context, id, typ, data string) error {
	var ev event
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return fmt.Errorf("bad event %q: %w", data, err)
	}
	switch {
	case ev.Type == "connected":
		fmt.Printf("following %s at seq %d\n", f.board, ev.Seq)
		return nil
	case typ == "reset":
		fmt.Printf("reset (%s) at seq %d\n", ev.Reason, ev.Seq)
		if ev.Reason == "access_revoked" || ev.Reason == "board_deleted" {
			return fmt.Errorf("%w: %s", errFatal, ev.Reason)
		}
		// A real client refetches the snapshot here and renders it; this
		// one follows on from the snapshot's seq.
		seq, err := f.snapshotSeq(ctx)
		if err != nil {
			return err
		}
		f.lastID = strconv.FormatInt(seq, 10)
		return errors.New("resumed after a reset")
	}
	if id != "" {
		f.lastID = id
	}
	fmt.Println(describe(typ, ev))
	return nil
}

// describe renders an event in one line.
func describe(typ string, ev event) string {
	var b strings.Builder
	if ev.Seq > 0 {
		fmt.Fprintf(&b, "#%d ", ev.Seq)
	}
	b.WriteString(typ)
	switch {
	case ev.Task != nil:
		fmt.Fprintf(&b, " %s %q in %s at %d", ev.Task.ID, ev.Task.Title, ev.Task.ListID, ev.Task.Position)
	case ev.List != nil:
		fmt.Fprintf(&b, " list %q", ev.List.Name)
	case ev.TaskID != "":
		fmt.Fprintf(&b, " %s", ev.TaskID)
	}
	if ev.User != nil {
		fmt.Fprintf(&b, " (%s)", ev.User.Name)
	}
	if ev.ActorID != "" {
		fmt.Fprintf(&b, " by %s", ev.ActorID)
	}
	return b.String()
}

// snapshotSeq fetches the board's snapshot and returns its seq.
func (f *follower) snapshotSeq(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/boards/"+url.PathEscape(f.board), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch snapshot: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%w: fetch snapshot: %s", errFatal, resp.Status)
	}
	var snap struct {
		Seq int64 `json:"seq"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return 0, fmt.Errorf("decode snapshot: %w", err)
	}
	return snap.Seq, nil
}
