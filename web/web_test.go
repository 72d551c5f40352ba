package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/taskboard/taskboard/jsclient"
)

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	if host := header.Get("Host"); host != "" {
		req.Host = host
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<title>Taskboard</title>"},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/static/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"GET", "/static/api.js", 200, "text/javascript; charset=utf-8", "../client/v1/taskboard.js"},
		{"GET", "/static/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"GET", "/static/icon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/client/v1/taskboard.js", 200, "text/javascript; charset=utf-8", "export class TaskboardClient"},
		{"GET", "/client/v1/taskboard.d.ts", 200, "application/typescript; charset=utf-8", "TaskboardClient"},
		{"GET", "/client/v1/nope.js", 404, "text/plain; charset=utf-8", ""},
		{"GET", "/static/index.html", 404, "text/plain; charset=utf-8", ""},
		{"GET", "/static/", 404, "text/plain; charset=utf-8", ""},
		{"GET", "/static/nope.js", 404, "text/plain; charset=utf-8", ""},
		{"GET", "/boards", 404, "text/plain; charset=utf-8", ""},
		{"POST", "/", 405, "text/plain; charset=utf-8", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res := get(t, h, tc.method, tc.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("%s %s: got status %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
			}
			if got := res.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("%s %s: got Content-Type %q, want %q", tc.method, tc.path, got, tc.contentType)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("%s %s: body lacks %q", tc.method, tc.path, tc.contains)
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD %s: got a body of %d bytes", tc.path, len(body))
			}
		})
	}
}

func TestHandlerHeaders(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self' ws://example.com wss://example.com;", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("GET /: Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("GET /: got Cache-Control %q, want no-cache", got)
	}
	if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("GET /: got X-Content-Type-Options %q, want nosniff", got)
	}
	odd := get(t, h, "GET", "/", http.Header{"Host": {"x;script-src *"}})
	if csp := odd.Header.Get("Content-Security-Policy"); strings.Contains(csp, "*") || !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("GET / with a strange Host: Content-Security-Policy %q, want connect-src 'self' alone", csp)
	}
	tag := res.Header.Get("ETag")
	if tag == "" {
		t.Fatal("GET /: no ETag")
	}
	again := get(t, h, "GET", "/", http.Header{"If-None-Match": {tag}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match %s: got status %d, want 304", tag, again.StatusCode)
	}
	js := get(t, h, "GET", "/static/app.js", nil)
	if js.Header.Get("ETag") == tag || js.Header.Get("ETag") == "" {
		t.Errorf("GET /static/app.js: got ETag %q, want one of its own", js.Header.Get("ETag"))
	}
}

// staticFiles returns the embedded files by name.
func staticFiles(t *testing.T) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		files[path.Base(p)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestReferences checks that every file the page and its modules refer to is
// embedded, so that nothing is fetched from elsewhere.
func TestReferences(t *testing.T) {
	files := staticFiles(t)
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`)
	for _, m := range refs.FindAllStringSubmatch(files["index.html"], -1) {
		ref := m[1]
		// Relative, so that the page works under any path prefix.
		name, ok := strings.CutPrefix(ref, "static/")
		if !ok {
			t.Errorf("index.html refers to %q, want static/<file> (relative)", ref)
			continue
		}
		if _, ok := files[name]; !ok {
			t.Errorf("index.html refers to %q, which is not embedded", ref)
		}
	}
	imports := regexp.MustCompile(`(?m)^(?:import|export)\s[^'";]*?from\s+'([^']+)'|^import\s+'([^']+)'`)
	for name, body := range files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imports.FindAllStringSubmatch(body, -1) {
			ref := m[1] + m[2]
			if c, ok := strings.CutPrefix(ref, "../client/v1/"); ok {
				// The JavaScript client, served beside the page.
				if _, err := jsclient.File(c); err != nil {
					t.Errorf("%s imports %q, which package jsclient does not have", name, ref)
				}
				continue
			}
			mod, ok := strings.CutPrefix(ref, "./")
			if !ok {
				t.Errorf("%s imports %q: want a sibling module (./name.js) or the client (../client/v1/taskboard.js)", name, ref)
				continue
			}
			if _, ok := files[mod]; !ok {
				t.Errorf("%s imports %q, which is not embedded", name, ref)
			}
		}
	}
}

// TestPageRelativeURLs checks that no module builds a URL from the site
// root or the page's host: every request goes through the client, whose
// base api.js sets to the page's own.
func TestPageRelativeURLs(t *testing.T) {
	rooted := regexp.MustCompile(`(?:fetch|EventSource|WebSocket)\(\s*['"\x60]|location\.(?:host|origin|pathname)\b`)
	for name, body := range staticFiles(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for i, line := range strings.Split(body, "\n") {
			if rooted.MatchString(line) {
				t.Errorf("%s:%d builds a URL that does not follow the page's base: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// TestPageUnderPrefix serves the page and a stand-in for the API under
// /board/ as an embedding program would, behind http.StripPrefix, and
// follows the page's references from there.
func TestPageUnderPrefix(t *testing.T) {
	board := http.NewServeMux()
	board.Handle("GET /{$}", Handler())
	board.Handle("GET /static/", Handler())
	board.Handle("GET /client/", Handler())
	board.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"api":"`+r.URL.Path+`"}`)
	})
	mux := http.NewServeMux()
	mux.Handle("/board/", http.StripPrefix("/board", board))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	fetch := func(t *testing.T, target string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}

	pageURL, err := url.Parse(srv.URL + "/board/")
	if err != nil {
		t.Fatal(err)
	}
	res, html := fetch(t, pageURL.String())
	if res.StatusCode != http.StatusOK || !strings.Contains(html, "<title>Taskboard</title>") {
		t.Fatalf("GET /board/: got status %d, want the page", res.StatusCode)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /board/: Content-Security-Policy %q lacks script-src 'self'", csp)
	}

	// Every file the page refers to is relative to it, and served under
	// the prefix; so are the modules the scripts import.
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) == 0 {
		t.Fatal("the page refers to no files")
	}
	imports := regexp.MustCompile(`(?m)^(?:import|export)\s[^'";]*?from\s+'([^']+)'|^import\s+'([^']+)'`)
	seen := make(map[string]bool)
	var follow func(t *testing.T, base *url.URL, ref string)
	follow = func(t *testing.T, base *url.URL, ref string) {
		t.Helper()
		if strings.HasPrefix(ref, "/") || strings.Contains(ref, "://") {
			t.Errorf("%s refers to %q, want a relative reference", base.Path, ref)
			return
		}
		u, err := base.Parse(ref)
		if err != nil {
			t.Fatalf("%s refers to %q: %v", base.Path, ref, err)
		}
		if seen[u.Path] {
			return
		}
		seen[u.Path] = true
		if !strings.HasPrefix(u.Path, "/board/static/") && !strings.HasPrefix(u.Path, "/board/client/v1/") {
			t.Errorf("%s refers to %q, which is %s: want it under /board/static/ or /board/client/v1/", base.Path, ref, u.Path)
			return
		}
		res, body := fetch(t, u.String())
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: got status %d, want 200", u.Path, res.StatusCode)
			return
		}
		if want := contentTypes[path.Ext(u.Path)]; res.Header.Get("Content-Type") != want {
			t.Errorf("GET %s: got Content-Type %q, want %q", u.Path, res.Header.Get("Content-Type"), want)
		}
		if strings.HasSuffix(u.Path, ".js") {
			for _, m := range imports.FindAllStringSubmatch(body, -1) {
				follow(t, u, m[1]+m[2])
			}
		}
	}
	for _, m := range refs {
		follow(t, pageURL, m[1])
	}
	for _, want := range []string{"/board/static/app.js", "/board/static/app.css", "/board/static/icon.svg", "/board/static/api.js", "/board/client/v1/taskboard.js"} {
		if !seen[want] {
			t.Errorf("following the page's references did not reach %s", want)
		}
	}

	for _, tc := range []struct {
		path     string
		status   int
		location string
		contains string
	}{
		{"/board", http.StatusFound, "/board/", ""}, // any redirect
		{"/board/boards", http.StatusOK, "", `{"api":"/boards"}`},
		{"/board/static/nope.js", http.StatusNotFound, "", ""},
		{"/board/static/index.html", http.StatusNotFound, "", ""},
		{"/static/app.js", http.StatusNotFound, "", ""},
		{"/", http.StatusNotFound, "", ""},
	} {
		res, body := fetch(t, srv.URL+tc.path)
		// ServeMux's own redirect: its status is its business.
		redirect := tc.status == http.StatusFound && res.StatusCode/100 == 3
		if !redirect && res.StatusCode != tc.status {
			t.Errorf("GET %s: got status %d, want %d", tc.path, res.StatusCode, tc.status)
		}
		if got := res.Header.Get("Location"); got != tc.location {
			t.Errorf("GET %s: got Location %q, want %q", tc.path, got, tc.location)
		}
		if !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: body %q lacks %q", tc.path, body, tc.contains)
		}
	}
}

// TestPageStripPrefix checks the paths http.StripPrefix leaves, with and
// without the prefix's trailing slash, and at an address without one.
func TestPageStripPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/a/", http.StripPrefix("/a/", Handler()))
	mux.Handle("/apps/b", http.StripPrefix("/apps/b", Handler()))
	mux.Handle("/apps/b/", http.StripPrefix("/apps/b", Handler()))
	for _, tc := range []struct {
		target   string
		status   int
		location string
		contains string
	}{
		{"/a/", 200, "", "<title>Taskboard</title>"},
		{"/a/static/app.css", 200, "", ":root"},
		{"/a/static/index.html", 404, "", ""},
		{"/apps/b", 301, "./b/", ""},
		{"/apps/b?board=x%20y", 301, "./b/?board=x%20y", ""},
		{"/apps/b/", 200, "", "<title>Taskboard</title>"},
		{"/apps/b/static/app.js", 200, "", "import"},
	} {
		res := get(t, mux, "GET", tc.target, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != tc.status {
			t.Errorf("GET %s: got status %d, want %d", tc.target, res.StatusCode, tc.status)
		}
		if got := res.Header.Get("Location"); got != tc.location {
			t.Errorf("GET %s: got Location %q, want %q", tc.target, got, tc.location)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.target, tc.contains)
		}
	}
	// The redirect resolves to the address with the slash, wherever it is.
	base, _ := url.Parse("http://example.com/apps/b?board=1")
	if got, _ := base.Parse("./b/?board=1"); got.String() != "http://example.com/apps/b/?board=1" {
		t.Errorf("./b/ from /apps/b resolves to %s", got)
	}
}

// TestNoMarkupFromData checks the page's rule that user text only ever
// becomes text: no module builds markup from strings, and none loads
// anything from another site.
func TestNoMarkupFromData(t *testing.T) {
	banned := regexp.MustCompile(`\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(`)
	external := regexp.MustCompile(`https?://`)
	for name, body := range staticFiles(t) {
		if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".html") && !strings.HasSuffix(name, ".css") {
			continue
		}
		for i, line := range strings.Split(body, "\n") {
			if strings.HasSuffix(name, ".js") && banned.MatchString(line) {
				t.Errorf("%s:%d builds markup or code from strings: %s", name, i+1, strings.TrimSpace(line))
			}
			if external.MatchString(line) && !strings.Contains(line, "http://www.w3.org/2000/svg") {
				t.Errorf("%s:%d refers to another site: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
}
