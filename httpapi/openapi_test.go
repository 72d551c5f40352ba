package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// notInDocument are the routes the OpenAPI document leaves out: the
// streaming routes (described in the API documentation) and the
// operational routes that are not JSON.
var notInDocument = []string{
	"GET /boards/{boardId}/events",
	"GET /events",
	"GET /ws",
	"GET /metrics",
	"GET /openapi.json",
}

// openAPIDoc reads and parses openapi.json.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// documentedRoutes returns the document's operations as mux patterns.
func documentedRoutes(doc map[string]any) []string {
	var out []string
	for path, item := range doc["paths"].(map[string]any) {
		for _, m := range httpMethods {
			if _, ok := item.(map[string]any)[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// openAPIPattern turns a mux pattern into "METHOD /openapi/{template}":
// "{name...}" becomes "{name}" and "{$}" goes.
func openAPIPattern(pattern string) string {
	pattern = strings.ReplaceAll(pattern, "{$}", "")
	return regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`).ReplaceAllString(pattern, "{$1}")
}

// TestOpenAPIRoutes checks that the document lists exactly the JSON routes
// the handler serves.
func TestOpenAPIRoutes(t *testing.T) {
	store, err := taskboard.Open(t.Context(), dbtest.SQLite(t), &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	api := httpapi.New(store, nil)
	defer api.Close()

	var served []string
	for _, p := range api.Routes() {
		if slices.Contains(notInDocument, p) {
			continue
		}
		served = append(served, openAPIPattern(p))
	}
	slices.Sort(served)
	documented := documentedRoutes(openAPIDoc(t))
	for _, p := range served {
		if !slices.Contains(documented, p) {
			t.Errorf("%s is served but not in openapi.json", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("%s is in openapi.json but not served", p)
		}
	}
	for _, p := range notInDocument {
		if !slices.Contains(api.Routes(), p) {
			t.Logf("note: %s is not served", p)
		}
	}
}

func TestOpenAPIPattern(t *testing.T) {
	for in, want := range map[string]string{
		"GET /boards/{boardId}/tasks": "GET /boards/{boardId}/tasks",
		"GET /static/{path...}":       "GET /static/{path}",
		"GET /{$}":                    "GET /",
	} {
		if got := openAPIPattern(in); got != want {
			t.Errorf("openAPIPattern(%q): got %q, want %q", in, got, want)
		}
	}
}

// resolvePointer resolves a local JSON pointer ("#/components/...").
func resolvePointer(doc map[string]any, ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("%q is not a local reference", ref)
	}
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("%q: no %q", ref, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("%q: no index %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%q: %q of a scalar", ref, tok)
		}
	}
	return cur, nil
}

// deref follows $ref until it reaches an object without one.
func deref(doc map[string]any, v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; m != nil && i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		r, err := resolvePointer(doc, ref)
		if err != nil {
			return nil
		}
		m, _ = r.(map[string]any)
	}
	return m
}

// TestOpenAPIDocument checks the document itself: OpenAPI 3.1, every $ref
// resolves, path parameters are declared, and each operation names the
// statuses the API's rules give it.
func TestOpenAPIDocument(t *testing.T) {
	doc := openAPIDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi: got %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info: got %v, want a title and a version", info)
	}

	// Every $ref resolves.
	var refs int
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				if _, err := resolvePointer(doc, ref); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			for k, x := range v {
				walk(path+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(path+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("#", doc)
	if refs < 100 {
		t.Errorf("got %d references, want the document to share its components", refs)
	}

	comp := doc["components"].(map[string]any)
	schemas := comp["schemas"].(map[string]any)
	for _, name := range []string{"Task", "List", "Board", "User", "Snapshot", "Event", "Error", "ValidationError", "Reset"} {
		if _, ok := schemas[name]; !ok {
			t.Errorf("components/schemas: no %s", name)
		}
	}
	sec := comp["securitySchemes"].(map[string]any)
	if b := deref(doc, sec["bearer"]); b["type"] != "http" || b["scheme"] != "bearer" {
		t.Errorf("securitySchemes/bearer: got %v, want http bearer", b)
	}
	if c := deref(doc, sec["cookie"]); c["type"] != "apiKey" || c["in"] != "cookie" || c["name"] != httpapi.SessionCookie {
		t.Errorf("securitySchemes/cookie: got %v, want an apiKey in the session cookie", c)
	}
	// The entity schemas list exactly the columns the API sends.
	for name, cols := range map[string][]string{
		"Task":  taskColumns,
		"List":  {"board_id", "id", "name", "position", "version"},
		"Board": {"created_at", "id", "name", "seq"},
		"User":  {"email", "id", "name"},
	} {
		s := deref(doc, schemas[name])
		props := keysOf(s["properties"].(map[string]any))
		var req []string
		for _, r := range s["required"].([]any) {
			req = append(req, r.(string))
		}
		slices.Sort(req)
		if !slices.Equal(props, cols) || !slices.Equal(req, cols) {
			t.Errorf("schema %s: got properties %v required %v, want %v", name, props, req, cols)
		}
	}

	opIDs := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		item := item.(map[string]any)
		templ := regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1)
		for _, m := range httpMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			op := raw.(map[string]any)
			name := strings.ToUpper(m) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", name)
			} else if other, dup := opIDs[id]; dup {
				t.Errorf("%s: operationId %q also names %s", name, id, other)
			}
			opIDs[id] = name

			// Parameters.
			params := map[string]map[string]any{}
			for _, list := range []any{item["parameters"], op["parameters"]} {
				l, _ := list.([]any)
				for _, p := range l {
					p := deref(doc, p)
					params[p["in"].(string)+":"+p["name"].(string)] = p
				}
			}
			var pathParams []string
			for k, p := range params {
				if in, n, _ := strings.Cut(k, ":"); in == "path" {
					pathParams = append(pathParams, n)
					if p["required"] != true {
						t.Errorf("%s: path parameter %s is not required", name, n)
					}
				}
			}
			var want []string
			for _, m := range templ {
				want = append(want, m[1])
			}
			slices.Sort(pathParams)
			slices.Sort(want)
			if !slices.Equal(pathParams, want) {
				t.Errorf("%s: got path parameters %v, want %v", name, pathParams, want)
			}

			// Statuses.
			responses := op["responses"].(map[string]any)
			has := func(code string) bool { _, ok := responses[code]; return ok }
			needs := func(code, why string) {
				if !has(code) {
					t.Errorf("%s: no %s response (%s)", name, code, why)
				}
			}
			public := false
			if s, ok := op["security"].([]any); ok {
				public = len(s) == 0
				for _, req := range s {
					if len(req.(map[string]any)) == 0 {
						public = true
					}
				}
			}
			if !public {
				needs("401", "needs a user")
			}
			if path != "/health" && path != "/ready" && path != "/admin/connections" {
				needs("500", "internal errors")
				needs("503", "database unavailable")
			}
			if op["requestBody"] != nil {
				needs("400", "has a body")
				needs("413", "has a body")
			}
			if strings.Contains(path, "{") {
				needs("404", "names an entity")
			}
			_, idem := params["header:Idempotency-Key"]
			isWrite := m != "get" && m != "head"
			// Routes whose answers carry secrets keep no idempotent response.
			secretAnswer := path == "/realtime/tickets" || strings.HasPrefix(path, "/tokens")
			if isWrite && !public && path != "/sessions" {
				if !idem && !secretAnswer {
					t.Errorf("%s: no Idempotency-Key parameter", name)
				}
				needs("403", "cookie writes from a foreign origin")
			}
			if idem {
				needs("409", "idempotent request in flight")
				needs("422", "idempotency key reused")
			}
			if _, ok := params["header:If-Match"]; ok {
				needs("412", "If-Match")
			}
			if _, ok := params["header:If-None-Match"]; ok {
				needs("304", "If-None-Match")
			}
			for code, r := range responses {
				if deref(doc, r)["description"] == nil {
					t.Errorf("%s: response %s has no description", name, code)
				}
			}
		}
	}
	for _, name := range []string{"GET /boards/{boardId}/updates", "GET /boards/{boardId}/poll"} {
		method, path, _ := strings.Cut(name, " ")
		op := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		if _, ok := op["responses"].(map[string]any)["410"]; !ok {
			t.Errorf("%s: no 410 response (reset)", name)
		}
	}
	if r := doc["paths"].(map[string]any)["/boards/{boardId}/members/{userId}"].(map[string]any)["delete"].(map[string]any)["responses"].(map[string]any); r["409"] == nil {
		t.Errorf("DELETE /boards/{boardId}/members/{userId}: no 409 (last member)")
	}
}

// capture records the responses a handler gives.
type capture struct {
	next http.Handler
	mu   sync.Mutex
	seen []captured
}

type captured struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, r)
	c.mu.Lock()
	c.seen = append(c.seen, captured{r.Method, r.URL.Path, rec.Code, rec.Header().Clone(), rec.Body.Bytes()})
	c.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	io.Copy(w, rec.Body)
}

// TestOpenAPIDescribesResponses drives the API through its statuses and
// checks each answer against the document: the operation exists, the
// status is listed, the body matches the schema, and documented headers
// are sent.
func TestOpenAPIDescribesResponses(t *testing.T) {
	doc := openAPIDoc(t)
	dbtest.Each(t, func(t *testing.T, dsn string) {
		const admin = "admin-token"
		var rec *capture
		e := newRESTEnvStore(t, dsn, &httpapi.Options{AdminToken: admin, Demo: true, PublicURL: "https://board.example.com"},
			&taskboard.Options{WebhookAllowPrivate: true},
			func(h http.Handler) http.Handler { rec = &capture{next: h}; return rec })

		a := func(method, path, body string) *restResp { return e.as(e.alice, method, path, body) }
		a("GET", "/users/me", "")
		a("GET", "/boards", "")
		bid := e.newBoard(e.alice, "Spec")
		a("GET", "/boards/"+bid, "")
		snap := a("GET", "/boards/board-1", "")
		e.do("GET", "/boards/board-1", "", bearerHdr(e.alice).with("If-None-Match", snap.Header.Get("ETag")))
		tasks := a("GET", "/boards/board-1/tasks", "")
		e.do("GET", "/boards/board-1/tasks", "", bearerHdr(e.alice).with("If-None-Match", tasks.Header.Get("ETag")))
		a("PATCH", "/boards/"+bid, `{"name":"Spec 2"}`)
		a("POST", "/boards/"+bid+"/members", `{"userId":"user-bob"}`)
		a("POST", "/boards/"+bid+"/members", `{"userId":"user-bob"}`)
		a("DELETE", "/boards/"+bid+"/members/user-bob", "")
		a("DELETE", "/boards/"+bid+"/members/user-alice", "")
		l := e.newList(e.alice, bid, "L")
		a("PATCH", "/lists/"+l.ID, `{"name":"L2"}`)
		a("PATCH", "/lists/"+l.ID+"/move", `{"position":0}`)
		e.do("PATCH", "/lists/"+l.ID, `{"name":"L3"}`, bearerHdr(e.alice).with("If-Match", `"1"`))
		task := e.newTask(e.alice, l.ID, "T")
		a("GET", "/tasks/"+task.ID, "")
		e.do("GET", "/tasks/"+task.ID, "", bearerHdr(e.alice).with("If-None-Match", `"1"`))
		a("PATCH", "/tasks/"+task.ID, `{"description":"d"}`)
		a("PATCH", "/tasks/"+task.ID+"/move", `{"listId":"`+l.ID+`","position":0}`)
		e.do("PATCH", "/tasks/"+task.ID, `{"title":"x"}`, bearerHdr(e.alice).with("If-Match", `"1"`))
		a("POST", "/tasks", `{"title":""}`)
		a("POST", "/tasks", `{`)
		a("POST", "/tasks", `{"title":"`+strings.Repeat("x", 1<<20)+`"}`)
		a("GET", "/tasks/nope", "")
		e.do("GET", "/boards/board-1/tasks", "", nil)
		e.do("POST", "/tasks", `{"title":"x","listId":"`+l.ID+`"}`, bearerHdr(e.alice).with("Idempotency-Key", "k"))
		e.do("POST", "/tasks", `{"title":"x","listId":"`+l.ID+`"}`, bearerHdr(e.alice).with("Idempotency-Key", "k"))
		e.do("POST", "/tasks", `{"title":"y","listId":"`+l.ID+`"}`, bearerHdr(e.alice).with("Idempotency-Key", "k"))
		a("DELETE", "/tasks/"+task.ID, "")
		a("DELETE", "/lists/"+l.ID, "")
		a("POST", "/realtime/tickets", "")
		cookie := e.sessionCookie(e.alice)
		e.do("GET", "/sessions", "", cookieHdr(cookie))
		e.do("GET", "/sessions", "", nil)
		e.do("POST", "/boards", `{"name":"x"}`, cookieHdr(cookie).with("Origin", "https://evil.example.com"))
		e.do("DELETE", "/sessions", "", cookieHdr(cookie).with("Origin", "https://evil.example.com"))
		e.do("DELETE", "/sessions", "", cookieHdr(cookie))
		e.do("POST", "/sessions", `{"token":"tb_nope"}`, nil)
		e.do("POST", "/sessions/demo", `{"userId":"user-bob"}`, nil)
		e.do("POST", "/sessions/demo", `{"userId":"nobody"}`, nil)
		e.do("GET", "/health", "", nil)
		e.do("GET", "/ready", "", nil)
		if e.serves("GET /boards/{boardId}/updates") {
			a("GET", "/boards/board-1/updates", "")
			a("GET", "/boards/board-1/updates?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "")
			a("GET", "/boards/board-1/updates?after=0", "")
			a("GET", "/boards/board-1/updates?after=999", "")
			a("GET", "/boards/board-1/updates?after=x", "")
		}
		if e.serves("GET /boards/{boardId}/poll") {
			a("GET", "/boards/board-1/poll?after=0&timeout=1", "")
			a("GET", "/boards/board-1/poll?timeout=1", "")
			a("GET", "/boards/board-1/poll?after=999&timeout=1", "")
			a("GET", "/boards/board-1/poll?timeout=61", "")
		}
		if e.serves("GET /boards/{boardId}/presence") {
			a("GET", "/boards/board-1/presence", "")
		}
		if e.serves("GET /admin/connections") {
			e.as(admin, "GET", "/admin/connections", "")
			e.as("x", "GET", "/admin/connections", "")
		}
		if e.serves("POST /boards/{boardId}/webhooks") {
			var hook struct{ ID string }
			created := a("POST", "/boards/"+bid+"/webhooks", `{"url":"http://127.0.0.1:9/hook","events":["task_created"]}`)
			json.Unmarshal(created.Body, &hook)
			a("POST", "/boards/"+bid+"/webhooks", `{"url":"ftp://x"}`)
			a("GET", "/boards/"+bid+"/webhooks", "")
			a("GET", "/webhooks/"+hook.ID, "")
			a("PATCH", "/webhooks/"+hook.ID, `{"status":"paused","events":null}`)
			a("POST", "/webhooks/"+hook.ID+"/replay", `{"after":0}`)
			a("GET", "/webhooks/"+hook.ID+"/deliveries?limit=5", "")
			a("DELETE", "/webhooks/"+hook.ID, "")
			a("GET", "/webhooks/"+hook.ID, "")
		}
		a("DELETE", "/boards/"+bid, "")

		statuses := map[int]bool{}
		for _, c := range rec.seen {
			statuses[c.status] = true
			checkAgainstDocument(t, doc, c)
		}
		want := []int{200, 201, 204, 304, 400, 401, 403, 404, 409, 412, 413, 422}
		if e.serves("GET /boards/{boardId}/updates") {
			want = append(want, 410)
		}
		for _, s := range want {
			if !statuses[s] {
				t.Errorf("no call gave %d", s)
			}
		}
	})
}

// checkAgainstDocument checks one response against the document.
func checkAgainstDocument(t *testing.T, doc map[string]any, c captured) {
	t.Helper()
	name := c.method + " " + c.path
	var best string
	bestLiteral := -1
	for templ := range doc["paths"].(map[string]any) {
		ts, ps := strings.Split(templ, "/"), strings.Split(c.path, "/")
		if len(ts) != len(ps) {
			continue
		}
		literal, ok := 0, true
		for i := range ts {
			switch {
			case strings.HasPrefix(ts[i], "{"):
				ok = ok && ps[i] != ""
			case ts[i] == ps[i]:
				literal++
			default:
				ok = false
			}
		}
		if ok && literal > bestLiteral {
			best, bestLiteral = templ, literal
		}
	}
	if best == "" {
		t.Errorf("%s (%d): no path of the document matches", name, c.status)
		return
	}
	op, _ := doc["paths"].(map[string]any)[best].(map[string]any)[strings.ToLower(c.method)].(map[string]any)
	if op == nil {
		t.Errorf("%s (%d): %s has no %s operation", name, c.status, best, c.method)
		return
	}
	name = c.method + " " + best
	resp := deref(doc, op["responses"].(map[string]any)[strconv.Itoa(c.status)])
	if resp == nil {
		t.Errorf("%s: status %d is not documented (body %.200s)", name, c.status, c.body)
		return
	}
	headers, _ := resp["headers"].(map[string]any)
	for h := range headers {
		if h != "Set-Cookie" && c.header.Get(h) == "" {
			t.Errorf("%s %d: documented header %s not sent", name, c.status, h)
		}
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(c.body) != 0 {
			t.Errorf("%s %d: documented without a body, got %.200s", name, c.status, c.body)
		}
		return
	}
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		t.Errorf("%s %d: no application/json content documented", name, c.status)
		return
	}
	if ct := c.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s %d: got Content-Type %q, want application/json; charset=utf-8", name, c.status, ct)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s %d: body is not JSON: %v: %.200s", name, c.status, err, c.body)
		return
	}
	if err := validateSchema(doc, media["schema"], v, "$"); err != nil {
		t.Errorf("%s %d: %v\nbody %.500s", name, c.status, err, c.body)
	}
}

// validateSchema checks v against the subset of JSON Schema the document
// uses.
func validateSchema(doc map[string]any, schema any, v any, at string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		if b, ok := schema.(bool); ok && !b {
			return fmt.Errorf("%s: not allowed", at)
		}
		return nil
	}
	if ref, ok := s["$ref"].(string); ok {
		r, err := resolvePointer(doc, ref)
		if err != nil {
			return err
		}
		if err := validateSchema(doc, r, v, at); err != nil {
			return err
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return jsonTypeIs(v, t) }) {
			return fmt.Errorf("%s: got %s, want type %v", at, short(v), types)
		}
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		return fmt.Errorf("%s: got %s, want %v", at, short(v), c)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		return fmt.Errorf("%s: got %s, want one of %v", at, short(v), enum)
	}
	for _, sub := range asList(s["allOf"]) {
		if err := validateSchema(doc, sub, v, at); err != nil {
			return err
		}
	}
	if l := asList(s["oneOf"]); len(l) > 0 {
		n := 0
		var errs []string
		for _, sub := range l {
			if err := validateSchema(doc, sub, v, at); err == nil {
				n++
			} else {
				errs = append(errs, err.Error())
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf, want 1 (%s)", at, n, strings.Join(errs, "; "))
		}
	}
	if l := asList(s["anyOf"]); len(l) > 0 && !slices.ContainsFunc(l, func(sub any) bool { return validateSchema(doc, sub, v, at) == nil }) {
		return fmt.Errorf("%s: matches none of anyOf", at)
	}
	switch v := v.(type) {
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				return fmt.Errorf("%s: no required %q", at, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, x := range v {
			if ps, ok := props[k]; ok {
				if err := validateSchema(doc, ps, x, at+"."+k); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"]; ok {
				if err := validateSchema(doc, ap, x, at+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if n, ok := number(s["maxItems"]); ok && float64(len(v)) > n {
			return fmt.Errorf("%s: %d items, want at most %v", at, len(v), n)
		}
		if n, ok := number(s["minItems"]); ok && float64(len(v)) < n {
			return fmt.Errorf("%s: %d items, want at least %v", at, len(v), n)
		}
		for i, x := range v {
			if err := validateSchema(doc, s["items"], x, at+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case json.Number:
		f, _ := v.Float64()
		if n, ok := number(s["minimum"]); ok && f < n {
			return fmt.Errorf("%s: %v, want at least %v", at, v, n)
		}
		if n, ok := number(s["maximum"]); ok && f > n {
			return fmt.Errorf("%s: %v, want at most %v", at, v, n)
		}
	case string:
		n := float64(utf8.RuneCountInString(v))
		if m, ok := number(s["minLength"]); ok && n < m {
			return fmt.Errorf("%s: %q shorter than %v", at, v, m)
		}
		if m, ok := number(s["maxLength"]); ok && n > m {
			return fmt.Errorf("%s: longer than %v", at, m)
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil || !strings.HasSuffix(v, "Z") {
				return fmt.Errorf("%s: %q is not an RFC 3339 UTC time", at, v)
			}
		}
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func jsonTypeIs(v any, typ string) bool {
	switch typ {
	case "null":
		return v == nil
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	return false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
