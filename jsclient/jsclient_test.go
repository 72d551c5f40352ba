package jsclient_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/jsclient"
)

// EnvNode names the environment variable that points the tests at node.
const EnvNode = "TASKBOARD_TEST_NODE"

// The package's version is package.json's, and the path it is served under
// carries its major version.
func TestVersion(t *testing.T) {
	body, err := jsclient.File("package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Type    string `json:"type"`
		Main    string `json:"main"`
		Types   string `json:"types"`
	}
	if err := json.Unmarshal(body, &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	if pkg.Version != jsclient.Version {
		t.Errorf("package.json version %q, Version %q", pkg.Version, jsclient.Version)
	}
	major, _, _ := strings.Cut(pkg.Version, ".")
	if want := "/client/v" + major + "/"; jsclient.Prefix != want {
		t.Errorf("Prefix %q, want %q for version %s", jsclient.Prefix, want, pkg.Version)
	}
	if pkg.Name != "@taskboard/client" || pkg.Type != "module" || pkg.Main != "taskboard.js" || pkg.Types != "taskboard.d.ts" {
		t.Errorf("package.json: %+v", pkg)
	}
	js, _ := jsclient.File("taskboard.js")
	if !strings.Contains(string(js), "export const VERSION = '"+jsclient.Version+"';") {
		t.Errorf("taskboard.js does not export VERSION %s", jsclient.Version)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(jsclient.Handler())
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/client/v1/taskboard.js", 200, "text/javascript; charset=utf-8", "export class TaskboardClient"},
		{"GET", "/client/v1/taskboard.d.ts", 200, "application/typescript; charset=utf-8", "export declare class TaskboardClient"},
		{"HEAD", "/client/v1/taskboard.js", 200, "text/javascript; charset=utf-8", ""},
		{"GET", "/client/v1/package.json", 404, "", ""},
		{"GET", "/client/v2/taskboard.js", 404, "", ""},
		{"POST", "/client/v1/taskboard.js", 405, "", ""},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, res.StatusCode, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if ct := res.Header.Get("Content-Type"); ct != c.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", c.method, c.path, ct, c.contentType)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s %s: Cache-Control %q", c.method, c.path, cc)
		}
		if !strings.Contains(string(body), c.contains) {
			t.Errorf("%s %s: body does not contain %q", c.method, c.path, c.contains)
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Errorf("%s %s: no ETag", c.method, c.path)
			continue
		}
		req, _ = http.NewRequest("GET", srv.URL+c.path, nil)
		req.Header.Set("If-None-Match", etag)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: status %d, want 304", c.path, res.StatusCode)
		}
	}
}

// server is a taskboard server over a demo database that node tests can
// restart on the same database and address, stop and start, and whose
// logs they can trim, through a control server of its own (test only).
type server struct {
	t         *testing.T
	dsn       string
	storeOpts taskboard.Options

	mu    sync.Mutex
	store *taskboard.Board
	api   *httpapi.Handler
	srv   *httptest.Server
	addr  string
}

const adminToken = "admin-secret-for-node-tests"

func newServer(t *testing.T, dsn string) *server {
	s := &server{t: t, dsn: dsn}
	// The logs keep 5 events, but only the control route trims them.
	s.storeOpts = taskboard.Options{MaintenanceInterval: -1, WebhookAllowPrivate: true, HistoryEvents: 5, HistoryAge: time.Nanosecond}
	if err := s.open(); err != nil {
		t.Fatal(err)
	}
	if err := s.serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stop()
	})
	return s
}

func (s *server) open() error {
	store, err := taskboard.Open(context.Background(), s.dsn, &s.storeOpts)
	if err != nil {
		return err
	}
	s.store = store
	return nil
}

func (s *server) serve(addr string) error {
	s.api = httpapi.New(s.store, &httpapi.Options{SessionRate: -1, WriteRate: -1, AdminToken: adminToken,
		HeartbeatInterval: time.Second, PresenceGrace: 300 * time.Millisecond, Demo: true})
	var ln net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port is released asynchronously
	}
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /client/", jsclient.Handler())
	mux.Handle("/", s.api)
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	s.srv.Start()
	s.addr = ln.Addr().String()
	return nil
}

// stop closes the server and the store; the caller holds mu.
func (s *server) stop() {
	if s.api == nil {
		return
	}
	s.api.Close()
	s.srv.Close()
	s.store.Close()
	s.api = nil
}

// control serves the test-only routes: POST /restart, /stop, /start and
// /trim (the store's maintenance, which trims every board's log to its 5
// newest events).
func (s *server) control() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusInternalServerError) }
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stop()
		if err := s.open(); err != nil {
			fail(w, err)
			return
		}
		if err := s.serve(s.addr); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stop()
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.api != nil {
			return
		}
		if err := s.open(); err != nil {
			fail(w, err)
			return
		}
		if err := s.serve(s.addr); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /trim", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.store.Maintain(r.Context()); err != nil {
			fail(w, err)
		}
	})
	return mux
}

// nodeCommand returns node and the flags that give it a WebSocket global
// when it has one only behind a flag (Node 20 and 21).
func nodeCommand(t *testing.T) (string, []string) {
	node := os.Getenv(EnvNode)
	if node == "" {
		t.Skipf("node tests skipped: set %s to node (e.g. $(command -v node)), version 18 or later", EnvNode)
	}
	check := "process.exit(typeof WebSocket === 'function' ? 0 : 1)"
	if exec.Command(node, "-e", check).Run() == nil {
		return node, nil
	}
	if exec.Command(node, "--experimental-websocket", "-e", check).Run() == nil {
		return node, []string{"--experimental-websocket"}
	}
	return node, nil // the WebSocket tests skip
}

// TestNodeClient runs the JavaScript client's tests (test/*.test.js, with
// node's test runner) against a real server, on every engine.
func TestNodeClient(t *testing.T) {
	node, flags := nodeCommand(t)
	tests, err := filepath.Glob("test/*.test.js")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s := newServer(t, dsn)
		ctx := context.Background()
		if ok, err := demo.Seed(ctx, s.store); err != nil || !ok {
			t.Fatalf("demo.Seed: %v, %v", ok, err)
		}
		creds := auth.New(s.store, nil)
		token := func(userID string) string {
			_, tok, err := creds.CreateToken(ctx, userID)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		carol, err := s.store.CreateUser(ctx, taskboard.UserCreate{Name: "Carol", Email: "carol@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		addr := s.addr
		s.mu.Unlock()
		ctl := httptest.NewServer(s.control())
		defer ctl.Close()

		args := append(append([]string{}, flags...), "--test", "--test-concurrency=1", "--test-reporter=spec")
		cmd := exec.Command(node, append(args, tests...)...)
		cmd.Env = append(os.Environ(),
			"TASKBOARD_URL=http://"+addr+"/",
			"TASKBOARD_CONTROL="+ctl.URL+"/",
			"TASKBOARD_ADMIN="+adminToken,
			"TASKBOARD_ALICE="+token(demo.Alice),
			"TASKBOARD_BOB="+token(demo.Bob),
			"TASKBOARD_CAROL="+token(carol.ID),
			"TASKBOARD_CAROL_ID="+carol.ID,
		)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node --test: %v\n%s", err, out)
		}
		t.Logf("node --test:\n%s", out)
	})
}
