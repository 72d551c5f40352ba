package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/web"
)

// The browser tests drive the real page in headless Chromium against the
// real API on a SQLite demo database. They run only when
// TASKBOARD_TEST_BROWSER names the browser binary.

const browserEnv = "TASKBOARD_TEST_BROWSER"

var updateScreenshot = flag.Bool("update-screenshot", false,
	"write docs/screenshot.png from the live page (needs "+browserEnv+")")

// TestPageRoutes checks that the page is served beside the API without
// shadowing any API route.
func TestPageRoutes(t *testing.T) {
	store, err := taskboard.Open(context.Background(), filepath.Join(t.TempDir(), "tb.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	api := httpapi.New(store, nil)
	defer api.Close()
	srv := httptest.NewServer(routes(api))
	defer srv.Close()

	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/", 200, "text/html", `<script type="module" src="static/app.js">`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/static/app.js", 200, "text/javascript", "import"},
		{"GET", "/static/app.css", 200, "text/css", "--accent"},
		{"GET", "/static/icon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/static/missing.js", 404, "", ""},
		{"GET", "/client/v1/taskboard.js", 200, "text/javascript", "export class TaskboardClient"},
		{"GET", "/client/v1/missing.js", 404, "", ""},
		{"GET", "/health", 200, "application/json", `"ok"`},
		{"GET", "/openapi.json", 200, "application/json", ""},
		{"GET", "/boards", 401, "application/json", "Unauthorized"},
		{"GET", "/users/me", 401, "application/json", "Unauthorized"},
		{"POST", "/sessions", 415, "application/json", "Unsupported Media Type"},
		{"POST", "/", 404, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("%s %s: got status %d, want %d (%s)", tc.method, tc.path, res.StatusCode, tc.status, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("%s %s: got Content-Type %q, want %q", tc.method, tc.path, ct, tc.contentType)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("%s %s: body does not contain %q:\n%s", tc.method, tc.path, tc.contains, body)
			}
		})
	}
}

// pageServer serves the page and the API over a SQLite file on a fixed
// address; it can stop and start again on the same address and file.
type pageServer struct {
	t      *testing.T
	dbPath string
	addr   string
	wrap   func(http.Handler) http.Handler
	opts   *taskboard.Options // the store's; nil for none
	// presenceGrace is the API's PresenceGrace; zero for the default.
	presenceGrace time.Duration
	store         *taskboard.Board
	api           *httpapi.Handler
	srv           *http.Server
	served        chan struct{}
}

// startPageServer starts a server on a fresh demo database. wrap, when not
// nil, wraps the handler (to block transports).
func startPageServer(t *testing.T, wrap func(http.Handler) http.Handler) *pageServer {
	t.Helper()
	s := &pageServer{t: t, dbPath: filepath.Join(t.TempDir(), "taskboard.db"), addr: "127.0.0.1:0", wrap: wrap}
	s.start()
	if _, err := demo.Seed(context.Background(), s.store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *pageServer) start() {
	s.t.Helper()
	store, err := taskboard.Open(context.Background(), s.dbPath, s.opts)
	if err != nil {
		s.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		store.Close()
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.store = store
	s.api = httpapi.New(store, &httpapi.Options{Demo: true, AdminToken: pageAdminToken, PresenceGrace: s.presenceGrace})
	var h http.Handler = routes(s.api)
	if s.wrap != nil {
		h = s.wrap(h)
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	s.served = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		srv.Serve(ln)
	}(s.srv, s.served)
}

// stop stops the server as the binary does: no more connections, every
// stream ended, the database closed.
func (s *pageServer) stop() {
	if s.srv == nil {
		return
	}
	s.srv.Close()
	s.api.Close()
	<-s.served
	s.store.Close()
	s.srv = nil
}

func (s *pageServer) url() string { return "http://" + s.addr }

// pageAdminToken is the admin token of the page servers' API.
const pageAdminToken = "page-admin-token-for-tests"

// browserPath returns the browser binary or skips the test.
func browserPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv(browserEnv)
	if p == "" {
		t.Skipf("browser tests skipped: set %s to a Chromium binary, e.g. %s=/usr/bin/chromium", browserEnv, browserEnv)
	}
	return p
}

// newBrowser starts headless Chromium with a fresh profile and returns its
// context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := browserPath(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		// Both pages stay "in front": no timer throttling of the other tab.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// page is one tab in a browser context of its own (its own cookies).
type page struct {
	t       *testing.T
	name    string
	ctx     context.Context
	console *consoleLog
}

// consoleLog keeps what a page wrote to its console, for failures.
type consoleLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func openPage(t *testing.T, browser context.Context, name string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &page{t: t, name: name, ctx: ctx, console: &consoleLog{}}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.console.mu.Lock()
			fmt.Fprintf(&p.console.buf, "%s %s\n", time.Now().Format("15:04:05.000"), m)
			p.console.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			p.console.mu.Lock()
			t.Logf("%s console:\n%s", name, p.console.buf.String())
			p.console.mu.Unlock()
		}
	})
	return p
}

// in returns the page for use in a subtest.
func (p *page) in(t *testing.T) *page {
	q := *p
	q.t = t
	return &q
}

// do runs actions within timeout or fails the test.
func (p *page) do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.name, expr, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("%s: evaluate %s: %v (%s)", p.name, expr, err, raw)
		}
	}
}

// waitFor waits until a JavaScript expression is truthy.
func (p *page) waitFor(what, expr string, timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		var state string
		p.eval(`(() => { const c = document.getElementById('conn'); return c ? c.dataset.status + ' ' + c.dataset.transport + ' ' + c.textContent.trim() : 'no indicator'; })()`, &state)
		p.t.Fatalf("%s: waiting for %s: %v (connection: %s)", p.name, what, err, state)
	}
}

// signInDemo opens the page and continues as a demo user.
func (p *page) signInDemo(base, userID string) {
	p.t.Helper()
	button := chromedp.CSS(`[data-demo-user="` + userID + `"]`)
	p.do(30*time.Second,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(button),
		chromedp.Click(button),
		chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="task-1"]`)),
	)
}

// waitLive waits until the page is live over transport.
func (p *page) waitLive(transport string) {
	p.t.Helper()
	p.waitFor("live over "+transport,
		`(() => { const c = document.getElementById('conn'); return c.dataset.status === 'live' && c.dataset.transport === '`+transport+`'; })()`,
		20*time.Second)
}

// cardIn is an expression that is true when a task's card is in a list.
func cardIn(listID, taskID string) string {
	return fmt.Sprintf(`!!document.querySelector('.column[data-list-id="%s"] .card[data-task-id="%s"]')`, listID, taskID)
}

// cardsTitled is an expression that counts the confirmed cards of a list
// with a title.
func cardsTitled(listID, title string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('.column[data-list-id="%s"] .card:not(.pending) .card-title')].filter((e) => e.textContent === %q).length`, listID, title)
}

// faults lets a test tamper with requests on their way to the API.
type faults struct {
	mu       sync.Mutex
	before   func(w http.ResponseWriter, r *http.Request) bool // true: answered
	requests []string                                          // "METHOD path key" of every request
}

func (f *faults) set(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.before = fn
	f.mu.Unlock()
}

func (f *faults) keys(method, path string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for _, w := range f.requests {
		if m, rest, _ := strings.Cut(w, " "); m == method {
			if p, key, _ := strings.Cut(rest, " "); p == path {
				keys = append(keys, key)
			}
		}
	}
	return keys
}

func (f *faults) count(method, path string) int {
	return len(f.keys(method, path))
}

func (f *faults) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		before := f.before
		f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Idempotency-Key"))
		f.mu.Unlock()
		if before != nil && before(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestBrowserLiveBoard: Alice and Bob on the same board, each in a browser
// context of their own, see each other's changes, presence and typing.
func TestBrowserLiveBoard(t *testing.T) {
	browser := newBrowser(t)
	f := &faults{}
	s := startPageServer(t, f.wrap)
	alice := openPage(t, browser, "alice")
	bob := openPage(t, browser, "bob")
	alice.signInDemo(s.url(), demo.Alice)
	bob.signInDemo(s.url(), demo.Bob)
	alice.waitLive("ws")
	bob.waitLive("ws")

	t.Run("presence", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		alice.waitFor("Bob's avatar", `!!document.querySelector('#presence [data-user-id="user-bob"]')`, 15*time.Second)
		bob.waitFor("Alice's avatar", `!!document.querySelector('#presence [data-user-id="user-alice"]')`, 15*time.Second)
	})

	t.Run("drag to done", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		// A real drag: mouse down on the card, moves, and the browser's
		// native HTML5 drag (intercepted and replayed by chromedp) ends in
		// a drop on the Done column.
		alice.do(20*time.Second, chromedp.DragAndDrop(
			chromedp.CSS(`.card[data-task-id="task-1"]`),
			chromedp.CSS(`.column[data-list-id="list-done"] .column-foot`)))
		alice.waitFor("task-1 in Done", cardIn("list-done", "task-1"), 5*time.Second)
		bob.waitFor("task-1 in Done", cardIn("list-done", "task-1"), 10*time.Second)
		task, err := s.store.Task(context.Background(), taskboard.Actor{UserID: demo.Alice}, "task-1")
		if err != nil {
			t.Fatal(err)
		}
		if task.ListID != "list-done" {
			t.Errorf("after the drag task-1 is in %s, want list-done", task.ListID)
		}
	})

	t.Run("keyboard move", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		// task-2 is alone in To Do now: Space picks it up, → moves it to
		// In Progress, ↓ to after task-3, Enter drops it.
		card := chromedp.CSS(`.card[data-task-id="task-2"]`)
		alice.do(10*time.Second,
			chromedp.Focus(card),
			chromedp.KeyEvent(" "),
			chromedp.KeyEvent(kb.ArrowRight),
			chromedp.KeyEvent(kb.ArrowDown),
		)
		alice.waitFor("preview in In Progress", cardIn("list-progress", "task-2"), 5*time.Second)
		alice.do(10*time.Second, chromedp.KeyEvent(kb.Enter))
		bob.waitFor("task-2 in In Progress", cardIn("list-progress", "task-2"), 10*time.Second)
		var order []string
		bob.eval(`[...document.querySelectorAll('.column[data-list-id="list-progress"] .card')].map((c) => c.dataset.taskId)`, &order)
		if strings.Join(order, ",") != "task-3,task-2" {
			t.Errorf("Bob's In Progress after the keyboard move: %v, want [task-3 task-2]", order)
		}
		// Escape puts a picked-up card back.
		alice.do(10*time.Second,
			chromedp.Focus(card),
			chromedp.KeyEvent(" "),
			chromedp.KeyEvent(kb.ArrowLeft),
		)
		alice.waitFor("preview in To Do", cardIn("list-todo", "task-2"), 5*time.Second)
		alice.do(10*time.Second, chromedp.KeyEvent(kb.Escape))
		alice.waitFor("task-2 back in In Progress", cardIn("list-progress", "task-2"), 5*time.Second)
		// Alt+→ moves at once.
		alice.do(10*time.Second, chromedp.Focus(card), chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierAlt)))
		bob.waitFor("task-2 in Done", cardIn("list-done", "task-2"), 10*time.Second)
	})

	t.Run("create", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		const title = "Write release notes"
		bob.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`.column[data-list-id="list-todo"] .add-task`)),
			chromedp.WaitVisible(chromedp.CSS(`.column[data-list-id="list-todo"] .inline-form textarea`)),
			chromedp.SendKeys(chromedp.CSS(`.column[data-list-id="list-todo"] .inline-form textarea`), title+kb.Enter),
		)
		alice.waitFor("Bob's new task", cardsTitled("list-todo", title)+` === 1`, 10*time.Second)
		// Bob's optimistic card and the server's event are one card.
		bob.waitFor("one confirmed card", cardsTitled("list-todo", title)+` === 1 && !document.querySelector('.card.pending')`, 10*time.Second)
		var n int
		bob.eval(fmt.Sprintf(`[...document.querySelectorAll('.card-title')].filter((e) => e.textContent === %q).length`, title), &n)
		if n != 1 {
			t.Errorf("Bob sees %d cards titled %q, want 1", n, title)
		}
	})

	t.Run("typing", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		bob.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`.card[data-task-id="task-3"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#task-title`)),
			chromedp.KeyEvent(kb.End),
			chromedp.KeyEvent(" v2"),
		)
		alice.waitFor("typing indicator", `(() => {
			const e = document.querySelector('.card[data-task-id="task-3"] .card-typing');
			return e && !e.hidden && e.textContent.includes('Bob is typing');
		})()`, 10*time.Second)
		bob.do(10*time.Second, chromedp.KeyEvent(kb.Enter))
		alice.waitFor("new title", `document.querySelector('.card[data-task-id="task-3"] .card-title').textContent === 'Build API endpoints v2'`, 10*time.Second)
		alice.waitFor("typing indicator gone", `document.querySelector('.card[data-task-id="task-3"] .card-typing').hidden`, 10*time.Second)
	})

	t.Run("retry with the same key", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		// POST /tasks is carried out but its answer is lost twice, garbled
		// on the way (so that the browser does not retry by itself): the
		// page sees network errors, retries with the same Idempotency-Key
		// and gets the first answer again; the task exists once.
		const title = "Survives a lost answer"
		bob.eval(`(() => {
			window.testAttempts = [];
			const fetch = window.fetch;
			window.fetch = (url, opts) => {
				if (new URL(url, location.href).pathname === '/tasks') window.testAttempts.push(opts.headers['Idempotency-Key']);
				return fetch(url, opts);
			};
			return true;
		})()`, nil)
		var mu sync.Mutex
		drops := 2
		f.set(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPost || r.URL.Path != "/tasks" {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			if drops == 0 {
				return false
			}
			drops--
			s.api.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				io.WriteString(conn, "GARBLED\r\n\r\n")
				conn.Close()
			}
			return true
		})
		defer f.set(nil)
		bob.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`.column[data-list-id="list-progress"] .add-task`)),
			chromedp.WaitVisible(chromedp.CSS(`.column[data-list-id="list-progress"] .inline-form textarea`)),
			chromedp.SendKeys(chromedp.CSS(`.column[data-list-id="list-progress"] .inline-form textarea`), title+kb.Enter),
		)
		alice.waitFor("the task", cardsTitled("list-progress", title)+` === 1`, 10*time.Second)
		bob.waitFor("the confirmed task", cardsTitled("list-progress", title)+` === 1 && !document.querySelector('.card.pending')`, 10*time.Second)
		bob.waitFor("the retries", `window.testAttempts.length >= 3`, 20*time.Second)
		var attempts []string
		bob.eval(`window.testAttempts`, &attempts)
		for _, k := range attempts {
			if k != attempts[0] || k == "" {
				t.Errorf("the page sent POST /tasks with keys %q, want one key throughout", attempts)
				break
			}
		}
		if keys := f.keys("POST", "/tasks"); len(keys) < 3 || keys[len(keys)-1] != attempts[0] {
			t.Errorf("the server got POST /tasks with keys %q, want three or more, the last %q", keys, attempts[0])
		}
		tasks, _, err := s.store.Tasks(context.Background(), taskboard.Actor{UserID: demo.Bob}, demo.Board)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, task := range tasks {
			if task.Title == title {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the board has %d tasks titled %q, want 1", n, title)
		}
	})

	t.Run("lists", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		listNamed := func(name string) string {
			return fmt.Sprintf(`([...document.querySelectorAll('.column[data-list-id]')].find((c) => c.querySelector('.column-title').textContent === %q) || {dataset: {}}).dataset.listId`, name)
		}
		listNames := `[...document.querySelectorAll('.column[data-list-id] .column-title')].map((e) => e.textContent).join(',')`
		alice.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`.add-list`)),
			chromedp.WaitVisible(chromedp.CSS(`.column-new .inline-input`)),
			chromedp.SendKeys(chromedp.CSS(`.column-new .inline-input`), "Review"+kb.Enter),
			chromedp.KeyEvent(kb.Escape),
		)
		bob.waitFor("the new list", listNames+` === 'To Do,In Progress,Done,Review'`, 10*time.Second)
		var id string
		alice.waitFor("the list's id", `!!`+listNamed("Review")+` && !document.querySelector('.column.pending')`, 10*time.Second)
		alice.eval(listNamed("Review"), &id)
		col := `.column[data-list-id="` + id + `"]`
		alice.do(10*time.Second,
			chromedp.Click(chromedp.CSS(col+` .column-title`)),
			chromedp.WaitVisible(chromedp.CSS(col+` .inline-input`)),
			chromedp.KeyEvent(kb.End+"ed"+kb.Enter),
		)
		bob.waitFor("the renamed list", listNames+` === 'To Do,In Progress,Done,Reviewed'`, 10*time.Second)
		alice.do(10*time.Second,
			chromedp.Click(chromedp.CSS(col+` .column-menu`)),
			chromedp.WaitVisible(chromedp.CSS(`#list-menu`)),
			chromedp.Click(chromedp.Search(`//div[@id="list-menu"]/button[text()="Move left"]`)),
		)
		bob.waitFor("the moved list", listNames+` === 'To Do,In Progress,Reviewed,Done'`, 10*time.Second)
		alice.do(10*time.Second,
			chromedp.Click(chromedp.CSS(col+` .column-menu`)),
			chromedp.WaitVisible(chromedp.CSS(`#list-menu`)),
			chromedp.Click(chromedp.Search(`//div[@id="list-menu"]/button[text()="Delete list…"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-ok`)),
			chromedp.Click(chromedp.CSS(`#confirm-ok`)),
		)
		bob.waitFor("the list gone", listNames+` === 'To Do,In Progress,Done'`, 10*time.Second)
	})

	t.Run("delete task", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		bob.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`.card[data-task-id="task-1"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#task-delete`)),
			chromedp.Click(chromedp.CSS(`#task-delete`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-ok`)),
			chromedp.Click(chromedp.CSS(`#confirm-ok`)),
		)
		alice.waitFor("task-1 gone", `!document.querySelector('.card[data-task-id="task-1"]')`, 10*time.Second)
		if _, err := s.store.Task(context.Background(), taskboard.Actor{UserID: demo.Alice}, "task-1"); err == nil {
			t.Error("task-1 still exists")
		}
	})

	t.Run("boards", func(t *testing.T) {
		alice := alice.in(t)
		alice.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`#new-board`)),
			chromedp.WaitVisible(chromedp.CSS(`#board-name`)),
			chromedp.SendKeys(chromedp.CSS(`#board-name`), "Retro"+kb.Enter),
		)
		alice.waitFor("the new board", `document.getElementById('board-title').textContent === 'Retro' && location.search.startsWith('?board=') && !location.search.includes('board-1')`, 10*time.Second)
		alice.waitLive("ws")
		var options []string
		alice.eval(`[...document.querySelectorAll('#board-select option')].map((o) => o.textContent)`, &options)
		if strings.Join(options, ",") != "Sprint 12,Retro" && strings.Join(options, ",") != "Retro,Sprint 12" {
			t.Errorf("board switcher offers %q, want Sprint 12 and Retro", options)
		}
		alice.eval(`(() => { const s = document.getElementById('board-select'); s.value = 'board-1'; s.dispatchEvent(new Event('change')); return true; })()`, nil)
		alice.waitFor("Sprint 12 again", `document.getElementById('board-title').textContent === 'Sprint 12' && !!document.querySelector('.card[data-task-id="task-2"]')`, 10*time.Second)
		alice.waitLive("ws")
	})

	t.Run("rollback", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		// Bob edits task-4's title while Alice renames it: his save names
		// the version he opened (If-Match), the server refuses it with 412,
		// and his page puts Alice's title back with a message.
		bob.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`.card[data-task-id="task-4"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#task-title`)),
			chromedp.KeyEvent(kb.End+" (draft)"),
		)
		title := "Write project brief (final)"
		if _, err := s.store.UpdateTask(context.Background(), taskboard.Actor{UserID: demo.Alice}, "task-4", taskboard.TaskUpdate{Title: &title}); err != nil {
			t.Fatal(err)
		}
		alice.waitFor("Alice's title", `document.querySelector('.card[data-task-id="task-4"] .card-title').textContent === 'Write project brief (final)'`, 10*time.Second)
		bob.waitFor("Alice's title", `document.querySelector('.card[data-task-id="task-4"] .card-title').textContent === 'Write project brief (final)'`, 10*time.Second)
		bob.do(10*time.Second, chromedp.KeyEvent(kb.Enter))
		bob.waitFor("error toast", `[...document.querySelectorAll('.toast-error')].some((e) => e.textContent.includes('someone else changed it'))`, 10*time.Second)
		bob.waitFor("title rolled back", `document.querySelector('.card[data-task-id="task-4"] .card-title').textContent === 'Write project brief (final)'`, 5*time.Second)
		task, err := s.store.Task(context.Background(), taskboard.Actor{UserID: demo.Bob}, "task-4")
		if err != nil {
			t.Fatal(err)
		}
		if task.Title != title {
			t.Errorf("task-4 is titled %q, want %q", task.Title, title)
		}
	})
}

// TestBrowserReconnect: the server stops while both pages are open, the
// database changes meanwhile, and the server starts again on the same
// address; both pages reconnect by themselves and show the change. Then
// again with the log trimmed past the pages' resume point: they reset,
// refetch the snapshot and show the changes too.
func TestBrowserReconnect(t *testing.T) {
	browser := newBrowser(t)
	f := &faults{}
	s := startPageServer(t, f.wrap)
	alice := openPage(t, browser, "alice")
	bob := openPage(t, browser, "bob")
	alice.signInDemo(s.url(), demo.Alice)
	bob.signInDemo(s.url(), demo.Bob)
	alice.waitLive("ws")
	bob.waitLive("ws")

	s.stop()
	for _, p := range []*page{alice, bob} {
		p.waitFor("reconnecting indicator", `(() => {
			const c = document.getElementById('conn');
			return c.dataset.status === 'reconnecting' && /Reconnecting in \d+s…/.test(c.textContent);
		})()`, 15*time.Second)
	}

	ctx := context.Background()
	store, err := taskboard.Open(ctx, s.dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.MoveTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1", taskboard.TaskMove{ListID: "list-done", Position: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	created, err := store.CreateTask(ctx, taskboard.Actor{UserID: demo.Bob}, taskboard.TaskCreate{ListID: "list-progress", Title: "Made while the server was down"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	s.start()
	for _, p := range []*page{alice, bob} {
		p.waitFor("task-1 in Done after the restart", cardIn("list-done", "task-1"), 45*time.Second)
		p.waitFor("the new task after the restart", cardIn("list-progress", created.ID), 5*time.Second)
		p.waitLive("ws")
	}

	// The same with a log that no longer reaches back to the pages' seq.
	s.stop()
	for _, p := range []*page{alice, bob} {
		p.waitFor("reconnecting indicator", `document.getElementById('conn').dataset.status === 'reconnecting'`, 15*time.Second)
	}
	snapshots := f.count("GET", "/boards/"+demo.Board)
	store, err = taskboard.Open(ctx, s.dbPath, &taskboard.Options{HistoryEvents: 1, HistoryAge: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"task-2", "task-3"} {
		if _, err := store.MoveTask(ctx, taskboard.Actor{UserID: demo.Alice}, id, taskboard.TaskMove{ListID: "list-done", Position: ptr(0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	s.start()
	for _, p := range []*page{alice, bob} {
		p.waitFor("task-2 and task-3 in Done after the reset", cardIn("list-done", "task-2")+` && `+cardIn("list-done", "task-3"), 45*time.Second)
		p.waitLive("ws")
	}
	if got := f.count("GET", "/boards/"+demo.Board) - snapshots; got < 2 {
		t.Errorf("after the reset the pages fetched %d snapshots, want one each", got)
	}
}

// TestBrowserFallback: with the WebSocket blocked the page goes live over
// SSE, and with SSE blocked as well, over long polling; changes arrive
// either way. It also signs in with a token and signs out.
func TestBrowserFallback(t *testing.T) {
	browser := newBrowser(t)
	for _, tc := range []struct {
		transport string
		blocked   func(path string) bool
	}{
		{"sse", func(p string) bool { return p == "/ws" }},
		{"poll", func(p string) bool { return p == "/ws" || strings.HasSuffix(p, "/events") }},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			s := startPageServer(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.blocked(r.URL.Path) {
						http.Error(w, "blocked by the test", http.StatusForbidden)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			ctx := context.Background()
			_, token, err := auth.New(s.store, nil).CreateToken(ctx, demo.Alice)
			if err != nil {
				t.Fatal(err)
			}
			alice := openPage(t, browser, "alice")
			alice.do(30*time.Second,
				chromedp.Navigate(s.url()+"/"),
				chromedp.WaitVisible(chromedp.CSS(`#token`)),
				chromedp.SendKeys(chromedp.CSS(`#token`), token),
				chromedp.Click(chromedp.CSS(`#token-submit`)),
				chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="task-1"]`)),
			)
			alice.waitLive(tc.transport)
			var label string
			alice.eval(`document.getElementById('conn-text').textContent`, &label)
			want := map[string]string{"sse": "Live · SSE", "poll": "Live · Long polling"}[tc.transport]
			if label != want {
				t.Errorf("indicator says %q, want %q", label, want)
			}

			task, err := s.store.CreateTask(ctx, taskboard.Actor{UserID: demo.Bob}, taskboard.TaskCreate{ListID: "list-done", Title: "Arrived over " + tc.transport})
			if err != nil {
				t.Fatal(err)
			}
			alice.waitFor("the new task", cardIn("list-done", task.ID), 15*time.Second)
			if _, err := s.store.MoveTask(ctx, taskboard.Actor{UserID: demo.Bob}, "task-2", taskboard.TaskMove{ListID: "list-progress", Position: ptr(0)}); err != nil {
				t.Fatal(err)
			}
			alice.waitFor("the moved task", cardIn("list-progress", "task-2"), 15*time.Second)

			alice.do(10*time.Second,
				chromedp.Click(chromedp.CSS(`#signout`)),
				chromedp.WaitVisible(chromedp.CSS(`#token-form`)),
			)
			// Signed out for good: a reload asks for a sign-in again.
			alice.do(10*time.Second, chromedp.Navigate(s.url()+"/"), chromedp.WaitVisible(chromedp.CSS(`#token-form`)))
		})
	}
}

// TestBrowserScreenshot renders the board as Alice sees it while Bob edits
// a task; with -update-screenshot it writes docs/screenshot.png.
func TestBrowserScreenshot(t *testing.T) {
	browser := newBrowser(t)
	s := startPageServer(t, nil)
	ctx := context.Background()
	str := func(s string) *string { return &s }
	for _, c := range []taskboard.TaskCreate{
		{ListID: "list-todo", Title: "Password reset flow", Description: str("Email link, 30 minute expiry, rate limited."), AssigneeID: str(demo.Bob)},
		{ListID: "list-todo", Title: "Empty states for new boards"},
		{ListID: "list-progress", Title: "Presence avatars", Description: str("Show who is viewing the board right now."), AssigneeID: str(demo.Bob)},
		{ListID: "list-done", Title: "Pick the accent colour", AssigneeID: str(demo.Alice)},
	} {
		if _, err := s.store.CreateTask(ctx, taskboard.Actor{UserID: demo.Alice}, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.store.UpdateTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1", taskboard.TaskUpdate{
		Description: taskboard.Nullable[string]{Set: true, Value: str("Sign in with a token or as a demo user.")},
	}); err != nil {
		t.Fatal(err)
	}

	alice := openPage(t, browser, "alice")
	bob := openPage(t, browser, "bob")
	alice.signInDemo(s.url(), demo.Alice)
	bob.signInDemo(s.url(), demo.Bob)
	alice.waitLive("ws")
	bob.waitLive("ws")
	alice.waitFor("Bob's avatar", `!!document.querySelector('#presence [data-user-id="user-bob"]')`, 15*time.Second)
	bob.do(10*time.Second,
		chromedp.Click(chromedp.CSS(`.card[data-task-id="task-3"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#task-title`)),
		chromedp.KeyEvent(kb.End+"s"),
	)
	alice.waitFor("typing indicator", `!document.querySelector('.card[data-task-id="task-3"] .card-typing').hidden`, 10*time.Second)

	// The pointer rests in a corner, hovering over nothing.
	alice.do(5*time.Second, chromedp.MouseEvent(chromedp.MouseMoved, 1279, 799))
	var png []byte
	func() {
		ctx, cancel := context.WithTimeout(alice.ctx, 20*time.Second)
		defer cancel()
		var err error
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
	}()
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot is not a PNG")
	}
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshot.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// On a phone the columns scroll sideways.
	alice.do(10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	alice.waitFor("horizontal scrolling on a narrow screen", `(() => {
		const b = document.getElementById('board');
		return b.scrollWidth > b.clientWidth + 100 && document.documentElement.scrollWidth <= window.innerWidth;
	})()`, 5*time.Second)
}

// TestBrowserUnderPrefix: a program that embeds taskboard mounts the API
// and the page side by side under /board/, behind http.StripPrefix. The
// page at /board/ signs in, shows the board and follows it live over each
// transport in turn, all under the prefix; changes made through the API
// reach it, and nothing is asked of the site outside the prefix.
func TestBrowserUnderPrefix(t *testing.T) {
	browser := newBrowser(t)
	ctx := context.Background()
	store, err := taskboard.Open(ctx, filepath.Join(t.TempDir(), "taskboard.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := demo.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(store, &httpapi.Options{Demo: true})

	// The embedding program's routes.
	board := http.NewServeMux()
	board.Handle("GET /{$}", web.Handler())
	board.Handle("GET /static/", web.Handler())
	board.Handle("GET /client/", web.Handler())
	board.Handle("/", api)
	var (
		mu      sync.Mutex
		blocked func(path string) bool // transports the test blocks
		outside []string               // requests outside the prefix
	)
	mux := http.NewServeMux()
	mux.Handle("/board/", http.StripPrefix("/board", board))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		outside = append(outside, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.NotFound(w, r)
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		block := blocked != nil && blocked(r.URL.Path)
		mu.Unlock()
		if block {
			http.Error(w, "blocked by the test", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { api.Close() }) // first: it ends the streams the server waits for
	base := srv.URL + "/board"

	// Bob changes the board through the API under the prefix, signed in as
	// a browser would be.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	bob := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	call := func(method, path string, body any) map[string]any {
		t.Helper()
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := bob.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: got status %d: %s", method, base+path, res.StatusCode, raw)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v (%s)", method, base+path, err, raw)
		}
		return out
	}
	call("POST", "/sessions/demo", map[string]string{"userId": demo.Bob})

	alice := openPage(t, browser, "alice")
	alice.signInDemo(base, demo.Alice)
	alice.waitFor("the board's address under the prefix",
		`location.pathname === '/board/' && new URLSearchParams(location.search).get('board') === '`+demo.Board+`'`, 5*time.Second)
	alice.waitLive("ws")

	for i, tc := range []struct {
		transport string
		blocked   func(path string) bool
	}{
		{"ws", nil},
		{"sse", func(p string) bool { return p == "/board/ws" }},
		{"poll", func(p string) bool { return p == "/board/ws" || strings.HasSuffix(p, "/events") }},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			alice := alice.in(t)
			if tc.blocked != nil {
				mu.Lock()
				blocked = tc.blocked
				mu.Unlock()
				alice.do(30*time.Second,
					chromedp.Reload(),
					chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="task-1"]`)),
				)
			}
			alice.waitLive(tc.transport)
			task := call("POST", "/tasks", map[string]string{"listId": "list-done", "title": "Arrived under /board/ over " + tc.transport})
			id, _ := task["id"].(string)
			if id == "" {
				t.Fatalf("POST /board/tasks answered %v, want a task", task)
			}
			alice.waitFor("the new task", cardIn("list-done", id), 15*time.Second)
			to := []string{"list-progress", "list-done", "list-todo"}[i]
			call("PATCH", "/tasks/task-1/move", map[string]any{"listId": to, "position": 0})
			alice.waitFor("task-1 moved to "+to, cardIn(to, "task-1"), 15*time.Second)
		})
	}

	mu.Lock()
	defer mu.Unlock()
	if len(outside) > 0 {
		t.Errorf("the page asked for %q, outside /board/", outside)
	}
}

// TestBrowserRoles: Bob, a viewer of board-1, sees the board read-only (the
// page says so; no adding, editing, dragging or keyboard moves); Alice, the
// owner, makes him an editor in the members panel and his page allows
// editing at once; then Bob leaves the board from the panel.
func TestBrowserRoles(t *testing.T) {
	browser := newBrowser(t)
	s := startPageServer(t, nil)
	ctx := context.Background()
	if _, err := s.store.UpdateMember(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board, demo.Bob, taskboard.RoleViewer); err != nil {
		t.Fatal(err)
	}
	alice := openPage(t, browser, "alice")
	bob := openPage(t, browser, "bob")
	alice.signInDemo(s.url(), demo.Alice)
	bob.signInDemo(s.url(), demo.Bob)
	alice.waitLive("ws")
	bob.waitLive("ws")

	visible := func(sel string) string {
		return fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.offsetParent !== null; })()`, sel)
	}
	t.Run("viewer", func(t *testing.T) {
		bob := bob.in(t)
		bob.waitFor("the read-only note", visible("#read-only-note"), 10*time.Second)
		var state struct {
			AddTask, AddList, Menus, Draggable int
			TitleDisabled                      bool
		}
		bob.eval(`({
			AddTask: [...document.querySelectorAll('.add-task')].filter((e) => e.offsetParent !== null).length,
			AddList: [...document.querySelectorAll('.add-list')].filter((e) => e.offsetParent !== null).length,
			Menus: [...document.querySelectorAll('.column-menu')].filter((e) => e.offsetParent !== null).length,
			Draggable: [...document.querySelectorAll('.card')].filter((c) => c.draggable).length,
			TitleDisabled: document.getElementById('board-title').disabled,
		})`, &state)
		if state.AddTask != 0 || state.AddList != 0 || state.Menus != 0 || state.Draggable != 0 || !state.TitleDisabled {
			t.Fatalf("a viewer's page: %+v, want nothing to add, edit or drag", state)
		}
		// Space does not pick a card up, Alt+→ does not move it.
		card := chromedp.CSS(`.card[data-task-id="task-1"]`)
		bob.do(10*time.Second,
			chromedp.Focus(card),
			chromedp.KeyEvent(" "),
			chromedp.KeyEvent(kb.ArrowRight),
			chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierAlt)),
		)
		var grabbed bool
		bob.eval(`!!document.querySelector('.card.grabbed') || `+cardIn("list-progress", "task-1"), &grabbed)
		if grabbed {
			t.Fatal("a viewer picked up or moved a card")
		}
		// The task opens read-only.
		bob.do(10*time.Second, chromedp.Click(card), chromedp.WaitVisible(chromedp.CSS(`#task-title`)))
		var editor struct{ ReadOnly, SaveHidden, DeleteHidden bool }
		bob.eval(`({ReadOnly: document.getElementById('task-title').readOnly,
			SaveHidden: document.querySelector('#task-form [type=submit]').hidden,
			DeleteHidden: document.getElementById('task-delete').hidden})`, &editor)
		if !editor.ReadOnly || !editor.SaveHidden || !editor.DeleteHidden {
			t.Fatalf("a viewer's task dialog: %+v, want read-only without Save and Delete", editor)
		}
		bob.do(10*time.Second, chromedp.KeyEvent(kb.Escape))
		// The members panel lists the roles; a viewer manages nothing.
		bob.do(10*time.Second, chromedp.Click(chromedp.CSS(`#members-button`)), chromedp.WaitVisible(chromedp.CSS(`#members-list [data-user-id="user-alice"]`)))
		var panel struct {
			Form    bool
			Selects int
			Roles   string
		}
		bob.eval(`({Form: !document.getElementById('member-form').hidden,
			Selects: document.querySelectorAll('#members-list select').length,
			Roles: [...document.querySelectorAll('#members-list .member')].map((m) => m.dataset.userId + ':' + m.dataset.role).join(',')})`, &panel)
		if panel.Form || panel.Selects != 0 || panel.Roles != "user-alice:owner,user-bob:viewer" {
			t.Fatalf("a viewer's members panel: %+v, want the roles and no controls", panel)
		}
		bob.do(10*time.Second, chromedp.Click(chromedp.CSS(`#members-dialog [data-close]`)))
		task, err := s.store.Task(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1")
		if err != nil || task.ListID != "list-todo" || task.Version != 1 {
			t.Fatalf("task-1 after the viewer's tries: %+v, %v; want it unchanged", task, err)
		}
	})

	t.Run("owner promotes", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		alice.do(10*time.Second, chromedp.Click(chromedp.CSS(`#members-button`)),
			chromedp.WaitVisible(chromedp.CSS(`#members-list select[data-member="user-bob"]`)))
		alice.eval(`(() => { const s = document.querySelector('#members-list select[data-member="user-bob"]');
			s.value = 'editor'; s.dispatchEvent(new Event('change')); return true; })()`, nil)
		// Bob's open page follows at once: editing is back.
		bob.waitFor("the read-only note gone", `document.getElementById('read-only-note').hidden`, 10*time.Second)
		bob.waitFor("Add a task", visible(`.column[data-list-id="list-todo"] .add-task`), 10*time.Second)
		alice.waitFor("Bob an editor in the panel", `!!document.querySelector('#members-list [data-user-id="user-bob"][data-role="editor"]')`, 10*time.Second)
		alice.do(10*time.Second, chromedp.Click(chromedp.CSS(`#members-dialog [data-close]`)))
	})

	t.Run("leave", func(t *testing.T) {
		alice, bob := alice.in(t), bob.in(t)
		bob.do(10*time.Second,
			chromedp.Click(chromedp.CSS(`#members-button`)),
			chromedp.WaitVisible(chromedp.CSS(`#leave-board`)),
			chromedp.Click(chromedp.CSS(`#leave-board`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm-ok`)),
			chromedp.Click(chromedp.CSS(`#confirm-ok`)),
		)
		bob.waitFor("no boards", visible("#no-boards"), 10*time.Second)
		alice.waitFor("Bob gone from the board", `!document.querySelector('#presence [data-user-id="user-bob"]')`, 10*time.Second)
		if ok, err := s.store.IsMember(ctx, demo.Bob, demo.Board); err != nil || ok {
			t.Fatalf("Bob a member after leaving: %v, %v", ok, err)
		}
	})
}
