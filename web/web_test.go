package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
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
		{"GET", "/static/live.js", 200, "text/javascript; charset=utf-8", "EventSource"},
		{"GET", "/static/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"GET", "/static/icon.svg", 200, "image/svg+xml", "<svg"},
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
		name, ok := strings.CutPrefix(ref, "/static/")
		if !ok {
			t.Errorf("index.html refers to %q, outside /static/", ref)
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
			mod, ok := strings.CutPrefix(ref, "./")
			if !ok {
				t.Errorf("%s imports %q: want a sibling module (./name.js)", name, ref)
				continue
			}
			if _, ok := files[mod]; !ok {
				t.Errorf("%s imports %q, which is not embedded", name, ref)
			}
		}
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
