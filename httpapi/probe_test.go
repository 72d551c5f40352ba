package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

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
