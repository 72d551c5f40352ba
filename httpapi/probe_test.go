package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
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
