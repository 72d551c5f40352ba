// Package web is the taskboard web page: plain HTML, CSS and JavaScript
// modules embedded in the binary, with no build step and nothing fetched
// from another site. The page talks to the HTTP API of package httpapi on
// its own origin through the JavaScript client of package jsclient: it
// learns who is signed in and how one signs in from GET /sessions, signs in
// through POST /sessions (or POST /sessions/demo on a demo server), renders
// a board from its snapshot and follows every board of the user live on one
// connection, a WebSocket, falling back to Server-Sent Events and then to
// long polling.
//
// Mount Handler beside the API so that the API keeps its routes:
//
//	mux := http.NewServeMux()
//	mux.Handle("GET /{$}", web.Handler())
//	mux.Handle("GET /static/", web.Handler())
//	mux.Handle("GET /client/", web.Handler())
//	mux.Handle("/", api)
//
// Under "/client/" it serves the JavaScript client, package jsclient, at
// client/v1/taskboard.js, which the page imports.
//
// The page refers to everything by a path relative to its own address: its
// files as static/..., and the API routes (/boards, /ws, /sessions and the
// rest) relative to the directory it was served from. So the page and the
// API can live under any path prefix together. Mount them side by side as
// above and strip the prefix in front of both:
//
//	board := http.NewServeMux()
//	board.Handle("GET /{$}", web.Handler())
//	board.Handle("GET /static/", web.Handler())
//	board.Handle("GET /client/", web.Handler())
//	board.Handle("/", api)
//
//	mux := http.NewServeMux()
//	mux.Handle("/board/", http.StripPrefix("/board", board))
//
// The page is then at /board/ and asks /board/boards, /board/ws,
// /board/static/app.js and /board/client/v1/taskboard.js; ServeMux sends a request for /board to /board/.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/taskboard/taskboard/jsclient"
)

//go:embed static
var static embed.FS

// contentTypes are the media types of the embedded files, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json; charset=utf-8",
}

// pagePolicy returns the Content-Security-Policy of the page served to
// host: everything from its own origin, nothing inline, nothing from
// elsewhere. The WebSocket origin is named too, for browsers whose 'self'
// does not cover ws: and wss:.
func pagePolicy(host string) string {
	connect := "'self'"
	if validHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + connect + "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// validHost reports whether host is a plain host[:port] that can go into
// the policy as it is.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// asset is an embedded file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

var (
	loadOnce sync.Once
	assets   map[string]*asset // by URL path: "/" and "/static/..."
)

// load reads the embedded files once.
func load() {
	assets = make(map[string]*asset)
	fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := contentTypes[path.Ext(p)]
		if ct == "" {
			ct = "application/octet-stream"
		}
		a := &asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		assets["/"+p] = a
		if p == "static/index.html" {
			assets["/"] = a
		}
		return nil
	})
}

// Handler returns the handler of the web page. It answers GET and HEAD of
// "/" with the page (index.html), of "/static/<file>" with the embedded
// files (HTML, CSS, JavaScript modules, the icon) and of "/client/..." with
// the JavaScript client (jsclient.Handler), each with its media type, an ETag for revalidation and Cache-Control: no-cache, so that a new
// binary's files are picked up at once. Other paths are 404, other methods
// 405. The page itself carries a Content-Security-Policy that allows only
// its own origin.
//
// The paths are those the handler sees, so behind http.StripPrefix they are
// the rest after the prefix. A path without its leading slash (what
// http.StripPrefix("/board/", ...) leaves) counts as if it had one; an
// empty one at an address that does not end in a slash is redirected to
// that address with the slash, where the page's relative references work.
func Handler() http.Handler {
	loadOnce.Do(load)
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if dir, ok := slashRedirect(r); ok {
			w.Header().Set("Location", dir)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if strings.HasPrefix(p, "/client/") {
		jsclient.Handler().ServeHTTP(w, r)
		return
	}
	a := assets[p]
	if a == nil || strings.HasSuffix(p, "/index.html") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if p == "/" {
		h.Set("Content-Security-Policy", pagePolicy(r.Host))
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// slashRedirect returns where to send a request for the page whose path,
// after a stripped prefix, is empty: the same address with a trailing
// slash, as a reference relative to it ("./board/"), so that it stays on
// this site whatever the address. It reports false when the address the
// client asked for already ends in a slash or is unknown.
func slashRedirect(r *http.Request) (string, bool) {
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil || u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return "", false
	}
	dir := "./" + u.EscapedPath()[strings.LastIndex(u.EscapedPath(), "/")+1:] + "/"
	if u.RawQuery != "" {
		dir += "?" + u.RawQuery
	}
	return dir, true
}
