package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/taskboard/taskboard/client"
)

// A many-board stream (transport sse-multi) follows several boards on one
// Server-Sent Events stream, GET /events?boards=a,b,...: every frame's id
// is a composite cursor of all its boards, and each event names its board
// in its envelope's boardId. Each board has a Tracker of its own.

// multiCursor returns the composite cursor of the stream's trackers in the
// client package's form, boards in sorted order: "a:12,b:7".
func (s *subscriber) multiCursor() string {
	c := make(client.Cursor, len(s.trs))
	for b, tr := range s.trs {
		c[b] = tr.Last()
	}
	return c.String()
}

// runMultiSSE follows the stream's boards on one SSE stream: the first
// connection resumes with ?after=, later ones with Last-Event-ID, both the
// composite cursor of the seqs received.
func (s *subscriber) runMultiSSE(ctx context.Context, resumed bool) error {
	cursor := s.multiCursor()
	u := s.spec.URL + "/events?boards=" + url.QueryEscape(strings.Join(s.spec.Boards, ","))
	if !resumed {
		u += "&after=" + url.QueryEscape(cursor)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.spec.Token)
	req.Header.Set("Accept", "text/event-stream")
	if resumed {
		req.Header.Set("Last-Event-ID", cursor)
	}
	resp, err := s.env.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return newStatusError(resp)
	}
	return s.readMultiSSE(resp.Body)
}

// readMultiSSE parses a many-board event stream until it ends, counting
// the bytes of each frame and of its id.
func (s *subscriber) readMultiSSE(body io.Reader) error {
	br := bufio.NewReaderSize(body, 64<<10)
	var (
		idLen      = -1
		frameBytes int
		event      []byte
		data       []byte
		hasData    bool
		long       []byte
	)
	for {
		line, err := readLine(br, &long)
		if err != nil {
			return err
		}
		frameBytes += len(line)
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if hasData || idLen >= 0 {
				s.dispatchMulti(idLen, frameBytes, event, data)
			}
			idLen, frameBytes, event, data, hasData = -1, 0, event[:0], data[:0], false
			continue
		}
		if line[0] == ':' {
			frameBytes = 0
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			idLen = len(value)
		case "event":
			event = append(event[:0], value...)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
}

// dispatchMulti handles one complete frame of a many-board stream: idLen
// is the length of its id (-1: none), frameBytes its size on the wire.
func (s *subscriber) dispatchMulti(idLen, frameBytes int, event, data []byte) {
	now := time.Now()
	switch string(event) {
	case "reset":
		s.reset()
		return
	case "following", "limit":
		return
	case "":
		if string(messageType(data)) == "connected" {
			s.established(-1)
			return
		}
	}
	if idLen <= 0 {
		return // ephemeral
	}
	seq, at, ok := eventStamp(data)
	tr := s.trs[string(boardOf(data))]
	if !ok || tr == nil {
		s.stats.parseErrors.Add(1)
		return
	}
	s.stats.frames.Add(1)
	s.stats.frameBytes.Add(int64(frameBytes))
	s.stats.idBytes.Add(int64(idLen))
	if tr.Observe(seq) && !at.IsZero() {
		s.stats.record(now.Sub(at))
	}
}

// boardOf returns the value of an event envelope's first "boardId" key,
// or nil.
func boardOf(data []byte) []byte {
	const key = `"boardId":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return nil
	}
	rest := data[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return nil
}

// streamBoards returns the boards of the k-th many-board stream: per
// boards of the list, starting at k×per, wrapping around (every stream
// follows the same boards when per is the length of the list).
func streamBoards(boards []string, per, k int) []string {
	out := make([]string, per)
	for j := range out {
		out[j] = boards[(k*per+j)%len(boards)]
	}
	return out
}
