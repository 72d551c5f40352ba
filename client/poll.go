package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/taskboard/taskboard"
)

// pollTimeout returns how long, in seconds, the server holds a long poll
// that has nothing to say: half the idle timeout, 1..25 s.
func (f *follower) pollTimeout() int {
	return min(max(int(f.cfg.idle/time.Second)/2, 1), 25)
}

// pollAnswer is the answer of GET /poll?boards=.
type pollAnswer struct {
	Data    []json.RawMessage `json:"data"`
	Cursor  string            `json:"cursor"`
	More    bool              `json:"more"`
	Timeout bool              `json:"timeout"`
}

// connectPoll long-polls GET /poll?boards= until a request fails: each
// answer's events and resets are handled as on SSE, boards of the answer's
// cursor new to the stream are started, and followed boards it leaves out
// (AllBoards: boards the caller is no longer a member of) are dropped.
func (f *follower) connectPoll(ctx context.Context) (bool, error) {
	progressed := false
	for {
		ans, err := f.poll(ctx)
		if err != nil {
			return progressed, err
		}
		progressed = true
		seqs, err := ParseCursor(ans.Cursor)
		if err != nil {
			return progressed, fmt.Errorf("client: GET /poll: %w", err)
		}
		heads := make([]sseHead, len(ans.Data))
		for i, data := range ans.Data {
			if err := json.Unmarshal(data, &heads[i]); err != nil {
				return progressed, fmt.Errorf("client: decode polled event: %w", err)
			}
		}
		// A board new to the stream starts where the poll took it up: before
		// its first event of the answer, else at the answer's cursor.
		starts := make(map[string]int64, len(seqs))
		for id, seq := range seqs {
			starts[id] = seq
		}
		for i := len(heads) - 1; i >= 0; i-- {
			if hd := heads[i]; hd.Type != EventReset && hd.Seq > 0 {
				if _, ok := starts[hd.BoardID]; ok {
					starts[hd.BoardID] = hd.Seq - 1
				}
			}
		}
		ids := make([]string, 0, len(starts))
		for id := range starts {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if err := f.started(ctx, id, starts[id]); err != nil {
				return progressed, err
			}
		}
		for i, data := range ans.Data {
			hd := heads[i]
			var err error
			switch {
			case hd.Type == EventReset && f.followed(hd.BoardID):
				err = f.reset(ctx, hd.BoardID, hd.Reason)
			case hd.Type != EventReset:
				err = f.logged(ctx, hd.Type, data)
			}
			if err != nil {
				return progressed, err
			}
		}
		for _, id := range f.boards() {
			if _, ok := seqs[id]; !ok {
				if err := f.drop(ctx, id, taskboard.ReasonAccessRevoked); err != nil {
					return progressed, err
				}
			}
		}
	}
}

// poll sends one long poll after the stream's cursor (none while no board
// has a position: a fresh poll, refused 404 if a board is not the
// caller's).
func (f *follower) poll(ctx context.Context) (*pollAnswer, error) {
	q, h, err := f.credential(ctx)
	if err != nil {
		return nil, err
	}
	if f.all {
		q.Set("boards", AllBoards)
	} else {
		q.Set("boards", strings.Join(f.boards(), ","))
	}
	if len(f.cur) > 0 {
		q.Set("after", f.cur.String())
	}
	q.Set("timeout", strconv.Itoa(f.pollTimeout()))
	const path = "/poll"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.c.url(path, q), nil)
	if err != nil {
		return nil, &terminalError{err}
	}
	req.Header = h
	req.Header.Set("Accept", "application/json")
	resp, err := f.c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("client: GET %s: read answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errorOf(http.MethodGet, path, resp, data)
	}
	var ans pollAnswer
	if err := json.Unmarshal(data, &ans); err != nil {
		return nil, fmt.Errorf("client: GET %s: decode answer: %w", path, err)
	}
	return &ans, nil
}
