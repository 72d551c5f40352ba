package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// TestHealthAndReady checks the public operational routes.
func TestHealthAndReady(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		res := e.do("GET", "/health", "", nil).want(t, http.StatusOK)
		if string(res.Body) != "{\"status\":\"ok\"}\n" || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("GET /health: got %q %s, want {\"status\":\"ok\"}", res.Header.Get("Content-Type"), res.Body)
		}
		res = e.do("GET", "/ready", "", nil).want(t, http.StatusOK)
		if string(res.Body) != "{\"status\":\"ready\"}\n" {
			t.Errorf("GET /ready: got %s, want {\"status\":\"ready\"}", res.Body)
		}
		res = e.do("GET", "/openapi.json", "", nil).want(t, http.StatusOK)
		want, err := os.ReadFile("openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(res.Body)) != strings.TrimSpace(string(want)) {
			t.Errorf("GET /openapi.json: the body is not openapi.json")
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("GET /openapi.json: got Content-Type %q", ct)
		}
		// Unknown routes and methods.
		if res := e.as(e.alice, "GET", "/nope", ""); res.Status != http.StatusNotFound {
			t.Errorf("GET /nope: got %d, want 404", res.Status)
		}
		if res := e.as(e.alice, "PUT", "/tasks/task-1", `{}`); res.Status != http.StatusMethodNotAllowed {
			t.Errorf("PUT /tasks/task-1: got %d, want 405", res.Status)
		}
	})
}

// TestMetrics checks that /metrics needs the admin token and serves the
// request and database metrics in the Prometheus text format.
func TestMetrics(t *testing.T) {
	t.Run("no admin token", func(t *testing.T) {
		e := newRESTEnv(t, dbtest.SQLite(t), nil)
		e.do("GET", "/metrics", "", nil).wantError(t, http.StatusNotFound, "Not Found")
		e.as(e.alice, "GET", "/metrics", "").wantError(t, http.StatusNotFound, "Not Found")
		e.as("", "GET", "/metrics", "").wantError(t, http.StatusNotFound, "Not Found")
		if e.serves("GET /admin/connections") {
			e.do("GET", "/admin/connections", "", nil).wantError(t, http.StatusNotFound, "Not Found")
		}
	})
	dbtest.Each(t, func(t *testing.T, dsn string) {
		const admin = "s3cret-admin"
		e := newRESTEnv(t, dsn, &httpapi.Options{AdminToken: admin})
		for _, h := range []restHdr{nil, bearerHdr("wrong"), bearerHdr(e.alice), bearerHdr(admin + "x"), {"Authorization": admin}} {
			res := e.do("GET", "/metrics", "", h)
			res.wantError(t, http.StatusUnauthorized, "Unauthorized")
			if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
				t.Errorf("GET /metrics with %v: got WWW-Authenticate %q, want Bearer", h, got)
			}
			if e.serves("GET /admin/connections") {
				e.do("GET", "/admin/connections", "", h).wantError(t, http.StatusUnauthorized, "Unauthorized")
			}
		}
		e.as(e.alice, "GET", "/boards/board-1/tasks", "").want(t, http.StatusOK)
		e.as(e.alice, "GET", "/boards/board-1/tasks", "").want(t, http.StatusOK)
		e.as(e.carol, "GET", "/boards/board-1/tasks", "").want(t, http.StatusNotFound)
		e.as(e.alice, "PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":0}`).want(t, http.StatusOK)
		e.do("GET", "/nope", "", nil)

		res := e.as(admin, "GET", "/metrics", "").want(t, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET /metrics: got Content-Type %q, want the Prometheus text format", ct)
		}
		body := string(res.Body)
		for _, want := range []string{
			`taskboard_http_requests_total{method="GET",route="GET /boards/{boardId}/tasks",status="200"} 2`,
			`taskboard_http_requests_total{method="GET",route="GET /boards/{boardId}/tasks",status="404"} 1`,
			`taskboard_http_requests_total{method="PATCH",route="PATCH /tasks/{id}/move",status="200"} 1`,
			`taskboard_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
			`taskboard_http_request_duration_seconds_bucket{method="GET",route="GET /boards/{boardId}/tasks",status="200",le="+Inf"} 2`,
			`taskboard_db_query_duration_seconds_bucket{operation="SELECT",le="+Inf"}`,
			`taskboard_db_query_duration_seconds_count{operation="UPDATE"}`,
			`taskboard_events_appended_total 1`,
			"# TYPE taskboard_listener_reconnects_total counter",
			"# TYPE taskboard_notifications_received_total counter",
			"# TYPE taskboard_db_query_duration_seconds histogram",
			"go_goroutines ",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET /metrics: no line %q in\n%s", want, grepLines(body, "taskboard_"))
			}
		}
		if e.serves("GET /admin/connections") {
			e.as(admin, "GET", "/admin/connections", "").want(t, http.StatusOK)
		}
	})
	t.Run("own registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{AdminToken: "a", Registerer: reg, Gatherer: reg})
		e.as(e.alice, "GET", "/users/me", "").want(t, http.StatusOK)
		res := e.as("a", "GET", "/metrics", "").want(t, http.StatusOK)
		if want := `taskboard_http_requests_total{method="GET",route="GET /users/me",status="200"} 1`; !strings.Contains(string(res.Body), want) {
			t.Errorf("GET /metrics: no line %q", want)
		}
		if strings.Contains(string(res.Body), "go_goroutines") {
			t.Errorf("GET /metrics with an own registry: got the Go collector, want only what was registered")
		}
	})
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRequestLog checks that every request is logged with its status and
// user.
func TestRequestLog(t *testing.T) {
	e := newRESTEnv(t, dbtest.SQLite(t), nil)
	e.as(e.alice, "GET", "/boards/board-1/tasks", "").want(t, http.StatusOK)
	logs := e.logs.String()
	for _, want := range []string{"msg=request", "method=GET", "path=/boards/board-1/tasks", "status=200", "user=user-alice"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log: no %q in %q", want, logs)
		}
	}
	if strings.Contains(logs, e.alice) {
		t.Errorf("log: the token leaked: %q", logs)
	}
}

// TestBodyLimit checks that a body over the limit is 413.
func TestBodyLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		// Just over 1 MiB of valid JSON.
		big := `{"title":"t","listId":"list-todo","description":"` + strings.Repeat("x", 1<<20) + `"}`
		for _, c := range []struct{ method, path string }{
			{"POST", "/tasks"}, {"PATCH", "/tasks/task-1"}, {"PATCH", "/tasks/task-1/move"}, {"POST", "/boards"},
			{"POST", "/boards/board-1/lists"}, {"PATCH", "/lists/list-todo"}, {"POST", "/boards/board-1/members"},
		} {
			e.as(e.alice, c.method, c.path, big).wantError(t, http.StatusRequestEntityTooLarge, "Request body too large")
		}
		e.do("POST", "/sessions", big, nil).wantError(t, http.StatusRequestEntityTooLarge, "Request body too large")
		if got := e.boardSeq("board-1"); got != 0 {
			t.Errorf("board-1 seq after refused writes: got %d, want 0", got)
		}
		// Exactly 1 MiB is read (and then judged on its content).
		pad := 1<<20 - len(`{"title":"t","listId":"list-todo","x":""}`)
		exact := `{"title":"t","listId":"list-todo","x":"` + strings.Repeat("x", pad) + `"}`
		e.as(e.alice, "POST", "/tasks", exact).want(t, http.StatusCreated)
	})
	t.Run("configured", func(t *testing.T) {
		e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{MaxBodyBytes: 64})
		e.as(e.alice, "PATCH", "/tasks/task-1", `{"title":"`+strings.Repeat("x", 64)+`"}`).wantError(t, http.StatusRequestEntityTooLarge, "Request body too large")
		e.as(e.alice, "PATCH", "/tasks/task-1", `{"title":"short"}`).want(t, http.StatusOK)
	})
}

// TestDatabaseUnavailable checks that a database that cannot be reached
// is 503 with Retry-After on the routes and /ready, while /health stays 200.
func TestDatabaseUnavailable(t *testing.T) {
	check := func(t *testing.T, e *restEnv, token string) {
		t.Helper()
		e.do("GET", "/health", "", nil).want(t, http.StatusOK)
		res := e.do("GET", "/ready", "", nil).want(t, http.StatusServiceUnavailable)
		if m := res.object(t); m["status"] != "unavailable" {
			t.Errorf("GET /ready: got %s, want status unavailable", res.Body)
		}
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/boards/board-1/tasks", ""},
			{"GET", "/boards", ""},
			{"POST", "/tasks", `{"title":"t","listId":"list-todo"}`},
			{"POST", "/sessions", `{"token":` + quoteJSON(token) + `}`},
		} {
			res := e.as(token, c.method, c.path, c.body)
			res.wantError(t, http.StatusServiceUnavailable, "Service Unavailable")
			if got := res.Header.Get("Retry-After"); got == "" {
				t.Errorf("%s: no Retry-After", res.call)
			}
		}
		if logs := e.logs.String(); !strings.Contains(logs, "database unavailable") {
			t.Errorf("log: got %q, want the unavailable database logged", logs)
		}
	}
	t.Run("sqlite closed", func(t *testing.T) {
		e := newRESTEnv(t, dbtest.SQLite(t), nil)
		e.as(e.alice, "GET", "/boards/board-1/tasks", "").want(t, http.StatusOK)
		if err := seam.DB(e.store).Close(); err != nil {
			t.Fatal(err)
		}
		check(t, e, e.alice)
	})
	t.Run("postgres closed port", func(t *testing.T) {
		db := dbtest.UnreachablePostgres(t)
		store, err := taskboard.New(context.Background(), db, &taskboard.Options{SkipMigrations: true, MaintenanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		logs := &restLogBuffer{}
		e := &restEnv{t: t, store: store, logs: logs}
		e.api = httpapi.New(store, &httpapi.Options{Logger: slogTo(logs)})
		defer e.api.Close()
		e.srv = httptest.NewServer(e.api)
		defer e.srv.Close()
		check(t, e, "tb_0123456789abcdef")
	})
}
