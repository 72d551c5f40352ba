package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/demo"
)

// The golden files under testdata/ are rewritten by go test -update. The
// flag is defined only if no other test file of the package defines it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func updateRESTGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkRESTGolden compares got with testdata/name, or rewrites the file with
// -update.
func checkRESTGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateRESTGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
	}
}

// restLogBuffer is a goroutine-safe buffer for a test's log output.
type restLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *restLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *restLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// restEnv is a handler over a demo database behind a real HTTP server,
// with bearer tokens for Alice and Bob (members of board-1) and Carol (a
// member of no board). Unless its options name another authenticator, the
// handler's built-in one uses the credentials of testUsers.creds, so that
// revocations through it take effect at once.
type restEnv struct {
	t     testing.TB
	store *taskboard.Board
	api   *httpapi.Handler
	srv   *httptest.Server
	logs  *restLogBuffer

	testUsers
}

// newRESTEnv opens dsn, seeds the demo data and serves it with opts (whose
// Logger, when nil, is set to write into e.logs).
func newRESTEnv(t testing.TB, dsn string, opts *httpapi.Options) *restEnv {
	t.Helper()
	return newRESTEnvWrapped(t, dsn, opts, nil)
}

// newRESTEnvWrapped is newRESTEnv with the handler wrapped by wrap. The
// handler's metrics time the store's queries.
func newRESTEnvWrapped(t testing.TB, dsn string, opts *httpapi.Options, wrap func(http.Handler) http.Handler) *restEnv {
	t.Helper()
	return newRESTEnvStore(t, dsn, opts, nil, wrap)
}

// newRESTEnvStore is newRESTEnvWrapped over a store opened with storeOpts
// (nil: none), to which MaintenanceInterval and QueryObserver are added.
func newRESTEnvStore(t testing.TB, dsn string, opts *httpapi.Options, storeOpts *taskboard.Options, wrap func(http.Handler) http.Handler) *restEnv {
	t.Helper()
	var so taskboard.Options
	if storeOpts != nil {
		so = *storeOpts
	}
	var o httpapi.Options
	if opts != nil {
		o = *opts
	}
	if o.Metrics == nil {
		o.Metrics = httpapi.NewMetrics()
	}
	ctx := context.Background()
	so.MaintenanceInterval, so.QueryObserver = -1, o.Metrics.ObserveQuery
	store, err := taskboard.Open(ctx, dsn, &so)
	if err != nil {
		t.Fatalf("taskboard.Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { store.Close() })
	if ok, err := demo.Seed(ctx, store); err != nil || !ok {
		t.Fatalf("demo.Seed: got %v, %v, want true, nil", ok, err)
	}
	return newRESTEnvWith(t, store, &o, wrap)
}

// newRESTEnvOn serves an open, seeded store.
func newRESTEnvOn(t testing.TB, store *taskboard.Board, opts *httpapi.Options) *restEnv {
	t.Helper()
	return newRESTEnvWith(t, store, opts, nil)
}

// newRESTEnvWith serves an open, seeded store through wrap, when not nil.
func newRESTEnvWith(t testing.TB, store *taskboard.Board, opts *httpapi.Options, wrap func(http.Handler) http.Handler) *restEnv {
	t.Helper()
	e := &restEnv{t: t, store: store, logs: &restLogBuffer{}}
	var o httpapi.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slogTo(e.logs)
	}
	e.testUsers = newTestUsers(t, store)
	if o.Authenticator == nil {
		o.Authenticator = httpapi.NewBuiltin(e.creds)
	}
	if o.SessionRate == 0 {
		// Tests sign in often from one address; TestSignInRateLimit
		// sets a limit.
		o.SessionRate = -1
	}
	e.api = httpapi.New(store, &o)
	t.Cleanup(e.api.Close)
	var h http.Handler = e.api
	if wrap != nil {
		h = wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// testUsers are the users of a test environment: Alice and Bob of the demo
// data, and Carol, who is no member of the demo board.
type testUsers struct {
	alice, bob, carol string // bearer tokens
	aliceTokenID      string
	carolID           string
	creds             *auth.Store // where the tokens are kept
}

// newTestUsers creates the tokens of Alice and Bob, and Carol with hers.
func newTestUsers(t testing.TB, store *taskboard.Board) testUsers {
	t.Helper()
	ctx := context.Background()
	u := testUsers{creds: auth.New(store, nil)}
	tok, secret, err := u.creds.CreateToken(ctx, demo.Alice)
	if err != nil {
		t.Fatalf("CreateToken(alice): %v", err)
	}
	u.alice, u.aliceTokenID = secret, tok.ID
	if _, u.bob, err = u.creds.CreateToken(ctx, demo.Bob); err != nil {
		t.Fatalf("CreateToken(bob): %v", err)
	}
	carol, err := store.CreateUser(ctx, taskboard.UserCreate{Name: "Carol", Email: "carol@example.com"})
	if err != nil {
		t.Fatalf("CreateUser(carol): %v", err)
	}
	u.carolID = carol.ID
	if _, u.carol, err = u.creds.CreateToken(ctx, carol.ID); err != nil {
		t.Fatalf("CreateToken(carol): %v", err)
	}
	return u
}

// slogTo returns a logger of every level that writes text to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serves reports whether the handler registered pattern.
func (e *restEnv) serves(pattern string) bool {
	return slices.Contains(e.api.Routes(), pattern)
}

// restResp is a response read in full.
type restResp struct {
	Status int
	Header http.Header
	Body   []byte
	call   string
}

// restHdr is a set of request headers.
type restHdr map[string]string

// bearerHdr returns the Authorization header of a token.
func bearerHdr(token string) restHdr { return restHdr{"Authorization": "Bearer " + token} }

// with returns h plus the header k: v.
func (h restHdr) with(k, v string) restHdr {
	out := restHdr{k: v}
	for hk, hv := range h {
		if hk != k {
			out[hk] = hv
		}
	}
	return out
}

// do sends a request with a body ("" for none) and reads the response.
func (e *restEnv) do(method, path, body string, h restHdr) *restResp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != "" {
		// As clients do; a test may set another type.
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &restResp{Status: res.StatusCode, Header: res.Header, Body: b, call: method + " " + path}
}

// as sends a request with a user's bearer token.
func (e *restEnv) as(token, method, path, body string) *restResp {
	e.t.Helper()
	return e.do(method, path, body, bearerHdr(token))
}

// want fails the test unless the response has the status.
func (r *restResp) want(t testing.TB, status int) *restResp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got status %d, want %d; body %s", r.call, r.Status, status, r.Body)
	}
	return r
}

// decode decodes the JSON body into v.
func (r *restResp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: decode %s: %v", r.call, r.Body, err)
	}
}

// object decodes the JSON body as an object.
func (r *restResp) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// wantError fails the test unless the response is status with body
// {"error": msg}.
func (r *restResp) wantError(t testing.TB, status int, msg string) {
	t.Helper()
	r.want(t, status)
	want := `{"error":` + quoteJSON(msg) + "}\n"
	if string(r.Body) != want {
		t.Fatalf("%s: got body %q, want %q", r.call, r.Body, want)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s: got Content-Type %q, want application/json; charset=utf-8", r.call, ct)
	}
}

// wantValidation fails the test unless the response is a 400 validation
// error naming each field of paths (and no other).
func (r *restResp) wantValidation(t testing.TB, paths ...string) []taskboard.FieldError {
	t.Helper()
	r.want(t, http.StatusBadRequest)
	var body struct {
		Error []taskboard.FieldError `json:"error"`
	}
	r.decode(t, &body)
	var got []string
	for _, f := range body.Error {
		if f.Message == "" {
			t.Errorf("%s: field %v has no message", r.call, f.Path)
		}
		got = append(got, strings.Join(f.Path, "."))
	}
	slices.Sort(got)
	want := slices.Clone(paths)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got error paths %q, want %q; body %s", r.call, got, want, r.Body)
	}
	return body.Error
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// boardSeq returns a board's current seq, straight from the store.
func (e *restEnv) boardSeq(boardID string) int64 {
	e.t.Helper()
	seq, err := e.store.BoardSeq(context.Background(), taskboard.Actor{UserID: demo.Alice}, boardID)
	if err != nil {
		e.t.Fatalf("BoardSeq(%s): %v", boardID, err)
	}
	return seq
}

// events returns board-1's logged events after seq, as Alice sees them.
func (e *restEnv) events(boardID string, after int64) []taskboard.Envelope {
	e.t.Helper()
	page, err := e.store.EventsAfter(context.Background(), taskboard.Actor{UserID: demo.Alice}, boardID, after, 0)
	if err != nil {
		e.t.Fatalf("EventsAfter(%s, %d): %v", boardID, after, err)
	}
	out := make([]taskboard.Envelope, len(page.Events))
	for i, ev := range page.Events {
		if out[i], err = ev.Envelope(); err != nil {
			e.t.Fatalf("event %d: %v", ev.Seq, err)
		}
	}
	return out
}

// task returns a task straight from the store.
func (e *restEnv) task(id string) *taskboard.Task {
	e.t.Helper()
	task, err := e.store.Task(context.Background(), taskboard.Actor{UserID: demo.Alice}, id)
	if err != nil {
		e.t.Fatalf("Task(%s): %v", id, err)
	}
	return task
}

// newBoard creates a board as the token's user and returns its id.
func (e *restEnv) newBoard(token, name string) string {
	e.t.Helper()
	var b taskboard.BoardInfo
	e.as(token, "POST", "/boards", `{"name":`+quoteJSON(name)+`}`).want(e.t, http.StatusCreated).decode(e.t, &b)
	return b.ID
}

// newList creates a list on a board and returns it.
func (e *restEnv) newList(token, boardID, name string) taskboard.List {
	e.t.Helper()
	var l taskboard.List
	e.as(token, "POST", "/boards/"+boardID+"/lists", `{"name":`+quoteJSON(name)+`}`).want(e.t, http.StatusCreated).decode(e.t, &l)
	return l
}

// newTask creates a task in a list and returns it.
func (e *restEnv) newTask(token, listID, title string) taskboard.Task {
	e.t.Helper()
	var task taskboard.Task
	e.as(token, "POST", "/tasks", `{"title":`+quoteJSON(title)+`,"listId":`+quoteJSON(listID)+`}`).
		want(e.t, http.StatusCreated).decode(e.t, &task)
	return task
}
