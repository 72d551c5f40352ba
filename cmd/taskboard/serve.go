package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/web"
)

// optBool is a boolean flag that remembers whether it was set.
type optBool struct {
	set   bool
	value bool
}

func (b *optBool) String() string   { return strconv.FormatBool(b.value) }
func (b *optBool) IsBoolFlag() bool { return true }
func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.value = true, v
	return nil
}

// minAdminToken is the shortest --admin-token accepted.
const minAdminToken = 16

// serveConfig is the serve command's configuration.
type serveConfig struct {
	addr, db, publicURL, allowedOrigins, adminToken, sqliteSync, logLevel string
	debugAddr                                                             string
	backupDir                                                             string
	backupEvery                                                           time.Duration
	backupKeep                                                            int
	demo                                                                  optBool
	shutdownTimeout                                                       time.Duration
	readTimeout, writeTimeout                                             time.Duration
	api                                                                   httpapi.Options
	store                                                                 taskboard.Options
}

func serveFlags(fs *flag.FlagSet) *serveConfig {
	c := &serveConfig{}
	fs.StringVar(&c.addr, "addr", "127.0.0.1:3000", "address to listen on (:3000 listens on every interface); on a loopback address without --public-url, requests for another Host are refused (421)")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "address of a separate listener for Go's profiler at /debug/pprof/ (empty: none; keep it private, e.g. 127.0.0.1:6060)")
	fs.StringVar(&c.db, "db", "taskboard.db", "database: a SQLite file path or a postgres:// URL")
	fs.StringVar(&c.publicURL, "public-url", "", "public URL of the server (its origin is allowed; https makes cookies Secure)")
	fs.StringVar(&c.allowedOrigins, "allowed-origins", "", "comma-separated further origins allowed for cookie writes, WebSocket upgrades and CORS")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token for /admin/* and /metrics (empty: those routes are 404); at least 16 characters, best 32 random bytes, such as the output of \"openssl rand -hex 32\"")
	fs.Var(&c.demo, "demo", "seed a database without users with the demo data and allow one-click demo sign-in (default: true for SQLite, false for PostgreSQL)")
	fs.StringVar(&c.sqliteSync, "sqlite-sync", "normal", "SQLite synchronous mode: normal (a killed process loses nothing acknowledged) or full (a power cut neither)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
	fs.DurationVar(&c.readTimeout, "read-timeout", 30*time.Second, "how long a client may take to send a request (streams lift it)")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 30*time.Second, "how long a response may take to write (streams and long polls lift it)")
	fs.DurationVar(&c.api.HeartbeatInterval, "heartbeat", 15*time.Second, "SSE heartbeat interval")
	fs.DurationVar(&c.api.PresenceGrace, "presence-grace", 5*time.Second, "how long a user stays present after their last connection closes")
	fs.DurationVar(&c.api.TypingTimeout, "typing-timeout", 5*time.Second, "how long a typing indicator lasts without a new typing message")
	fs.DurationVar(&c.api.PingInterval, "ping-interval", 30*time.Second, "WebSocket ping interval")
	fs.DurationVar(&c.api.PongTimeout, "pong-timeout", 10*time.Second, "how long a silent WebSocket peer is kept after a ping")
	fs.DurationVar(&c.api.CredentialCheckInterval, "credential-check", 10*time.Second, "how often open streams check that their token or session is still valid")
	fs.Int64Var(&c.api.MaxBodyBytes, "max-body", 1<<20, "largest accepted request body in bytes")
	fs.Int64Var(&c.api.MaxImportBytes, "max-import-bytes", defaultMaxImportBytes, "largest accepted import document (POST /boards/import) in bytes")
	fs.StringVar(&c.backupDir, "backup-dir", "", "folder (made 0700) where the server takes SQLite backups on a schedule (empty: none)")
	fs.DurationVar(&c.backupEvery, "backup-every", 24*time.Hour, "how often to take a backup into --backup-dir")
	fs.IntVar(&c.backupKeep, "backup-keep", 7, "how many backups --backup-dir keeps, the newest (0: all)")
	fs.IntVar(&c.api.MaxConnectionsPerUser, "max-connections-per-user", 100, "real-time connections one user may hold open on this instance (-1: no limit)")
	fs.IntVar(&c.api.MaxSubscriptionsPerConnection, "max-subscriptions-per-connection", 100, "boards one WebSocket may follow at once (-1: no limit)")
	fs.Float64Var(&c.api.WriteRate, "write-rate", 20, "writes per second allowed to each user, as a token bucket (-1: no limit)")
	fs.IntVar(&c.api.WriteBurst, "write-burst", 50, "size of each user's write bucket")
	fs.Float64Var(&c.api.SessionRate, "session-rate", 0.5, "sign-ins (POST /sessions, /sessions/demo) per second allowed to each client address and token, as a token bucket (-1: no limit)")
	fs.IntVar(&c.api.SessionBurst, "session-burst", 10, "size of each sign-in bucket")
	fs.IntVar(&c.store.SubscriberBuffer, "subscriber-buffer", 1024, "events a subscriber may fall behind before it is dropped as a slow consumer")
	fs.Int64Var(&c.store.HistoryEvents, "history-events", 10000, "events each board's log keeps at least")
	fs.DurationVar(&c.store.HistoryAge, "history-age", 30*24*time.Hour, "how long each board's log keeps events at least")
	fs.BoolVar(&c.store.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks reach loopback, private, link-local and other internal addresses (for receivers on this machine or network)")
	fs.DurationVar(&c.store.WebhookDisableAfter, "webhook-disable-after", 24*time.Hour, "how long a webhook may fail without an acknowledged delivery before it is disabled")
	fs.DurationVar(&c.store.WebhookTimeout, "webhook-timeout", 10*time.Second, "how long one webhook delivery may take; another instance takes over a dead one's webhooks after 1.5 times this and a second")
	// The server delivers webhooks; the other commands open the store
	// without delivering.
	c.store.Webhooks = true
	return c
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	cfg := serveFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	if n := len(cfg.adminToken); n > 0 && n < minAdminToken {
		return fmt.Errorf("--admin-token must be at least %d characters (it has %d); use a long random one, such as the output of `openssl rand -hex 32`", minAdminToken, n)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch cfg.sqliteSync {
	case "normal":
	case "full":
		cfg.store.SQLiteSyncFull = true
	default:
		return fmt.Errorf("--sqlite-sync must be normal or full, not %q", cfg.sqliteSync)
	}
	demo := !taskboard.IsPostgres(cfg.db)
	if cfg.demo.set {
		demo = cfg.demo.value
	}
	cfg.store.Logger = logger
	// The API's metrics time the store's queries.
	metrics := httpapi.NewMetrics()
	cfg.store.QueryObserver = metrics.ObserveQuery

	if cfg.backupDir != "" {
		if taskboard.IsPostgres(cfg.db) {
			return fmt.Errorf("--backup-dir: %w", taskboard.ErrBackupUnsupported)
		}
		if cfg.backupEvery <= 0 {
			return fmt.Errorf("--backup-every must be positive")
		}
		if cfg.backupKeep < 0 {
			return fmt.Errorf("--backup-keep must not be negative")
		}
	}

	store, err := taskboard.Open(ctx, cfg.db, &cfg.store)
	if err != nil {
		return err
	}
	defer store.Close()

	if cfg.backupDir != "" {
		sched := &backupSchedule{store: store, dir: cfg.backupDir, interval: cfg.backupEvery, keep: cfg.backupKeep, logger: logger}
		if err := sched.prepare(); err != nil {
			return err
		}
		bctx, stopBackups := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			sched.run(bctx)
		}()
		// Ends before the store closes (deferred calls run last first).
		defer func() {
			stopBackups()
			<-done
		}()
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	defer ln.Close()
	pageURL := cfg.publicURL
	if pageURL == "" {
		pageURL = "http://" + displayAddr(ln.Addr())
	}

	if demo {
		if err := seedDemo(ctx, store, pageURL, stdout); err != nil {
			return err
		}
	}

	cfg.api.Logger = logger
	cfg.api.PublicURL = cfg.publicURL
	cfg.api.AdminToken = cfg.adminToken
	cfg.api.Demo = demo
	cfg.api.Metrics = metrics
	for _, o := range strings.Split(cfg.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.api.AllowedOrigins = append(cfg.api.AllowedOrigins, o)
		}
	}
	api := httpapi.New(store, &cfg.api)
	handler := routes(api)
	if isLoopbackListener(ln.Addr()) && cfg.publicURL == "" {
		handler = hostGuard(handler)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("taskboard serving", "addr", ln.Addr().String(), "db", redactDSN(cfg.db), "demo", demo, "url", pageURL)

	if cfg.debugAddr != "" {
		stopDebug, err := serveDebug(cfg.debugAddr, logger)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		api.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	shutdown := make(chan error, 1)
	// Shutdown stops accepting and waits for in-flight requests; Close ends
	// the long-lived streams that Shutdown would otherwise wait for forever.
	go func() { shutdown <- srv.Shutdown(sctx) }()
	api.Close()
	if err := <-shutdown; err != nil {
		srv.Close()
		logger.Warn("shutdown cut connections", "err", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// routes mounts the API; the web page is served beside it, at exactly "/"
// and under "/static/", with the JavaScript client under "/client/". Everything else, including every other GET, goes to
// the API, which stays authoritative for its routes and its 404s.
func routes(api http.Handler) http.Handler {
	page := web.Handler()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /static/", page)
	mux.Handle("GET /client/", page)
	mux.Handle("/", api)
	return mux
}

// seedDemo seeds the demo data into a database without users and, when it
// did, prints a token for each demo user and the page's address.
func seedDemo(ctx context.Context, store *taskboard.Board, pageURL string, stdout io.Writer) error {
	seeded, err := demo.Seed(ctx, store)
	if err != nil {
		return err
	}
	if !seeded {
		return nil
	}
	fmt.Fprintln(stdout, "Seeded the demo board. Demo users and their API tokens (shown once):")
	creds := auth.New(store, nil)
	for _, id := range []string{demo.Alice, demo.Bob} {
		_, secret, err := creds.CreateToken(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  %-10s %s\n", id, secret)
	}
	fmt.Fprintf(stdout, "Open %s/ and continue as Alice or Bob, or:\n  curl -H 'Authorization: Bearer <token>' %s/boards/board-1/tasks\n", pageURL, pageURL)
	return nil
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return "localhost:" + strconv.Itoa(portOf(a))
	}
	return a.String()
}

func portOf(a net.Addr) int {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.Port
	}
	return 0
}

// redactDSN hides a password in a PostgreSQL URL.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			cred := dsn[i+3 : at]
			if user, _, ok := strings.Cut(cred, ":"); ok {
				return dsn[:i+3] + user + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}
