package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/taskboard/taskboard/auth"
)

// stream is one open real-time connection of this instance: an SSE stream,
// a WebSocket or a held long poll.
type stream struct {
	id         uint64
	transport  string
	userID     string
	credential string      // the built-in token or session that opened it
	creds      *auth.Store // where credential is checked
	// stop ends the stream with a cause (errRevoked, errShuttingDown). It
	// must not block.
	stop func(cause error)
	// boards counts the subscriptions the stream holds per board; guarded
	// by realtime.mu.
	boards map[string]int
	// multi: opened by a multi-board route; guarded by realtime.mu.
	multi bool
}

// open registers a stream opened by id (nil for a WebSocket that failed
// authentication). It returns errShuttingDown once the Handler is closing.
// The caller calls close(s) when the stream and all its goroutines have
// ended: Handler.Close waits for that.
func (rt *realtime) open(transport string, id *Identity, stop func(error)) (*stream, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return nil, errShuttingDown
	}
	if max := rt.h.opts.MaxConnectionsPerUser; id != nil && max > 0 && rt.perUser[id.User.ID] >= max {
		return nil, errTooManyConnections
	}
	rt.nextID++
	s := &stream{id: rt.nextID, transport: transport, stop: stop, boards: make(map[string]int)}
	if id != nil {
		s.userID = id.User.ID
		if id.creds != nil {
			s.credential, s.creds = id.CredentialID, id.creds
		}
	}
	rt.streams[s] = struct{}{}
	if s.userID != "" {
		rt.perUser[s.userID]++
	}
	rt.h.streams.Add(1)
	if s.credential != "" && !rt.checking {
		rt.checking = true
		rt.h.streams.Add(1)
		go rt.checkCredentials()
	}
	rt.h.metrics.conns.WithLabelValues(transport).Inc()
	return s, nil
}

// close unregisters a stream that has ended.
func (rt *realtime) close(s *stream) {
	rt.mu.Lock()
	delete(rt.streams, s)
	if s.userID != "" {
		if rt.perUser[s.userID]--; rt.perUser[s.userID] <= 0 {
			delete(rt.perUser, s.userID)
		}
	}
	multi := s.multi
	rt.mu.Unlock()
	rt.h.metrics.conns.WithLabelValues(s.transport).Dec()
	if multi {
		rt.h.metrics.multi.WithLabelValues(s.transport).Dec()
	}
	rt.h.streams.Done()
}

// markMulti records that s follows many boards: it was opened by a
// multi-board route, or it is a WebSocket that joined every board (*). A
// stream is counted once, however often it is marked.
func (rt *realtime) markMulti(s *stream) {
	rt.mu.Lock()
	already := s.multi
	s.multi = true
	rt.mu.Unlock()
	if !already {
		rt.h.metrics.multi.WithLabelValues(s.transport).Inc()
	}
}

// unmarkMulti records that s no longer follows many boards: a WebSocket
// that left *.
func (rt *realtime) unmarkMulti(s *stream) {
	rt.mu.Lock()
	was := s.multi
	s.multi = false
	rt.mu.Unlock()
	if was {
		rt.h.metrics.multi.WithLabelValues(s.transport).Dec()
	}
}

// follow records that s subscribed to a board.
func (rt *realtime) follow(s *stream, boardID string) {
	rt.mu.Lock()
	s.boards[boardID]++
	rt.mu.Unlock()
	rt.h.metrics.subs.Inc()
}

// unfollow records that a subscription of s to a board ended.
func (rt *realtime) unfollow(s *stream, boardID string) {
	rt.mu.Lock()
	if s.boards[boardID]--; s.boards[boardID] <= 0 {
		delete(s.boards, boardID)
	}
	rt.mu.Unlock()
	rt.h.metrics.subs.Dec()
}

// revoke ends the streams opened with a credential.
func (rt *realtime) revoke(credentialID string) {
	rt.mu.Lock()
	var stops []func(error)
	for s := range rt.streams {
		if s.credential == credentialID {
			stops = append(stops, s.stop)
		}
	}
	rt.mu.Unlock()
	for _, stop := range stops {
		stop(errRevoked)
	}
}

// shutdown refuses new streams and ends the open ones. It is idempotent.
func (rt *realtime) shutdown() {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return
	}
	rt.closed = true
	rt.cancel()
	stops := make([]func(error), 0, len(rt.streams))
	for s := range rt.streams {
		stops = append(stops, s.stop)
	}
	rt.mu.Unlock()
	for _, stop := range stops {
		stop(errShuttingDown)
	}
}

// checkCredentials ends the streams whose token or session was revoked
// elsewhere (by the command line, or through another instance), checking
// every Options.CredentialCheckInterval until the Handler closes.
func (rt *realtime) checkCredentials() {
	defer rt.h.streams.Done()
	t := time.NewTicker(rt.h.opts.CredentialCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-rt.ctx.Done():
			return
		case <-t.C:
		}
		rt.checkOnce()
	}
}

// checkOnce checks the distinct credentials of the open streams once.
func (rt *realtime) checkOnce() {
	rt.mu.Lock()
	seen := make(map[string]bool)
	var creds []*stream
	for s := range rt.streams {
		if s.credential != "" && !seen[s.credential] {
			seen[s.credential] = true
			creds = append(creds, s)
		}
	}
	rt.mu.Unlock()
	for _, s := range creds {
		cred := s.credential
		ctx, cancel := context.WithTimeout(rt.ctx, rt.h.opts.CredentialCheckInterval)
		ok, err := s.creds.CredentialValid(ctx, cred)
		cancel()
		switch {
		case rt.ctx.Err() != nil:
			return
		case err != nil:
			rt.h.opts.Logger.Warn("check stream credential", "err", err)
		case !ok:
			rt.revoke(cred)
		}
	}
}

// connectionCounts is the body of GET /admin/connections.
type connectionCounts struct {
	Total     int            `json:"total"`
	SSE       int            `json:"sse"`
	WebSocket int            `json:"websocket"`
	LongPoll  int            `json:"longPoll"`
	ByBoard   map[string]int `json:"byBoard"`
	// MultiBoard counts the connections that follow many boards (SSE
	// and long polls with ?boards=, WebSockets that joined *),
	// MultiBoardFollows the boards they follow in all.
	MultiBoard        int `json:"multiBoard"`
	MultiBoardFollows int `json:"multiBoardFollows"`
}

// counts returns the open streams of this instance by transport and board.
func (rt *realtime) counts() connectionCounts {
	c := connectionCounts{ByBoard: make(map[string]int)}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for s := range rt.streams {
		switch s.transport {
		case transportSSE:
			c.SSE++
		case transportWebSocket:
			c.WebSocket++
		case transportLongPoll:
			c.LongPoll++
		}
		for board := range s.boards {
			c.ByBoard[board]++
		}
		if s.multi {
			c.MultiBoard++
			c.MultiBoardFollows += len(s.boards)
		}
	}
	c.Total = c.SSE + c.WebSocket + c.LongPoll
	return c
}

// serveConnections is GET /admin/connections.
func (h *Handler) serveConnections(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.rt.counts())
}

// isShutdown reports whether err is the end of a stream by Handler.Close.
func isShutdown(err error) bool { return errors.Is(err, errShuttingDown) }
