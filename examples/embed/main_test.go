package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// waitFor bounds every wait of the tests.
const waitFor = 20 * time.Second

// service is the example's HTTP side over a fresh store.
type service struct {
	t     *testing.T
	store *taskboard.Board
	srv   *httptest.Server
}

func newService(t *testing.T, dsn string) *service {
	t.Helper()
	store, err := taskboard.Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	api := httpapi.New(store, &httpapi.Options{
		Authenticator:  httpapi.AuthenticatorFunc(proxyUser),
		ProvisionUsers: true,
	})
	srv := httptest.NewServer(newMux(api))
	t.Cleanup(func() {
		api.Close()
		srv.Close()
		store.Close()
	})
	return &service{t: t, store: store, srv: srv}
}

// do sends a request as user (no user: without the proxy's headers) and
// decodes a JSON answer into out.
func (s *service) do(user, method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Forwarded-User", user)
		req.Header.Set("X-Forwarded-Email", user+"@example.com")
		req.Header.Set("X-Forwarded-Preferred-Username", strings.ToUpper(user[:1])+user[1:])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			s.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func TestServiceUsersAndPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s := newService(t, dsn)
		if code := s.do("", "GET", "/board/boards", nil, nil); code != http.StatusUnauthorized {
			t.Fatalf("GET /board/boards without the proxy's headers: got %d, want 401", code)
		}
		var me taskboard.User
		if code := s.do("ann", "GET", "/board/users/me", nil, &me); code != http.StatusOK || me.ID != "ann" || me.Name != "Ann" || me.Email != "ann@example.com" {
			t.Fatalf("GET /board/users/me as ann: got %d %+v, want 200 with the proxy's user", code, me)
		}
		var board taskboard.BoardInfo
		if code := s.do("ann", "POST", "/board/boards", map[string]any{"name": "Team"}, &board); code != http.StatusCreated {
			t.Fatalf("POST /board/boards as a new user: got %d, want 201", code)
		}
		if code := s.do("ann", "POST", "/board/boards/"+board.ID+"/members", map[string]any{"email": "bob@example.com"}, nil); code != http.StatusNotFound {
			t.Fatalf("adding a user who never came by: got %d, want 404", code)
		}
		// Bob's first request creates him; then Ann can add him by email.
		s.do("bob", "GET", "/board/users/me", nil, nil)
		if code := s.do("ann", "POST", "/board/boards/"+board.ID+"/members", map[string]any{"email": "bob@example.com"}, nil); code != http.StatusCreated {
			t.Fatalf("adding bob by email: got %d, want 201", code)
		}
		if u, err := s.store.UserByEmail(t.Context(), "bob@example.com"); err != nil || u.ID != "bob" {
			t.Fatalf("UserByEmail(bob): got %+v, %v", u, err)
		}

		// The page and its files are under /board/ too.
		for path, want := range map[string]string{"/board/": "text/html", "/board/static/app.js": "javascript"} {
			resp, err := http.Get(s.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), want) {
				t.Fatalf("GET %s: got %d %q, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), want)
			}
		}
		// The service keeps its own routes.
		resp, err := http.Get(s.srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: got %d", resp.StatusCode)
		}
	})
}

// chat is a chat webhook that records what it receives.
type chat struct {
	mu   sync.Mutex
	got  []message
	more chan struct{}
}

func (c *chat) post(_ context.Context, m message) error {
	c.mu.Lock()
	c.got = append(c.got, m)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
	return nil
}

// waitSeq waits until the chat has a message with seq.
func (c *chat) waitSeq(t *testing.T, seq int64) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		c.mu.Lock()
		n := len(c.got)
		last := int64(0)
		if n > 0 {
			last = c.got[n-1].Seq
		}
		c.mu.Unlock()
		if last >= seq {
			return
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("the chat has %d messages up to seq %d; want seq %d", n, last, seq)
		}
	}
}

func TestForwarderResumesAfterRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s := newService(t, dsn)
		ctx := t.Context()
		var board taskboard.BoardInfo
		s.do("ann", "POST", "/board/boards", map[string]any{"name": "Team"}, &board)
		var list taskboard.List
		s.do("ann", "POST", "/board/boards/"+board.ID+"/lists", map[string]any{"name": "To Do"}, &list)
		if _, err := s.store.ProvisionUser(ctx, chatBot); err != nil {
			t.Fatal(err)
		}
		if code := s.do("ann", "POST", "/board/boards/"+board.ID+"/members", map[string]any{"userId": chatBot.ID}, nil); code != http.StatusCreated {
			t.Fatalf("adding the chat bot: got %d", code)
		}
		addTask := func(title string) taskboard.Task {
			var task taskboard.Task
			if code := s.do("ann", "POST", "/board/tasks", map[string]any{"listId": list.ID, "title": title}, &task); code != http.StatusCreated {
				t.Fatalf("POST /board/tasks: got %d", code)
			}
			return task
		}
		addTask("Before the forwarder started")

		c := &chat{more: make(chan struct{}, 1)}
		cursor := filepath.Join(t.TempDir(), "chat.cursor")
		start := func() (stop func()) {
			f := &forwarder{store: s.store, actor: taskboard.Actor{UserID: chatBot.ID, ReadOnly: true},
				board: board.ID, cursor: cursor, post: c.post, log: slog.New(slog.DiscardHandler)}
			fctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- f.run(fctx) }()
			return func() {
				cancel()
				select {
				case err := <-done:
					if err != nil && err != context.Canceled {
						t.Errorf("forwarder: %v", err)
					}
				case <-time.After(waitFor):
					t.Fatal("the forwarder did not stop")
				}
			}
		}

		// First run: everything in the log so far, then live changes.
		stop := start()
		c.waitSeq(t, 3) // list_created, member_added, task_created
		addTask("While it runs")
		c.waitSeq(t, 4)
		stop()

		// Changes while the forwarder is down reach the chat after the
		// restart, once each.
		addTask("While it is down")
		addTask("Still down")
		stop = start()
		addTask("After the restart")
		c.waitSeq(t, 7)
		stop()

		c.mu.Lock()
		defer c.mu.Unlock()
		var seqs []int64
		for _, m := range c.got {
			seqs = append(seqs, m.Seq)
		}
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Fatalf("the chat got seqs %v; want 1..7, each once, in order", seqs)
			}
		}
		if len(seqs) != 7 || c.got[6].Type != taskboard.EventTaskCreated || !strings.Contains(c.got[6].Text, "After the restart") {
			t.Fatalf("the chat got %+v; want 7 messages ending with the last task", c.got)
		}
	})
}

// TestRun runs the program twice on one database, as its users would: the
// first time to make a board and add the chat bot, the second time with
// the board followed, whose whole history then reaches the chat.
func TestRun(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "embed.db")
	var (
		mu   sync.Mutex
		seqs []int64
	)
	got := make(chan struct{}, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		seqs = append(seqs, m.Seq)
		mu.Unlock()
		select {
		case got <- struct{}{}:
		default:
		}
	}))
	defer hook.Close()

	start := func(cfg config) (base string, stop func()) {
		ctx, cancel := context.WithCancel(t.Context())
		addr := make(chan string, 1)
		cfg.addr, cfg.dsn = "127.0.0.1:0", dsn
		cfg.listening = func(a string) { addr <- a }
		done := make(chan error, 1)
		go func() { done <- run(ctx, cfg) }()
		select {
		case a := <-addr:
			base = "http://" + a
		case err := <-done:
			t.Fatalf("run: %v", err)
		case <-time.After(waitFor):
			t.Fatal("run did not start listening")
		}
		return base, func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run: %v", err)
				}
			case <-time.After(waitFor):
				t.Fatal("run did not stop")
			}
		}
	}
	post := func(base, path string, body any, out any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("X-Forwarded-User", "ann")
		req.Header.Set("X-Forwarded-Email", "ann@example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: got %d, want 201", path, resp.StatusCode)
		}
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
	}

	base, stop := start(config{})
	var board taskboard.BoardInfo
	post(base, "/board/boards", map[string]any{"name": "Team"}, &board)
	var list taskboard.List
	post(base, "/board/boards/"+board.ID+"/lists", map[string]any{"name": "To Do"}, &list)
	post(base, "/board/boards/"+board.ID+"/members", map[string]any{"userId": chatBot.ID}, nil)
	post(base, "/board/tasks", map[string]any{"listId": list.ID, "title": "First"}, nil)
	stop()

	_, stop = start(config{follow: board.ID, chat: hook.URL, cursor: filepath.Join(t.TempDir(), "cursor")})
	defer stop()
	deadline := time.After(waitFor)
	for {
		mu.Lock()
		n := len(seqs)
		mu.Unlock()
		if n >= 3 {
			break
		}
		select {
		case <-got:
		case <-deadline:
			t.Fatalf("the chat got seqs %v; want 1..3", seqs)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) != 3 || seqs[0] != 1 || seqs[2] != 3 {
		t.Fatalf("the chat got seqs %v; want 1, 2, 3", seqs)
	}
}
