package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
)

// The real-time routes are consumers of the store's feed: each long poll,
// SSE stream and joined WebSocket board holds one taskboard.Subscription and
// turns its events into its own wire format. Nothing here broadcasts by
// transport; ephemeral events (presence, typing) go out through
// Board.Broadcast and come back through the same subscriptions.

var (
	// errShuttingDown ends streams when the Handler closes, and answers
	// streaming requests that arrive after Close.
	errShuttingDown = errors.New("httpapi: shutting down")
	// errRevoked ends the streams of a revoked token or ended session.
	errRevoked = fmt.Errorf("%w: credential revoked", ErrUnauthorized)
)

// Transport names, as /admin/connections and the metrics label them.
const (
	transportSSE       = "sse"
	transportWebSocket = "websocket"
	transportLongPoll  = "longPoll"
)

// realtime is the Handler's real-time state: the registry of open streams,
// presence and the credential checker.
type realtime struct {
	h        *Handler
	presence taskboard.Presence // closed with the Handler

	// ctx is cancelled by shutdown; background work runs under it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	nextID   uint64
	streams  map[*stream]struct{}
	perUser  map[string]int // open streams by user
	checking bool           // the credential checker runs
}

// realtimeRoutes registers the real-time routes.
func (h *Handler) realtimeRoutes() {
	rt := &realtime{h: h, streams: make(map[*stream]struct{}), perUser: make(map[string]int)}
	rt.ctx, rt.cancel = context.WithCancel(context.Background())
	rt.presence = h.store.NewPresence(h.opts.PresenceGrace, rt.userLeft)
	h.rt = rt

	h.handle("GET /boards/{boardId}/updates", h.authed(h.serveUpdates))
	h.handle("GET /boards/{boardId}/poll", noHead(h.authed(h.servePoll)))
	h.handle("GET /boards/{boardId}/events", noHead(h.authed(h.serveEvents)))
	h.handle("GET /events", noHead(h.authed(h.serveMultiEvents)))
	h.handle("GET /poll", noHead(h.authed(h.serveMultiPoll)))
	h.handle("GET /boards/{boardId}/presence", h.authed(h.servePresence))
	h.handle("GET /ws", noHead(h.serveWebSocket))
	h.handle("GET /admin/connections", h.admin(h.serveConnections))
}

// noHead answers HEAD on a streaming route 405, before anything else: a
// stream's body must not follow a HEAD answer, which would take over the
// connection and swallow the next request pipelined on it.
func noHead(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Allow", http.MethodGet)
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "Method Not Allowed"})
			return
		}
		fn(w, r)
	}
}

// credentialRevoked ends the streams opened with a token or session.
func (h *Handler) credentialRevoked(credentialID string) {
	if credentialID != "" {
		h.rt.revoke(credentialID)
	}
}

// closeRealtime ends every stream, waits for them and stops presence. It is
// idempotent.
func (h *Handler) closeRealtime() {
	h.rt.shutdown()
	h.streams.Wait()
	h.rt.presence.Close()
}

// resetMessage is the reset object of the SSE and WebSocket transports.
type resetMessage struct {
	Type    string `json:"type"`
	BoardID string `json:"boardId,omitempty"`
	Seq     int64  `json:"seq"`
	Reason  string `json:"reason"`
}

// userRef is the user of presence and typing events.
type userRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// userEvent is user_joined and user_left.
type userEvent struct {
	Type    string  `json:"type"`
	BoardID string  `json:"boardId"`
	User    userRef `json:"user"`
}

// typingEvent is user_typing and user_stopped_typing.
type typingEvent struct {
	Type    string  `json:"type"`
	BoardID string  `json:"boardId"`
	TaskID  string  `json:"taskId"`
	User    userRef `json:"user"`
}

// broadcast sends an ephemeral event of type typ, whose JSON object is v, to
// the board's subscribers on every instance, except the subscription origin.
func (rt *realtime) broadcast(typ, boardID, origin string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		rt.h.opts.Logger.Error("encode ephemeral event", "board", boardID, "type", typ, "err", err)
		return
	}
	ev := seam.MarkOrigin(taskboard.Event{Type: typ, BoardID: boardID, Data: data}, origin)
	if err := rt.h.store.Broadcast(ev); err != nil {
		rt.h.opts.Logger.Warn("broadcast ephemeral event", "board", boardID, "type", typ, "err", err)
	}
}

// countReset records a reset sent to a client.
func (rt *realtime) countReset(reason string) {
	rt.h.metrics.resets.WithLabelValues(reason).Inc()
}

// eventData returns the JSON objects of events.
func eventData(events []taskboard.Event) []json.RawMessage {
	data := make([]json.RawMessage, 0, len(events))
	for _, ev := range events {
		data = append(data, ev.Data)
	}
	return data
}

// seqParam reads a query parameter that must be a non-negative integer. It
// returns -1 when the parameter is absent or empty.
func seqParam(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return -1, nil
	}
	return parseSeq(name, v)
}

// parseSeq parses a non-negative integer, or returns a validation error
// naming field.
func parseSeq(field, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fieldInvalid(field, "must be a non-negative integer")
	}
	return n, nil
}

func fieldInvalid(field, msg string) error {
	return &taskboard.ValidationError{Fields: []taskboard.FieldError{{Path: []string{field}, Message: msg}}}
}

// nowUTC is the real-time routes' clock.
func nowUTC() time.Time { return time.Now().UTC() }

// detached returns a context for cleanup work that must outlive ctx.
func detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
