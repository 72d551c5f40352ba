package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
)

// Options configures a Handler. A nil *Options means all defaults; every
// zero field means the default its comment gives.
type Options struct {
	// Authenticator turns a request into a user. Nil means the built-in one
	// (NewBuiltin over auth.New(store, nil)): bearer tokens, the session
	// cookie, and tickets on streaming routes. POST and DELETE /sessions,
	// POST /sessions/demo and POST /realtime/tickets are served only when
	// the authenticator is a Builtin or a FirstOf that includes one; with
	// any other they are 404.
	Authenticator Authenticator
	// ProvisionUsers creates the user of an identity that is not in the
	// store yet, from the identity's ID, name and email, on its first
	// request (taskboard.Board.ProvisionUser). Without it the user must
	// exist (taskboard.Board.CreateUser, with the program's own IDs), and
	// requests of an unknown user are answered 401 on every route.
	ProvisionUsers bool
	// PublicURL is the server's public address (https://board.example.com).
	// Its origin is allowed for writes and WebSocket upgrades authenticated
	// by what the browser sends by itself (Identity.SentByBrowser), and an
	// https URL makes the session cookie Secure. Empty means the request's
	// own host is the allowed origin.
	PublicURL string
	// CookiePath is the Path of the session cookie: the prefix the API is
	// mounted under, such as "/board/", keeps the cookie to it, apart from
	// the cookies of the rest of the site. Empty means "/".
	CookiePath string
	// AllowedOrigins are further origins allowed for cookie writes and
	// WebSocket upgrades; CORS headers are sent only for them.
	AllowedOrigins []string
	// AdminToken guards /admin/* and /metrics. Empty means those routes are
	// 404.
	AdminToken string
	// Demo enables POST /sessions/demo on a demo database (one seeded by
	// the taskboard command), with the built-in authenticator; GET
	// /sessions then says so, and names the demo users.
	Demo bool
	// Logger receives request logs and errors. Nil logs nothing.
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies. Zero means 1 MiB.
	MaxBodyBytes int64
	// MaxImportBytes limits the documents of POST /boards/import. Zero
	// means 16 MiB.
	MaxImportBytes int64
	// Registerer receives the handler's Prometheus metrics. Nil means a
	// registry of the handler's own, served at /metrics.
	Registerer prometheus.Registerer
	// Gatherer is what /metrics serves when Registerer is set. Nil means
	// prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Metrics are the collectors the handler registers with Registerer,
	// made by NewMetrics; the store's queries reach them when its
	// taskboard.Options.QueryObserver is their ObserveQuery. Nil means
	// collectors of the handler's own, without database query timing.
	Metrics *Metrics

	// MaxConnectionsPerUser limits the real-time connections (SSE streams,
	// WebSockets, held long polls) one user may have open on this instance;
	// more are answered 429 with Retry-After. Zero means 100; negative
	// means no limit.
	MaxConnectionsPerUser int
	// MaxSubscriptionsPerConnection limits the boards one WebSocket may
	// follow at once; a join beyond it is answered with an error message.
	// Zero means 100; negative means no limit.
	MaxSubscriptionsPerConnection int
	// WriteRate limits each user's writes per second with a token bucket of
	// WriteBurst; more are answered 429 with Retry-After. Zero means 20 per
	// second; negative means no limit.
	WriteRate float64
	// WriteBurst is the size of each user's write bucket. Zero means 50.
	WriteBurst int
	// SessionRate limits the sessions made (POST /sessions and
	// /sessions/demo) per second, per client address and per token, with a
	// token bucket of SessionBurst; more are answered 429 with
	// Retry-After. A request from a loopback peer (a reverse proxy on the
	// same machine) counts for the last address of its X-Forwarded-For.
	// Zero means 0.5 per second; negative means no limit.
	SessionRate float64
	// SessionBurst is the size of each sign-in bucket. Zero means 10.
	SessionBurst int

	// HeartbeatInterval is the SSE heartbeat period. Zero means 15 s.
	HeartbeatInterval time.Duration
	// PresenceGrace is how long a user stays present after their last
	// connection closes. Zero means 5 s.
	PresenceGrace time.Duration
	// TypingTimeout is how long a typing indicator lasts without a new
	// typing message. Zero means 5 s.
	TypingTimeout time.Duration
	// PingInterval is how often the server pings WebSocket peers. Zero
	// means 30 s.
	PingInterval time.Duration
	// PongTimeout is how long a silent WebSocket peer is kept after a ping.
	// Zero means 10 s.
	PongTimeout time.Duration
	// CredentialCheckInterval is how often open streams check that the
	// token or session that opened them is still valid (revocations made
	// elsewhere, e.g. by the command line). Zero means 10 s.
	CredentialCheckInterval time.Duration
	// MaintenanceInterval is how often the Handler deletes what has
	// expired: idempotency records, and the ended sessions and expired
	// tickets of its built-in authenticator (auth.Store.Maintain). Zero
	// means one hour; negative means never (call Maintain).
	MaintenanceInterval time.Duration
}

func (o *Options) withDefaults() Options {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.CookiePath == "" {
		opts.CookiePath = "/"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.MaxImportBytes <= 0 {
		opts.MaxImportBytes = 16 << 20
	}
	if opts.MaxConnectionsPerUser == 0 {
		opts.MaxConnectionsPerUser = 100
	}
	if opts.MaxSubscriptionsPerConnection == 0 {
		opts.MaxSubscriptionsPerConnection = 100
	}
	if opts.WriteRate == 0 {
		opts.WriteRate = 20
	}
	if opts.WriteBurst <= 0 {
		opts.WriteBurst = 50
	}
	if opts.SessionRate == 0 {
		opts.SessionRate = 0.5
	}
	if opts.SessionBurst <= 0 {
		opts.SessionBurst = 10
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.HeartbeatInterval, 15*time.Second)
	def(&opts.PresenceGrace, 5*time.Second)
	def(&opts.TypingTimeout, 5*time.Second)
	def(&opts.PingInterval, 30*time.Second)
	def(&opts.PongTimeout, 10*time.Second)
	def(&opts.CredentialCheckInterval, 10*time.Second)
	if opts.MaintenanceInterval == 0 {
		opts.MaintenanceInterval = time.Hour
	}
	return opts
}

// Handler serves the taskboard HTTP API over a store. Mount it at the root of
// a server or under a prefix with http.StripPrefix. Close it before the
// store, to end its long-lived streams.
type Handler struct {
	// sseFrames and wsFrames keep events encoded for each transport.
	sseFrames, wsFrames frameCache

	store   *taskboard.Board
	opts    Options
	auth    Authenticator
	mux     *http.ServeMux
	metrics *Metrics
	origins map[string]bool
	writes  *writeLimiter
	// signIns limits the sessions made per client address and token.
	signIns *writeLimiter
	// tasksCache keeps the body of GET /boards/{boardId}/tasks per board
	// and seq.
	tasksCache seqCache
	// patterns are the registered route patterns, in registration order.
	patterns []string

	// creds keeps the credentials of the built-in authenticator; nil when
	// the authenticator does not include it.
	creds *auth.Store
	// users are the IDs of users known to be in the store.
	users knownUsers
	// idem keeps the responses of idempotent writes.
	idem *idempotencyStore

	closeOnce sync.Once
	closing   chan struct{}
	streams   sync.WaitGroup
	rt        *realtime
	// background is the maintenance loop.
	background sync.WaitGroup
}

// New returns the HTTP API over store.
func New(store *taskboard.Board, opts *Options) *Handler {
	o := opts.withDefaults()
	h := &Handler{
		store:   store,
		opts:    o,
		auth:    o.Authenticator,
		mux:     http.NewServeMux(),
		closing: make(chan struct{}),
		origins: make(map[string]bool),
	}
	if h.auth == nil {
		h.auth = NewBuiltin(auth.New(store, &auth.Options{Logger: o.Logger}))
	}
	if b := builtinOf(h.auth); b != nil {
		h.creds = b.creds
	}
	h.idem = newIdempotencyStore(store)
	if u, err := url.Parse(o.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		h.origins[u.Scheme+"://"+u.Host] = true
	}
	for _, origin := range o.AllowedOrigins {
		h.origins[strings.TrimRight(origin, "/")] = true
	}
	h.writes = newWriteLimiter(o.WriteRate, o.WriteBurst)
	h.signIns = newWriteLimiter(o.SessionRate, o.SessionBurst)
	h.metrics = o.Metrics
	if h.metrics == nil {
		h.metrics = NewMetrics()
	}
	h.metrics.register(o.Registerer, o.Gatherer, store)
	h.routes()
	if o.MaintenanceInterval > 0 {
		h.background.Add(1)
		go h.maintainLoop(o.MaintenanceInterval)
	}
	return h
}

// ServeHTTP serves a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &requestInfo{}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	rw := &statusWriter{ResponseWriter: w}
	if h.corsPreflight(rw, r) {
		return
	}
	h.mux.ServeHTTP(rw, r)
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	pattern := info.pattern
	if pattern == "" {
		pattern = "unmatched"
	}
	elapsed := time.Since(start)
	method := knownMethod(r.Method)
	h.metrics.observeRequest(pattern, method, status, elapsed)
	h.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", method), slog.String("path", clip(r.URL.Path, maxLoggedPath)), slog.Int("status", status),
		slog.Duration("duration", elapsed), slog.String("user", info.userID))
}

// Close ends every open stream (SSE, WebSocket, long poll) and waits for
// them to finish. Requests that arrive later are answered without
// streaming. Call it before http.Server.Shutdown, which does not wait for
// hijacked connections and waits forever for streams.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.closing) })
	h.closeRealtime()
	h.streams.Wait()
	h.background.Wait()
}

// Maintain deletes expired idempotency records and, with the built-in
// authenticator, ended sessions and expired tickets. It runs in the
// background every Options.MaintenanceInterval.
func (h *Handler) Maintain(ctx context.Context) error {
	err := h.idem.expire(ctx)
	if h.creds != nil {
		err = errors.Join(err, h.creds.Maintain(ctx))
	}
	return err
}

func (h *Handler) maintainLoop(every time.Duration) {
	defer h.background.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.closing:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if err := h.Maintain(ctx); err != nil {
				h.opts.Logger.Warn("httpapi: maintenance failed", "err", err)
			}
			cancel()
		}
	}
}

// knownMethod returns method when it is one of HTTP's, else "other": a
// client's method name is neither a metric label nor a log field, so that
// the label set stays bounded.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// maxLoggedPath is how much of a request path the request log keeps.
const maxLoggedPath = 1024

// clip returns s cut to at most n bytes, marked with "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// requestInfo carries what inner handlers learn back to the logger.
type requestInfo struct {
	pattern string
	userID  string
}

type requestInfoKey struct{}

func infoOf(r *http.Request) *requestInfo {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

func (h *Handler) log(r *http.Request) *slog.Logger {
	return h.opts.Logger.With("method", knownMethod(r.Method), "path", clip(r.URL.Path, maxLoggedPath))
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handle registers a route; the pattern becomes the metrics label.
func (h *Handler) handle(pattern string, fn http.HandlerFunc) {
	h.patterns = append(h.patterns, pattern)
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		infoOf(r).pattern = pattern
		fn(w, r)
	})
}

// Routes returns the patterns of the routes h serves, such as
// "GET /boards/{boardId}/tasks", in the order they were registered. They are
// also the route labels of the request metrics.
func (h *Handler) Routes() []string { return slices.Clone(h.patterns) }

// userHandler is a handler for an authenticated user.
type userHandler func(w http.ResponseWriter, r *http.Request, id *Identity)

// authed wraps a handler that needs a user; writes authenticated by a
// credential the browser sends on its own must come from an allowed origin.
func (h *Handler) authed(fn userHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := h.authenticate(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		infoOf(r).userID = id.User.ID
		if id.SentByBrowser && isWrite(r.Method) && !h.originAllowed(r) {
			h.writeError(w, r, errForbiddenOrig)
			return
		}
		if isWrite(r.Method) {
			if ok, wait := h.writes.allow(id.User.ID); !ok {
				h.writeError(w, r, &rateLimitedError{retryAfter: wait})
				return
			}
		}
		fn(w, r, id)
	}
}

func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// originAllowed reports whether the request's Origin (or, without one, its
// Referer) is the public URL, the request's own host when no public URL is
// set, or an allowed origin. A request with neither header is not from a
// browser page and is allowed.
func (h *Handler) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref, err := url.Parse(r.Header.Get("Referer")); err == nil && ref.Host != "" {
			origin = ref.Scheme + "://" + ref.Host
		}
	}
	if origin == "" {
		return true
	}
	origin = strings.TrimRight(origin, "/")
	if h.origins[origin] {
		return true
	}
	if h.opts.PublicURL == "" {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	return false
}

// corsPreflight sends CORS headers for configured origins and answers
// preflight requests. It reports whether the request was answered.
func (h *Handler) corsPreflight(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(h.opts.AllowedOrigins) == 0 || !h.origins[strings.TrimRight(origin, "/")] {
		return false
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Credentials", "true")
	hd.Set("Access-Control-Expose-Headers", "ETag, Retry-After")
	hd.Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hd.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, Last-Event-ID")
		hd.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// admin wraps an operational route that needs the admin token.
func (h *Handler) admin(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.opts.AdminToken == "" {
			writeJSON(w, http.StatusNotFound, errorBody{Error: "Not Found"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !constantTimeEqual(got, h.opts.AdminToken) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "Unauthorized"})
			return
		}
		fn(w, r)
	}
}
