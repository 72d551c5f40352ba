// Package jsclient is the JavaScript client of taskboard, @taskboard/client:
// one ES module (taskboard.js) with its type declarations
// (taskboard.d.ts), published to npm from this directory and embedded in
// the binary, which serves it under a path versioned by the package's
// major version:
//
//	GET /client/v1/taskboard.js
//	GET /client/v1/taskboard.d.ts
//
// A page served by taskboard imports it from there; the module then finds
// the API two levels above its own address, so it works under any path
// prefix as the page does (see package web).
package jsclient

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Version is the version of the package, as package.json says.
const Version = "1.0.0"

// Prefix is the path under which Handler serves the files: /client/v<major>/.
const Prefix = "/client/v1/"

//go:embed taskboard.js taskboard.d.ts package.json README.md
var files embed.FS

// file is an embedded file ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// served are the files Handler serves, by name.
var served = func() map[string]*file {
	m := make(map[string]*file)
	for name, ct := range map[string]string{
		"taskboard.js":   "text/javascript; charset=utf-8",
		"taskboard.d.ts": "application/typescript; charset=utf-8",
	} {
		body, err := files.ReadFile(name)
		if err != nil {
			panic("jsclient: " + err.Error())
		}
		sum := sha256.Sum256(body)
		m[name] = &file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return m
}()

// File returns the embedded content of one of the package's files
// (taskboard.js, taskboard.d.ts, package.json, README.md).
func File(name string) ([]byte, error) {
	return files.ReadFile(name)
}

// Handler serves GET and HEAD of Prefix+"taskboard.js" and
// Prefix+"taskboard.d.ts" with their media types, an ETag (If-None-Match
// answers 304) and Cache-Control: no-cache, so that a new binary's client
// is picked up at once. Other paths are 404, other methods 405. A path
// without its leading slash (what http.StripPrefix leaves) counts as if it
// had one.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	name, ok := strings.CutPrefix(p, Prefix)
	f := served[name]
	if !ok || f == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
