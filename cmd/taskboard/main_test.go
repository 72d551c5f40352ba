package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taskboard/taskboard/internal/dbtest"
)

// binary is the taskboard command, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "taskboard-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "taskboard")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "go build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a goroutine-safe buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a running taskboard process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	lines  chan string // stdout, line by line
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startServer runs the binary with args and extra environment variables in
// dir and waits until GET /health answers at addr.
func startServer(t *testing.T, dir, addr string, env []string, args ...string) *server {
	t.Helper()
	s := &server{t: t, url: "http://" + addr, lines: make(chan string, 100), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(binary, args...)
	s.cmd.Dir = dir
	s.cmd.Env = append(cleanEnv(), env...)
	s.cmd.Stderr = s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.stdout.Write([]byte(sc.Text() + "\n"))
			select {
			case s.lines <- sc.Text():
			default:
			}
		}
		close(s.lines)
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("taskboard stdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
		}
	})
	s.waitHealthy()
	return s
}

// cleanEnv is the test's environment without TASKBOARD_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TASKBOARD_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitHealthy polls GET /health until it answers 200, for at most 30 s.
func (s *server) waitHealthy() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := http.Get(s.url + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.exited:
			s.t.Fatalf("taskboard exited before it was healthy: %v\nstderr:\n%s", s.err, s.stderr)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("GET %s/health: not healthy after 30 s (last error %v)\nstderr:\n%s", s.url, err, s.stderr)
		}
	}
}

var tokenLine = regexp.MustCompile(`^\s+(user-alice|user-bob)\s+(tb_[0-9a-f]{64})$`)

// demoTokens reads the demo tokens the server printed, up to the line that
// gives the page's address.
func (s *server) demoTokens() map[string]string {
	s.t.Helper()
	tokens := map[string]string{}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("stdout ended before the demo tokens: %q", s.stdout)
			}
			if m := tokenLine.FindStringSubmatch(line); m != nil {
				tokens[m[1]] = m[2]
			}
			if strings.HasPrefix(line, "Open ") {
				if len(tokens) != 2 {
					s.t.Fatalf("got demo tokens %v in %q, want Alice's and Bob's", tokens, s.stdout)
				}
				return tokens
			}
		case <-timeout:
			s.t.Fatalf("no demo tokens after 30 s: stdout %q", s.stdout)
		}
	}
}

// get sends a GET with a bearer token and returns the status and body.
func (s *server) get(token, path string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// terminate sends SIGTERM and waits for the exit, for at most within.
func (s *server) terminate(within time.Duration) (time.Duration, error) {
	s.t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.exited:
		return time.Since(start), s.err
	case <-time.After(within):
		s.t.Fatalf("taskboard did not exit within %v of SIGTERM\nstderr:\n%s", within, s.stderr)
		return 0, nil
	}
}

// cli runs the binary to completion and returns its stdout, stderr and exit
// code.
func cli(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("taskboard %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), 0
}

// TestBinary runs the command on a temporary SQLite database: demo tokens,
// token and user management against the live server, metrics, and a
// graceful SIGTERM with an SSE stream open.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "board.db")
	addr := freeAddr(t)
	s := startServer(t, dir, addr, nil, "serve", "--addr", addr, "--db", db, "--admin-token", "binary-admin-token-0123", "--shutdown-timeout", "5s")
	tokens := s.demoTokens()
	if !strings.Contains(s.stdout.String(), "http://"+addr+"/") {
		t.Errorf("stdout: got %q, want the page's address http://%s/", s.stdout, addr)
	}

	status, body := s.get(tokens["user-alice"], "/boards/board-1/tasks")
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.Data) != 4 {
		t.Fatalf("GET /boards/board-1/tasks with Alice's demo token: got %d %s, want 200 and 4 tasks", status, body)
	}
	if status, _ := s.get(tokens["user-bob"], "/boards/board-1"); status != http.StatusOK {
		t.Errorf("GET /boards/board-1 with Bob's demo token: got %d, want 200", status)
	}
	if status, _ := s.get("", "/boards/board-1/tasks"); status != http.StatusUnauthorized {
		t.Errorf("GET /boards/board-1/tasks without a token: got %d, want 401", status)
	}

	// token create and revoke, against the running server's database.
	out, errOut, code := cli(t, nil, "token", "create", "--db", db, "--user", "user-alice")
	token := strings.TrimSuffix(out, "\n")
	if code != 0 || !regexp.MustCompile(`^tb_[0-9a-f]{64}$`).MatchString(token) {
		t.Fatalf("token create: got exit %d, stdout %q, stderr %q; want one token alone on a line", code, out, errOut)
	}
	if status, body := s.get(token, "/users/me"); status != http.StatusOK || !strings.Contains(body, `"id":"user-alice"`) {
		t.Fatalf("GET /users/me with the new token: got %d %s, want 200 Alice", status, body)
	}
	out, errOut, code = cli(t, nil, "token", "revoke", "--db", db, token[:11])
	if code != 0 || !strings.Contains(out, "revoked token") {
		t.Fatalf("token revoke: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A revocation by another process takes effect within the store's
	// authentication cache time (2 s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _ := s.get(token, "/users/me")
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /users/me with the revoked token: still %d 10 s after the revocation, want 401", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, _ := s.get(tokens["user-alice"], "/users/me"); status != http.StatusOK {
		t.Errorf("GET /users/me with Alice's other token: got %d, want 200", status)
	}
	if _, _, code := cli(t, nil, "token", "revoke", "--db", db, token[:11]); code != 1 {
		t.Errorf("token revoke of a revoked token: got exit %d, want 1", code)
	}
	if out, errOut, code := cli(t, nil, "token", "create", "--db", db, "--user", "nobody"); code != 1 || out != "" || !strings.Contains(errOut, "not found") {
		t.Errorf("token create for an unknown user: got exit %d, stdout %q, stderr %q; want 1 and an error", code, out, errOut)
	}

	// A read token that expires: it reads, and its writes are 403.
	out, errOut, code = cli(t, nil, "token", "create", "--db", db, "--user", "user-alice", "--name", "ci", "--scope", "read", "--expires", "720h")
	readToken := strings.TrimSuffix(out, "\n")
	if code != 0 || !regexp.MustCompile(`^tb_[0-9a-f]{64}$`).MatchString(readToken) {
		t.Fatalf("token create --scope read: got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if status, _ := s.get(readToken, "/boards/board-1/tasks"); status != http.StatusOK {
		t.Errorf("GET with the read token: got %d, want 200", status)
	}
	if status, body := s.do(t, readToken, http.MethodPost, "/boards", `{"name":"x"}`); status != http.StatusForbidden {
		t.Errorf("POST /boards with the read token: got %d %s, want 403", status, body)
	}
	if status, body := s.do(t, readToken, http.MethodGet, "/tokens", ""); status != http.StatusOK ||
		!strings.Contains(body, `"name":"ci"`) || !strings.Contains(body, `"scope":"read"`) || !strings.Contains(body, `"prefix":"`+readToken[:11]+`"`) {
		t.Errorf("GET /tokens with the read token: got %d %s, want it listed as read, named ci", status, body)
	}

	// user create prints the new user's id.
	out, errOut, code = cli(t, nil, "user", "create", "--db", db, "--name", "Carol", "--email", "carol@example.com")
	carol := strings.TrimSuffix(out, "\n")
	if code != 0 || carol == "" || strings.ContainsAny(carol, " \n") {
		t.Fatalf("user create: got exit %d, stdout %q, stderr %q; want the id alone", code, out, errOut)
	}
	out, _, _ = cli(t, nil, "token", "create", "--db", db, "--user", carol)
	if status, body := s.get(strings.TrimSpace(out), "/users/me"); status != http.StatusOK || !strings.Contains(body, `"id":"`+carol+`"`) {
		t.Errorf("GET /users/me as the new user: got %d %s, want Carol", status, body)
	}
	if status, _ := s.get(strings.TrimSpace(out), "/boards/board-1"); status != http.StatusNotFound {
		t.Errorf("GET /boards/board-1 as the new user: got %d, want 404", status)
	}
	if _, _, code := cli(t, nil, "user", "create", "--db", db, "--name", "Carol", "--email", "carol@example.com"); code != 1 {
		t.Errorf("user create with a taken email: got exit %d, want 1", code)
	}
	if _, _, code := cli(t, nil, "user", "create", "--db", db, "--name", "", "--email", "x"); code != 1 {
		t.Errorf("user create without a name: got exit %d, want 1", code)
	}

	// Metrics need the admin token.
	if status, _ := s.get("", "/metrics"); status != http.StatusUnauthorized {
		t.Errorf("GET /metrics without the admin token: got %d, want 401", status)
	}
	if status, body := s.get("binary-admin-token-0123", "/metrics"); status != http.StatusOK || !strings.Contains(body, `route="GET /boards/{boardId}/tasks"`) {
		t.Errorf("GET /metrics: got %d, want 200 with the request counter", status)
	} else if !strings.Contains(body, `taskboard_db_query_duration_seconds_count{operation="SELECT"}`) {
		t.Errorf("GET /metrics: no database query timing in\n%s", body)
	}

	// SIGTERM with an SSE stream open: the process ends the stream and
	// exits 0 within the shutdown timeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/boards/board-1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tokens["user-bob"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	streamEnded := make(chan error, 1)
	if res.StatusCode == http.StatusOK {
		br := bufio.NewReader(res.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("SSE stream: %v before the connected event", err)
			}
			if strings.HasPrefix(line, "data:") && strings.Contains(line, `"connected"`) {
				break
			}
		}
		go func() {
			_, err := io.Copy(io.Discard, br)
			streamEnded <- err
		}()
	} else {
		t.Errorf("GET /boards/board-1/events: got %d, want 200", res.StatusCode)
		close(streamEnded)
	}
	took, err := s.terminate(5*time.Second + 3*time.Second)
	if err != nil {
		t.Errorf("exit after SIGTERM: got %v, want status 0\nstderr:\n%s", err, s.stderr)
	}
	if took > 5*time.Second+time.Second {
		t.Errorf("exit took %v, want within the 5 s shutdown timeout", took)
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Errorf("the SSE stream was still open after the process exited")
	}
	if !strings.Contains(s.stderr.String(), "stopped") {
		t.Errorf("stderr: got %q, want the shutdown logged", s.stderr)
	}

	// A restart keeps the data and does not seed again.
	addr = freeAddr(t)
	s = startServer(t, dir, addr, nil, "--addr", addr, "--db", db)
	if status, _ := s.get(tokens["user-alice"], "/users/me"); status != http.StatusOK {
		t.Errorf("GET /users/me with Alice's demo token after a restart: got %d, want 200", status)
	}
	if _, err := s.terminate(15 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if strings.Contains(s.stdout.String(), "tb_") {
		t.Errorf("a restart printed tokens again: %q", s.stdout)
	}
}

// TestEnvironment checks that every flag can come from a TASKBOARD_*
// variable, and that flags win.
func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dir, addr, []string{"TASKBOARD_ADDR=" + addr, "TASKBOARD_DEMO=false", "TASKBOARD_ADMIN_TOKEN=from-env-admin-token-0123"})
	// No arguments: ./taskboard.db in the working directory, no demo data.
	if _, err := os.Stat(filepath.Join(dir, "taskboard.db")); err != nil {
		t.Errorf("default database: %v", err)
	}
	if status, _ := s.get("from-env-admin-token-0123", "/metrics"); status != http.StatusOK {
		t.Errorf("GET /metrics with TASKBOARD_ADMIN_TOKEN: got %d, want 200", status)
	}
	req, _ := http.NewRequest("POST", s.url+"/sessions/demo", strings.NewReader(`{"userId":"user-alice"}`))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /sessions/demo with TASKBOARD_DEMO=false: got %v, %v, want 404", res.StatusCode, err)
	} else {
		res.Body.Close()
	}
	if _, err := s.terminate(15 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if strings.Contains(s.stdout.String(), "tb_") {
		t.Errorf("TASKBOARD_DEMO=false printed demo tokens: %q", s.stdout)
	}

	// A flag wins over its variable.
	addr2 := freeAddr(t)
	s = startServer(t, dir, addr2, []string{"TASKBOARD_ADDR=127.0.0.1:1", "TASKBOARD_DB=" + filepath.Join(dir, "env.db")}, "--addr", addr2)
	if _, err := os.Stat(filepath.Join(dir, "env.db")); err != nil {
		t.Errorf("TASKBOARD_DB: %v", err)
	}
	if _, err := s.terminate(15 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}

	// A bad value is an error naming the variable.
	if _, errOut, code := cli(t, []string{"TASKBOARD_MAX_BODY=lots"}, "serve", "--db", filepath.Join(dir, "x.db")); code != 1 || !strings.Contains(errOut, "TASKBOARD_MAX_BODY") {
		t.Errorf("TASKBOARD_MAX_BODY=lots: got exit %d, stderr %q, want 1 naming the variable", code, errOut)
	}
}

// TestDatabasePath checks that a SQLite path is taken literally, even with
// characters that are syntax in a file: URI.
func TestDatabasePath(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "a#b%20c.db")
	out, errOut, code := cli(t, nil, "user", "create", "--db", db, "--name", "Dee", "--email", "dee@example.com")
	if code != 0 {
		t.Fatalf("user create: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("the database is not at %s: %v", db, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "a#b%20c.db") {
			t.Errorf("stray file %s beside the database", e.Name())
		}
	}
}

// TestPostgresNoDemo checks that on PostgreSQL the demo is off by default.
func TestPostgresNoDemo(t *testing.T) {
	dsn := dbtest.Postgres(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dir, addr, nil, "--addr", addr, "--db", dsn)
	req, _ := http.NewRequest("POST", s.url+"/sessions/demo", strings.NewReader(`{"userId":"user-alice"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /sessions/demo on PostgreSQL: got %d, want 404", res.StatusCode)
	}
	if status, _ := s.get("", "/ready"); status != http.StatusOK {
		t.Errorf("GET /ready: got %d, want 200", status)
	}
	out, errOut, code := cli(t, nil, "user", "create", "--db", dsn, "--name", "Erin", "--email", "erin@example.com")
	if code != 0 {
		t.Fatalf("user create: exit %d, %q %q", code, out, errOut)
	}
	tok, _, _ := cli(t, nil, "token", "create", "--db", dsn, "--user", strings.TrimSpace(out))
	if status, body := s.get(strings.TrimSpace(tok), "/users/me"); status != http.StatusOK || !strings.Contains(body, "Erin") {
		t.Errorf("GET /users/me: got %d %s, want Erin", status, body)
	}
	if _, err := s.terminate(15 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if strings.Contains(s.stdout.String(), "tb_") {
		t.Errorf("PostgreSQL without --demo printed demo tokens: %q", s.stdout)
	}
}

// TestRun checks the command line's own errors, in process.
func TestRun(t *testing.T) {
	db := filepath.Join(t.TempDir(), "run.db")
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for success
	}{
		{"help", []string{"help"}, ""},
		{"flag help", []string{"serve", "-h"}, flag.ErrHelp.Error()},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"token without subcommand", []string{"token"}, "usage: taskboard token"},
		{"unknown token subcommand", []string{"token", "list"}, `unknown command "token list"`},
		{"token create without user", []string{"token", "create", "--db", db}, "--user is required"},
		{"token create with a bad scope", []string{"token", "create", "--db", db, "--user", "user-alice", "--scope", "admin"}, "--scope must be read or write"},
		{"token create with a negative expiry", []string{"token", "create", "--db", db, "--user", "user-alice", "--expires", "-1h"}, "--expires must not be negative"},
		{"token revoke without token", []string{"token", "revoke", "--db", db}, "give one token prefix or id"},
		{"serve with arguments", []string{"serve", "--db", db, "extra"}, "unexpected arguments"},
		{"bad log level", []string{"serve", "--db", db, "--log-level", "loud"}, "--log-level"},
		{"short admin token", []string{"serve", "--db", db, "--admin-token", "0123456789abcde"}, "--admin-token must be at least 16 characters"},
		{"bad sqlite sync", []string{"serve", "--db", db, "--sqlite-sync", "sometimes"}, "--sqlite-sync"},
		{"unknown flag", []string{"serve", "--colour", "blue"}, "flag provided but not defined"},
		{"bad address", []string{"serve", "--db", db, "--addr", "127.0.0.1:99999"}, "listen on"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("run(%q): got %v, want success", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("run(%q): got %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

// TestServeInProcess runs serve in process and stops it by cancelling its
// context, as a signal does.
func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", addr, "--db", filepath.Join(dir, "tb.db"), "--public-url", "https://board.example.com",
			"--allowed-origins", "https://a.example.com, https://b.example.com", "--log-level", "warn"}, stdout, stderr)
	}()
	s := &server{t: t, url: "http://" + addr, exited: make(chan struct{}), stderr: stderr}
	go func() {
		s.err = <-done
		close(s.exited)
	}()
	s.waitHealthy()
	// The demo tokens name the public URL.
	if out := stdout.String(); !strings.Contains(out, "https://board.example.com/") || !strings.Contains(out, "user-alice") {
		t.Errorf("stdout: got %q, want demo tokens and the public URL", out)
	}
	// Allowed origins get CORS headers.
	req, _ := http.NewRequest("GET", s.url+"/health", nil)
	req.Header.Set("Origin", "https://b.example.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://b.example.com" {
		t.Errorf("Access-Control-Allow-Origin: got %q, want https://b.example.com", got)
	}
	cancel()
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return within 15 s of the cancel")
	}
	if s.err != nil {
		t.Errorf("run: got %v, want nil after a cancel", s.err)
	}
	if strings.Contains(stderr.String(), "level=INFO") {
		t.Errorf("--log-level warn logged at info: %q", stderr)
	}
}

func ptr[T any](v T) *T { return &v }
