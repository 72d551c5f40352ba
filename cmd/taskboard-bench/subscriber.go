package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Transport names.
const (
	transSSE  = "sse"
	transWS   = "ws"
	transPoll = "poll"
	// transMulti is a many-board SSE stream, GET /events?boards=...
	transMulti = "sse-multi"
)

// transports lists the transports in report order.
var transports = []string{transSSE, transWS, transPoll, transMulti}

// subSpec describes one subscriber: which transport, server, board and
// token it uses, and the seq it starts after.
type subSpec struct {
	ID        int    `json:"id"`
	Transport string `json:"transport"`
	URL       string `json:"url"`
	Board     string `json:"board"`
	Token     string `json:"token"`
	After     int64  `json:"after"`
	// Boards and Afters are a many-board stream's boards and the seq it
	// starts after on each (Board and After are unused then).
	Boards []string         `json:"boards,omitempty"`
	Afters map[string]int64 `json:"afters,omitempty"`
}

// errDropped ends a connection that the reconnect storm dropped.
var errDropped = errors.New("dropped by the reconnect storm")

// subscriber is one real-time client. It reconnects when its connection
// ends, resuming after the last seq it received, until its context ends.
type subscriber struct {
	spec subSpec
	tr   *Tracker
	// trs are a many-board stream's trackers, by board.
	trs   map[string]*Tracker
	stats *transportStats
	env   *subEnv

	mu         sync.Mutex
	cancelConn context.CancelCauseFunc
	storm      *stormState

	connected atomic.Bool
	once      sync.Once
	first     chan struct{} // closed on the first established connection
}

// subEnv is what a worker's subscribers share.
type subEnv struct {
	client      *http.Client
	pollTimeout int // seconds
}

// stormState follows one subscriber through a reconnect storm.
type stormState struct {
	dropped     time.Time
	jitter      time.Duration
	reconnected time.Time // the server accepted the resume
	target      int64     // the board's seq when it did
	caughtUp    time.Time // the subscriber has every event up to target
}

func newSubscriber(spec subSpec, stats *transportStats, env *subEnv) *subscriber {
	s := &subscriber{spec: spec, tr: NewTracker(spec.After), stats: stats, env: env, first: make(chan struct{})}
	if spec.Transport == transMulti {
		s.trs = make(map[string]*Tracker, len(spec.Boards))
		for _, b := range spec.Boards {
			s.trs[b] = NewTracker(spec.Afters[b])
		}
	}
	return s
}

// behind reports whether the subscriber has not yet seen the final seq of
// each of its boards.
func (s *subscriber) behind(final map[string]int64) bool {
	if s.trs == nil {
		return s.tr.Last() < final[s.spec.Board]
	}
	for b, tr := range s.trs {
		if tr.Last() < final[b] {
			return true
		}
	}
	return false
}

// account returns the subscriber's accounting against the final seqs,
// summed over its boards.
func (s *subscriber) account(final map[string]int64) Accounting {
	if s.trs == nil {
		return s.tr.Account(final[s.spec.Board])
	}
	var a Accounting
	behind := int64(0)
	for b, tr := range s.trs {
		x := tr.Account(final[b])
		behind |= x.Behind
		x.Behind = 0
		a.Add(x)
	}
	a.Behind = behind
	return a
}

// run connects and reconnects until ctx ends.
func (s *subscriber) run(ctx context.Context) {
	bo := backoff{base: 250 * time.Millisecond, max: 5 * time.Second}
	resumed := false
	for ctx.Err() == nil {
		connCtx, cancel := context.WithCancelCause(ctx)
		s.mu.Lock()
		s.cancelConn = cancel
		s.mu.Unlock()
		var wait time.Duration
		var err error
		switch s.spec.Transport {
		case transSSE:
			err = s.runSSE(connCtx, resumed)
		case transWS:
			err = s.runWS(connCtx)
		case transPoll:
			err = s.runPoll(connCtx)
		case transMulti:
			err = s.runMultiSSE(connCtx, resumed)
		default:
			err = fmt.Errorf("unknown transport %q", s.spec.Transport)
		}
		cause := context.Cause(connCtx)
		cancel(nil)
		if ctx.Err() != nil {
			return
		}
		if s.connected.Swap(false) {
			s.stats.connected.Add(-1)
			resumed = true
			if !errors.Is(cause, errDropped) {
				s.stats.disconnects.Add(1)
			}
		} else {
			s.stats.connectFailures.Add(1)
		}
		var se *statusError
		switch {
		case errors.Is(cause, errDropped):
			s.mu.Lock()
			wait = s.storm.jitter
			s.mu.Unlock()
			bo.reset()
		case errors.As(err, &se) && se.RetryAfter > 0:
			wait = se.RetryAfter + bo.next()
		default:
			if err != nil {
				s.stats.noteError(err)
			}
			wait = bo.next()
		}
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

// drop ends the current connection at once; the subscriber reconnects
// after jitter.
func (s *subscriber) drop(at time.Time, jitter time.Duration) {
	s.mu.Lock()
	s.storm = &stormState{dropped: at, jitter: jitter}
	cancel := s.cancelConn
	s.mu.Unlock()
	if cancel != nil {
		cancel(errDropped)
	}
}

// stormTimes returns when a dropped subscriber reconnected and caught up
// (zero while it has not).
func (s *subscriber) stormTimes() (dropped, reconnected, caughtUp time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.storm == nil {
		return
	}
	return s.storm.dropped, s.storm.reconnected, s.storm.caughtUp
}

// established marks the connection as accepted by the server, which said
// the board's seq is current (-1 when unknown).
func (s *subscriber) established(current int64) {
	if !s.connected.Swap(true) {
		s.stats.connected.Add(1)
	}
	s.once.Do(func() { close(s.first) })
	s.mu.Lock()
	if st := s.storm; st != nil && st.reconnected.IsZero() {
		st.reconnected = time.Now()
		st.target = current
		if current < 0 || s.tr.Last() >= current {
			st.caughtUp = st.reconnected
		}
	}
	s.mu.Unlock()
}

// event records a logged event received at now.
func (s *subscriber) event(seq int64, at, now time.Time) {
	if s.tr.Observe(seq) && !at.IsZero() {
		s.stats.record(now.Sub(at))
	}
	s.mu.Lock()
	if st := s.storm; st != nil && !st.reconnected.IsZero() && st.caughtUp.IsZero() && seq >= st.target {
		if s.tr.Last() >= st.target {
			st.caughtUp = now
		}
	}
	s.mu.Unlock()
}

// reset records a reset from the server.
func (s *subscriber) reset() { s.stats.resets.Add(1) }

// runSSE follows the board over Server-Sent Events: the first connection
// resumes with ?after=, later ones with Last-Event-ID.
func (s *subscriber) runSSE(ctx context.Context, resumed bool) error {
	last := s.tr.Last()
	u := s.spec.URL + "/boards/" + url.PathEscape(s.spec.Board) + "/events"
	if !resumed {
		u += "?after=" + strconv.FormatInt(last, 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.spec.Token)
	req.Header.Set("Accept", "text/event-stream")
	if resumed {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
	}
	resp, err := s.env.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return newStatusError(resp)
	}
	return s.readSSE(resp.Body)
}

// readLine reads one line of an event stream, with its line ending. A line
// longer than br's buffer is gathered in *long, which is reused from line to
// line; the line returned is valid until the next read. A stream that ends
// mid-line or between frames is io.ErrUnexpectedEOF: event streams do not
// end by themselves.
func readLine(br *bufio.Reader, long *[]byte) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		*long = append((*long)[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = br.ReadSlice('\n')
			*long = append(*long, line...)
		}
		line = *long
	}
	if errors.Is(err, io.EOF) {
		return nil, io.ErrUnexpectedEOF
	}
	return line, err
}

// readSSE parses an event stream until it ends.
func (s *subscriber) readSSE(body io.Reader) error {
	br := bufio.NewReaderSize(body, 16<<10)
	var (
		id      int64 = -1
		event   []byte
		data    []byte
		hasData bool
		long    []byte
	)
	for {
		line, err := readLine(br, &long)
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if hasData || id >= 0 {
				s.dispatchSSE(id, event, data)
			}
			id, event, data, hasData = -1, event[:0], data[:0], false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			if n, used := parseInt(value); used == len(value) {
				id = n
			}
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

// dispatchSSE handles one complete SSE frame.
func (s *subscriber) dispatchSSE(id int64, event, data []byte) {
	now := time.Now()
	switch string(event) {
	case "reset":
		s.reset()
		return
	case "":
		if string(messageType(data)) == "connected" {
			seq := int64(-1)
			if i := bytes.Index(data, []byte(`"seq":`)); i >= 0 {
				if n, used := parseInt(data[i+len(`"seq":`):]); used > 0 {
					seq = n
				}
			}
			s.established(seq)
			return
		}
	}
	if id <= 0 {
		return // ephemeral
	}
	_, at, ok := eventStamp(data)
	if !ok {
		s.stats.parseErrors.Add(1)
	}
	s.event(id, at, now)
}

// runWS follows the board over a WebSocket, joining after the last seq
// received.
func (s *subscriber) runWS(ctx context.Context) error {
	u := "ws" + strings.TrimPrefix(s.spec.URL, "http") + "/ws"
	h := http.Header{}
	h.Set("Authorization", "Bearer "+s.spec.Token)
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: s.env.client, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return &statusError{Status: resp.StatusCode, Body: err.Error(), RetryAfter: retryAfter(resp.Header)}
		}
		return err
	}
	defer c.CloseNow()
	stop := context.AfterFunc(ctx, func() { c.CloseNow() })
	defer stop()
	c.SetReadLimit(1 << 20)
	join, _ := json.Marshal(map[string]any{"type": "join", "boardId": s.spec.Board, "after": s.tr.Last()})
	if err := c.Write(ctx, websocket.MessageText, join); err != nil {
		return err
	}
	buf := make([]byte, 0, 4<<10)
	for {
		// Reading with a context that is never done costs nothing per
		// message; ctx closes the connection instead.
		_, r, err := c.Reader(context.Background())
		if err != nil {
			return err
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
		now := time.Now()
		switch string(messageType(buf)) {
		case "joined":
			seq := int64(-1)
			if i := bytes.Index(buf, []byte(`"seq":`)); i >= 0 {
				if n, used := parseInt(buf[i+len(`"seq":`):]); used > 0 {
					seq = n
				}
			}
			s.established(seq)
		case "reset":
			s.reset()
			return errors.New("reset")
		case "error":
			return fmt.Errorf("websocket error message: %s", buf)
		case "presence", "user_joined", "user_left", "user_typing", "user_stopped_typing", "pong":
		default:
			seq, at, ok := eventStamp(buf)
			if !ok {
				s.stats.parseErrors.Add(1)
				continue
			}
			s.event(seq, at, now)
		}
	}
}

// pollBody is the answer of a long poll.
type pollBody struct {
	Data    []json.RawMessage `json:"data"`
	Seq     int64             `json:"seq"`
	Timeout bool              `json:"timeout"`
}

// runPoll follows the board by long polling, each poll after the last seq
// received.
func (s *subscriber) runPoll(ctx context.Context) error {
	base := s.spec.URL + "/boards/" + url.PathEscape(s.spec.Board) + "/poll?timeout=" + strconv.Itoa(s.env.pollTimeout) + "&after="
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { s.established(-1) }}
	for {
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, base+strconv.FormatInt(s.tr.Last(), 10), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.spec.Token)
		resp, err := s.env.client.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			err := newStatusError(resp)
			resp.Body.Close()
			if err.Status == http.StatusGone {
				s.reset()
			}
			return err
		}
		var body pollBody
		err = json.NewDecoder(resp.Body).Decode(&body)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		now := time.Now()
		for _, raw := range body.Data {
			seq, at, ok := eventStamp(raw)
			if !ok {
				s.stats.parseErrors.Add(1)
				continue
			}
			s.event(seq, at, now)
		}
	}
}

// transportStats are one transport's counters in a worker, all
// cumulative: each tick sends them whole and the coordinator takes the
// difference from the previous tick, so that no delivery recorded while a
// tick is read goes uncounted.
type transportStats struct {
	hist      Histogram
	delivered atomic.Int64

	subscribers     atomic.Int64
	connected       atomic.Int64
	disconnects     atomic.Int64
	connectFailures atomic.Int64
	resets          atomic.Int64
	parseErrors     atomic.Int64
	errors          atomic.Int64
	// Many-board streams: the frames that carried a logged event, their
	// bytes on the wire, and the bytes of their id: values.
	frames     atomic.Int64
	frameBytes atomic.Int64
	idBytes    atomic.Int64

	errMu   sync.Mutex
	lastErr string
}

func newTransportStats() *transportStats { return &transportStats{} }

func (t *transportStats) record(d time.Duration) {
	t.hist.Record(d)
	t.delivered.Add(1)
}

func (t *transportStats) noteError(err error) {
	t.errors.Add(1)
	t.errMu.Lock()
	t.lastErr = err.Error()
	t.errMu.Unlock()
}

// tick returns the counters.
func (t *transportStats) tick() tickStats {
	t.errMu.Lock()
	lastErr := t.lastErr
	t.errMu.Unlock()
	// The count is read before the buckets: a delivery recorded in
	// between is in the buckets and counted by the next tick.
	delivered := t.delivered.Load()
	return tickStats{
		Hist:            t.hist.Data(),
		Delivered:       delivered,
		Subscribers:     t.subscribers.Load(),
		Connected:       t.connected.Load(),
		Disconnects:     t.disconnects.Load(),
		ConnectFailures: t.connectFailures.Load(),
		Resets:          t.resets.Load(),
		ParseErrors:     t.parseErrors.Load(),
		Errors:          t.errors.Load(),
		Frames:          t.frames.Load(),
		FrameBytes:      t.frameBytes.Load(),
		IDBytes:         t.idBytes.Load(),
		LastError:       lastErr,
	}
}

// tickStats is one transport's part of a worker's tick: its counters and
// latency histogram since the worker started.
type tickStats struct {
	Hist            HistData `json:"hist"`
	Delivered       int64    `json:"delivered"`
	Subscribers     int64    `json:"subscribers"`
	Connected       int64    `json:"connected"`
	Disconnects     int64    `json:"disconnects"`
	ConnectFailures int64    `json:"connectFailures"`
	Resets          int64    `json:"resets"`
	ParseErrors     int64    `json:"parseErrors"`
	Errors          int64    `json:"errors"`
	Frames          int64    `json:"frames,omitempty"`
	FrameBytes      int64    `json:"frameBytes,omitempty"`
	IDBytes         int64    `json:"idBytes,omitempty"`
	LastError       string   `json:"lastError,omitempty"`
}

// jitterOf returns a random duration in [0, d].
func jitterOf(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}
