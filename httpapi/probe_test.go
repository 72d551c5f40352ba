package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// TestMetricMethodsBounded reproduces method names sent without logging
// in: they fold into one "other" label instead of each becoming a label
// kept forever, and the request log does not repeat them.
func TestMetricMethodsBounded(t *testing.T) {
	const admin = "metrics-admin-token"
	e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{AdminToken: admin})
	for i := range 5 {
		method := "X" + strings.Repeat("Y", 10000) + string(rune('A'+i))
		e.do(method, "/boards", "", nil)
		e.do(method, "/"+strings.Repeat("p", 5000), "", nil)
	}
	body := string(e.as(admin, "GET", "/metrics", "").want(t, http.StatusOK).Body)
	if strings.Contains(body, "YYYY") || strings.Contains(e.logs.String(), "YYYY") {
		t.Fatalf("a client's method name became a metric label or a log field")
	}
	if !strings.Contains(body, `method="other"`) {
		t.Errorf("/metrics: no method=\"other\" label for unknown methods")
	}
	if strings.Contains(e.logs.String(), strings.Repeat("p", 2000)) {
		t.Errorf("the request log keeps a 5000-byte path whole")
	}
}

// TestIdempotencyRecordsBounded reproduces writes to huge paths with an
// Idempotency-Key: the record keeps a hash of the path, not the path, and
// still answers a retry.
func TestIdempotencyRecordsBounded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		long := "/tasks/" + strings.Repeat("x", 200_000)
		h := bearerHdr(e.alice).with("Idempotency-Key", "big")
		first := e.do("DELETE", long, "", h).want(t, http.StatusNotFound)
		again := e.do("DELETE", long, "", h).want(t, http.StatusNotFound)
		if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
			t.Errorf("a retry: got %q %s, want the first answer replayed", again.Header.Get("Idempotent-Replayed"), again.Body)
		}
		// Another path under the same key is another request.
		other := e.do("DELETE", long+"y", "", h).want(t, http.StatusNotFound)
		if other.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("another path under the same key was replayed")
		}
		var longest int
		if err := seam.DB(e.store).NewRaw("SELECT coalesce(max(length(path) + length(body)), 0) FROM idempotency_keys").Scan(context.Background(), &longest); err != nil {
			t.Fatal(err)
		}
		if longest > 1000 {
			t.Errorf("an idempotency record keeps %d bytes of path and body, want the path's hash only", longest)
		}
	})
}

// TestSignInRateLimit reproduces a flood of sign-ins from one address:
// beyond the bucket, 429 with Retry-After, and no session is made.
func TestSignInRateLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, &httpapi.Options{Demo: true, SessionRate: 0.001, SessionBurst: 3})
		for i := range 3 {
			if i%2 == 0 {
				e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil).want(t, http.StatusCreated)
			} else {
				e.do("POST", "/sessions", `{"token":`+quoteJSON(e.alice)+`}`, nil).want(t, http.StatusCreated)
			}
		}
		for _, r := range []*restResp{
			e.do("POST", "/sessions/demo", `{"userId":"user-alice"}`, nil),
			e.do("POST", "/sessions", `{"token":`+quoteJSON(e.bob)+`}`, nil),
		} {
			r.wantError(t, http.StatusTooManyRequests, "Too Many Requests: session rate exceeded")
			if r.Header.Get("Retry-After") == "" || r.Header.Get("Set-Cookie") != "" {
				t.Errorf("%s over the limit: Retry-After %q, Set-Cookie %q; want a Retry-After and no cookie", r.call, r.Header.Get("Retry-After"), r.Header.Get("Set-Cookie"))
			}
		}
		var n int
		if err := seam.DB(e.store).NewRaw("SELECT count(*) FROM sessions").Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("sessions made: %d, want 3", n)
		}
	})
}

// TestLoginCSRF reproduces a cross-site form that signs a victim into the
// sender's account: a body not declared JSON is 415, a foreign Origin 403,
// and neither sets a cookie.
func TestLoginCSRF(t *testing.T) {
	e := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{Demo: true, PublicURL: "https://board.example.com"})
	body := `{"token":` + quoteJSON(e.alice) + `}`
	for _, tc := range []struct {
		path, body string
		h          restHdr
		status     int
	}{
		{"/sessions", body, restHdr{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"/sessions", body, restHdr{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"/sessions", body, restHdr{"Content-Type": ""}, http.StatusUnsupportedMediaType},
		{"/sessions", body, restHdr{"Origin": "https://evil.example.com"}, http.StatusForbidden},
		{"/sessions", body, restHdr{"Referer": "https://evil.example.com/form"}, http.StatusForbidden},
		{"/sessions/demo", `{"userId":"user-alice"}`, restHdr{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"/sessions/demo", `{"userId":"user-alice"}`, restHdr{"Origin": "https://evil.example.com"}, http.StatusForbidden},
		{"/sessions", body, restHdr{"Origin": "https://board.example.com", "Content-Type": "application/json; charset=utf-8"}, http.StatusCreated},
		{"/sessions/demo", `{"userId":"user-alice"}`, nil, http.StatusCreated},
	} {
		r := e.do("POST", tc.path, tc.body, tc.h)
		if r.Status != tc.status {
			t.Errorf("POST %s with %v: got %d %s, want %d", tc.path, tc.h, r.Status, r.Body, tc.status)
		}
		if cookie := r.Header.Get("Set-Cookie"); (cookie != "") != (tc.status == http.StatusCreated) {
			t.Errorf("POST %s with %v: Set-Cookie %q", tc.path, tc.h, cookie)
		}
	}
}

// TestHeadOnStreams reproduces HEAD on the streaming routes over a raw
// connection: the answer is a bodiless 405, and the request pipelined
// after it on the same connection is served.
func TestHeadOnStreams(t *testing.T) {
	e := newRESTEnv(t, dbtest.SQLite(t), nil)
	for _, path := range []string{"/boards/board-1/events", "/boards/board-1/poll?timeout=30", "/ws"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(15 * time.Second))
		host := strings.TrimPrefix(e.srv.URL, "http://")
		fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n"+
			"GET /health HTTP/1.1\r\nHost: %s\r\n\r\n", path, host, e.alice, host)
		br := bufio.NewReader(conn)
		head, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
		if err != nil {
			t.Fatalf("HEAD %s: %v", path, err)
		}
		head.Body.Close()
		if head.StatusCode != http.StatusMethodNotAllowed || head.Header.Get("Allow") != "GET" {
			t.Errorf("HEAD %s: got %d, Allow %q; want 405, GET", path, head.StatusCode, head.Header.Get("Allow"))
		}
		next, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
		if err != nil {
			t.Fatalf("the request pipelined after HEAD %s: %v", path, err)
		}
		b, _ := io.ReadAll(next.Body)
		next.Body.Close()
		if next.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ok"`) {
			t.Errorf("the request pipelined after HEAD %s: got %d %s, want the health answer", path, next.StatusCode, b)
		}
		conn.Close()
	}
}

// TestWSTypingChecked reproduces typing floods and typing for made-up
// tasks: a taskId must name a task of the board and be short, and a
// connection's messages beyond its bucket are refused, while the
// connection stays open.
func TestWSTypingChecked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		taskOfOtherBoard := ""
		{
			var b struct {
				ID string `json:"id"`
			}
			e.do(http.MethodPost, "/boards", `{"name":"Other"}`, "Authorization", "Bearer "+e.alice).want(t, http.StatusCreated, &b)
			var l struct {
				ID string `json:"id"`
			}
			e.do(http.MethodPost, "/boards/"+b.ID+"/lists", `{"name":"L"}`, "Authorization", "Bearer "+e.alice).want(t, http.StatusCreated, &l)
			var task struct {
				ID string `json:"id"`
			}
			e.do(http.MethodPost, "/tasks", `{"title":"T","listId":"`+l.ID+`"}`, "Authorization", "Bearer "+e.alice).want(t, http.StatusCreated, &task)
			taskOfOtherBoard = task.ID
		}
		ws := e.bearerWS(e.alice)
		ws.join("board-1", -1)
		for _, tc := range []struct{ taskID, want string }{
			{"no-such-task", "Task not found"},
			{taskOfOtherBoard, "Task not found"},
			{strings.Repeat("x", 60000), "Invalid field: taskId is too long"},
		} {
			ws.send(map[string]any{"type": "typing", "boardId": "board-1", "taskId": tc.taskID})
			if m := ws.expect("error"); !strings.Contains(string(m.raw), `"`+tc.want+`"`) || len(m.raw) > 1000 {
				t.Errorf("typing in %.20q: got %.200s, want %q", tc.taskID, m.raw, tc.want)
			}
		}

		// A flood: the messages beyond the bucket are refused.
		for range 300 {
			ws.send(`{"type":"typing","boardId":"board-1","taskId":"task-1"}`)
		}
		refused := 0
		ws.send(`{"type":"ping"}`)
		for {
			m := ws.mustNext()
			if m.Type == "pong" {
				break
			}
			if m.Type == "error" && strings.Contains(string(m.raw), "Too many messages") {
				refused++
			}
		}
		if refused == 0 {
			t.Errorf("300 typing messages at once: none refused, want those beyond the connection's bucket")
		}
	})
}
