package main

import (
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:3000": true, "LOCALHOST:3000": true, "app.localhost:3000": true,
		"127.0.0.1:3000": true, "127.1.2.3": true, "[::1]:3000": true, "::1": true, "localhost.:3000": true,
		"evil.example.com:3000": false, "10.0.0.1:3000": false, "localhost.evil.com": false, "": false,
		"[::ffff:127.0.0.1]:3000": true, "0.0.0.0:3000": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestDefaultAddr checks that the server listens on loopback by default.
func TestDefaultAddr(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if c := serveFlags(fs); c.addr != "127.0.0.1:3000" {
		t.Errorf("default --addr %q, want 127.0.0.1:3000", c.addr)
	}
}

// TestDNSRebinding reproduces a page whose name was rebound to 127.0.0.1:
// a loopback server without --public-url answers 421 to its Host before
// any other check, /health and /ready excepted; with --public-url the
// Origin rules apply instead.
func TestDNSRebinding(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, dir, addr, nil, "--addr", addr, "--db", "guard.db")
	port := addr[strings.LastIndex(addr, ":"):]
	do := func(method, host, path, body string) (int, string) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s with Host %s: %v", method, path, host, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, host, path, body string
		want                     int
	}{
		{"POST", "rebound.example.com" + port, "/sessions/demo", `{"userId":"user-alice"}`, http.StatusMisdirectedRequest},
		{"GET", "rebound.example.com" + port, "/boards/board-1/tasks", "", http.StatusMisdirectedRequest},
		{"GET", "rebound.example.com" + port, "/", "", http.StatusMisdirectedRequest},
		{"GET", "rebound.example.com" + port, "/nope", "", http.StatusMisdirectedRequest},
		{"GET", "rebound.example.com" + port, "/health", "", http.StatusOK},
		{"GET", "rebound.example.com" + port, "/ready", "", http.StatusOK},
		{"POST", "localhost" + port, "/sessions/demo", `{"userId":"user-alice"}`, http.StatusCreated},
		{"GET", "127.0.0.1" + port, "/boards/board-1/tasks", "", http.StatusUnauthorized},
	} {
		if got, body := do(tc.method, tc.host, tc.path, tc.body); got != tc.want {
			t.Errorf("%s %s with Host %s: got %d %s, want %d", tc.method, tc.path, tc.host, got, body, tc.want)
		}
	}

	// With a public URL, the server is meant to be reached by name.
	addr2 := freeAddr(t)
	s2 := startServer(t, dir, addr2, nil, "--addr", addr2, "--db", "guard2.db", "--public-url", "https://board.example.com")
	req, _ := http.NewRequest("GET", s2.url+"/boards", nil)
	req.Host = "board.example.com"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /boards by name with --public-url: got %d, want 401", res.StatusCode)
	}
}
