package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/taskboard/taskboard"
)

// chatBot is the user the forwarder follows boards as; a board's member
// adds it to the board whose changes should reach the chat.
var chatBot = taskboard.User{ID: "chat-bot", Name: "Chat bot", Email: "chat-bot@localhost"}

// message is what the chat webhook receives for each change. Board and Seq
// identify the change: a receiver that sees the same pair twice (after a
// crash between posting and saving the cursor) ignores the repeat.
type message struct {
	Board string          `json:"board"`
	Seq   int64           `json:"seq"`
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	Event json.RawMessage `json:"event"`
}

// forwarder posts every logged event of one board to the chat, in seq
// order, at least once, and keeps the seq of the last one posted in a file.
type forwarder struct {
	store  *taskboard.Board
	actor  taskboard.Actor
	board  string
	cursor string // the file that keeps the last seq posted
	post   func(ctx context.Context, m message) error
	log    *slog.Logger
}

// run forwards events until ctx is done. It resubscribes after a slow
// consumer and, after a reset, goes on from the board's current seq (the
// events in between are gone from the log, and the chat is told so).
func (f *forwarder) run(ctx context.Context) error {
	after, err := f.load()
	if err != nil {
		return err
	}
	for {
		sub, err := f.store.Subscribe(ctx, f.actor, f.board, after)
		var reset *taskboard.ResetError
		switch {
		case errors.As(err, &reset):
			after, err = f.skip(ctx, after, reset)
			if err != nil {
				return err
			}
			continue
		case err != nil:
			return fmt.Errorf("follow board %s: %w", f.board, err)
		}
		for ev := range sub.Events() {
			if ev.Seq == 0 {
				continue // presence and typing are not changes
			}
			if err := f.forward(ctx, ev); err != nil {
				sub.Close()
				return err
			}
			after = ev.Seq
		}
		err = sub.Err()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, taskboard.ErrSlowConsumer):
			continue // resume after the last event posted
		case errors.As(err, &reset) && (errors.Is(err, taskboard.ErrBoardDeleted) || errors.Is(err, taskboard.ErrAccessRevoked)):
			f.log.Info("forwarder: board no longer followed", "board", f.board, "reason", reset.Reason)
			return nil
		default:
			return fmt.Errorf("follow board %s: %w", f.board, err)
		}
	}
}

// forward posts one event, retrying with backoff until it is accepted or
// ctx ends, then saves its seq.
func (f *forwarder) forward(ctx context.Context, ev taskboard.Event) error {
	m := message{Board: ev.BoardID, Seq: ev.Seq, Type: ev.Type, Text: describe(ev), Event: ev.Data}
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 30*time.Second) {
		err := f.post(ctx, m)
		if err == nil {
			break
		}
		f.log.Warn("forwarder: post to the chat failed; retrying", "seq", ev.Seq, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return f.save(ev.Seq)
}

// skip handles a resume point the log cannot serve: it tells the chat how
// many changes it missed and goes on from the board's current seq.
func (f *forwarder) skip(ctx context.Context, after int64, reset *taskboard.ResetError) (int64, error) {
	if reset.Reason != taskboard.ReasonHistoryTruncated && reset.Reason != taskboard.ReasonAhead {
		return 0, fmt.Errorf("follow board %s: %w", f.board, reset)
	}
	f.log.Warn("forwarder: resume point not in the log; going on from the board's seq", "after", after, "seq", reset.Seq, "reason", reset.Reason)
	m := message{Board: f.board, Seq: reset.Seq, Type: "reset",
		Text: fmt.Sprintf("changes after #%d could not be forwarded (%s); going on from #%d", after, reset.Reason, reset.Seq)}
	if err := f.post(ctx, m); err != nil {
		return 0, err
	}
	return reset.Seq, f.save(reset.Seq)
}

// load reads the saved cursor: the seq after which to resume, 0 at first.
func (f *forwarder) load() (int64, error) {
	b, err := os.ReadFile(f.cursor)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	seq, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || seq < 0 {
		return 0, fmt.Errorf("cursor file %s holds %q, not a seq", f.cursor, b)
	}
	return seq, nil
}

// save replaces the cursor file atomically, so that a crash leaves the
// old seq or the new one, never a torn file.
func (f *forwarder) save(seq int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(f.cursor), ".cursor-*")
	if err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := fmt.Fprintln(tmp, seq); err != nil {
		tmp.Close()
		return fmt.Errorf("save cursor: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save cursor: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.cursor); err != nil {
		return fmt.Errorf("save cursor: %w", err)
	}
	return nil
}

// describe is the chat line of an event.
func describe(ev taskboard.Event) string {
	env, err := ev.Envelope()
	if err != nil {
		return ev.Type
	}
	switch {
	case env.Task != nil:
		return fmt.Sprintf("%s: %q by %s", ev.Type, env.Task.Title, env.ActorID)
	case env.List != nil:
		return fmt.Sprintf("%s: list %q by %s", ev.Type, env.List.Name, env.ActorID)
	case env.UserID != "":
		return fmt.Sprintf("%s: %s by %s", ev.Type, env.UserID, env.ActorID)
	default:
		return fmt.Sprintf("%s by %s", ev.Type, env.ActorID)
	}
}

// postJSON returns a poster that sends each message to url as JSON and
// counts any 2xx answer as accepted.
func postJSON(client *http.Client, url string) func(ctx context.Context, m message) error {
	return func(ctx context.Context, m message) error {
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("chat answered %s", resp.Status)
		}
		return nil
	}
}
