package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// hookSink is a receiver that records the ids and bodies of the deliveries
// whose signature it verified itself, and acknowledges them.
type hookSink struct {
	mu     sync.Mutex
	secret string
	ids    []string
	bad    int
	srv    *httptest.Server
}

func newHookSink(t *testing.T) *hookSink {
	s := &hookSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(s.secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
		if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			s.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.ids = append(s.ids, r.Header.Get("webhook-id"))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *hookSink) got() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...), s.bad
}

func TestWebhookRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		const admin = "admin"
		e := newRESTEnvStore(t, dsn, &httpapi.Options{AdminToken: admin}, &taskboard.Options{
			Webhooks: true, WebhookAllowPrivate: true, WebhookTimeout: time.Second, WebhookRetryMin: time.Millisecond,
		}, nil)
		sink := newHookSink(t)
		res := e.as(e.alice, "POST", "/boards/board-1/webhooks", `{"url":"`+sink.srv.URL+`","events":["task_created","task_moved"],"description":"CI"}`).want(t, http.StatusCreated)
		var hook struct {
			ID, BoardID, URL, Description, Status, Secret string
			Events                                        []string
			CreatedAt                                     time.Time `json:"created_at"`
		}
		res.decode(t, &hook)
		obj := res.object(t)
		if obj["board_id"] != "board-1" || obj["status"] != "active" || !strings.HasPrefix(hook.Secret, "whsec_") || len(hook.Events) != 2 || hook.CreatedAt.IsZero() {
			t.Fatalf("POST webhooks: got %s", res.Body)
		}
		sink.mu.Lock()
		sink.secret = hook.Secret
		sink.mu.Unlock()
		for _, path := range []string{"/webhooks/" + hook.ID, "/boards/board-1/webhooks"} {
			body := string(e.as(e.alice, "GET", path, "").want(t, http.StatusOK).Body)
			if strings.Contains(body, "secret") || !strings.Contains(body, hook.ID) {
				t.Fatalf("GET %s: got %s, want the webhook without its secret", path, body)
			}
		}
		seq := e.boardSeq("board-1")
		task := e.newTask(e.alice, "list-todo", "hooked")
		e.as(e.alice, "PATCH", "/tasks/"+task.ID, `{"title":"not delivered"}`).want(t, http.StatusOK)
		e.as(e.alice, "PATCH", "/tasks/"+task.ID+"/move", `{"listId":"list-done","position":0}`).want(t, http.StatusOK)
		want := []string{"board-1:" + rtItoa(seq+1), "board-1:" + rtItoa(seq+3)}
		waitHook(t, "the deliveries", func() bool { ids, _ := sink.got(); return len(ids) >= 2 })
		if ids, bad := sink.got(); strings.Join(ids, " ") != strings.Join(want, " ") || bad != 0 {
			t.Fatalf("delivered %v (%d bad), want %v", ids, bad, want)
		}
		var attempts struct {
			Data []map[string]any `json:"data"`
		}
		waitHook(t, "the attempts", func() bool {
			e.as(e.alice, "GET", "/webhooks/"+hook.ID+"/deliveries?limit=1", "").want(t, http.StatusOK).decode(t, &attempts)
			return len(attempts.Data) == 1 && attempts.Data[0]["seq"] == float64(seq+3)
		})
		if a := attempts.Data[0]; a["status_code"] != float64(200) || a["error"] != nil || a["attempt"] != float64(1) {
			t.Fatalf("deliveries: got %v", a)
		}

		// Pause, replay, and the errors.
		e.as(e.alice, "PATCH", "/webhooks/"+hook.ID, `{"status":"paused"}`).want(t, http.StatusOK)
		e.as(e.alice, "PATCH", "/webhooks/"+hook.ID, `{"status":"disabled"}`).wantValidation(t, "status")
		e.as(e.alice, "PATCH", "/webhooks/"+hook.ID, `{"events":"task_created"}`).wantValidation(t, "events")
		e.as(e.alice, "PATCH", "/webhooks/"+hook.ID, `{"events":["user_typing"]}`).wantValidation(t, "events")
		e.as(e.alice, "POST", "/webhooks/"+hook.ID+"/replay", `{}`).wantValidation(t, "after")
		e.as(e.alice, "POST", "/webhooks/"+hook.ID+"/replay", `{"after":-1}`).wantValidation(t, "after")
		e.as(e.alice, "POST", "/webhooks/"+hook.ID+"/replay", `{"after":99999}`).wantValidation(t, "after")
		e.as(e.alice, "GET", "/webhooks/"+hook.ID+"/deliveries?limit=0", "").wantValidation(t, "limit")
		e.as(e.alice, "POST", "/boards/board-1/webhooks", `{}`).wantValidation(t, "url")
		e.as(e.alice, "POST", "/boards/board-1/webhooks", `{"url":"gopher://x"}`).wantValidation(t, "url")
		e.as(e.carol, "GET", "/webhooks/"+hook.ID, "").wantError(t, http.StatusNotFound, "Webhook not found")
		e.as(e.carol, "GET", "/boards/board-1/webhooks", "").wantError(t, http.StatusNotFound, "Board not found")
		e.as(e.carol, "POST", "/webhooks/"+hook.ID+"/replay", `{"after":0}`).wantError(t, http.StatusNotFound, "Webhook not found")
		e.as(e.alice, "POST", "/webhooks/"+hook.ID+"/replay", `{"after":`+rtItoa(seq)+`}`).want(t, http.StatusAccepted)
		e.as(e.alice, "PATCH", "/webhooks/"+hook.ID, `{"status":"active"}`).want(t, http.StatusOK)
		waitHook(t, "the replay", func() bool { ids, _ := sink.got(); return len(ids) >= 4 })
		if ids, _ := sink.got(); strings.Join(ids[2:], " ") != strings.Join(want, " ") {
			t.Fatalf("replayed %v, want %v again", ids[2:], want)
		}

		// The receiver records a delivery before the sender has its answer.
		var metrics string
		waitHook(t, "the fourth delivery counted", func() bool {
			metrics = string(e.as(admin, "GET", "/metrics", "").want(t, http.StatusOK).Body)
			return strings.Contains(metrics, `taskboard_webhook_deliveries_total{result="ok"} 4`)
		})
		for _, line := range []string{`taskboard_webhook_deliveries_total{result="ok"} 4`, `taskboard_webhook_deliveries_total{result="failed"} 0`, "taskboard_webhook_retries_total 0", "taskboard_webhook_lag_events "} {
			if !strings.Contains(metrics, line) {
				t.Errorf("GET /metrics: no line %q in\n%s", line, grepLines(metrics, "webhook"))
			}
		}
		// A retried creation answers the same webhook and secret.
		body := `{"url":"` + sink.srv.URL + `/second"}`
		first := e.do("POST", "/boards/board-1/webhooks", body, bearerHdr(e.alice).with("Idempotency-Key", "hook-1")).want(t, http.StatusCreated)
		again := e.do("POST", "/boards/board-1/webhooks", body, bearerHdr(e.alice).with("Idempotency-Key", "hook-1")).want(t, http.StatusCreated)
		if string(first.Body) != string(again.Body) || !strings.Contains(string(again.Body), `"secret":"whsec_`) {
			t.Fatalf("retried creation: got %s, want %s", again.Body, first.Body)
		}
		var list struct{ Data []any }
		e.as(e.alice, "GET", "/boards/board-1/webhooks", "").want(t, http.StatusOK).decode(t, &list)
		if len(list.Data) != 2 {
			t.Fatalf("webhooks after a retried creation: %d, want 2", len(list.Data))
		}
		e.as(e.alice, "DELETE", "/webhooks/"+hook.ID, "").want(t, http.StatusNoContent)
		e.as(e.alice, "DELETE", "/webhooks/"+hook.ID, "").wantError(t, http.StatusNotFound, "Webhook not found")
	})
}

// The refusals of addresses webhooks may not reach, on a server without
// --webhook-allow-private.
func TestWebhookRoutesRefusePrivateAddresses(t *testing.T) {
	e := newRESTEnv(t, dbtest.SQLite(t), nil)
	for _, u := range []string{"http://127.0.0.1:8080/", "http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/", "http://localhost/"} {
		body, _ := json.Marshal(map[string]string{"url": u})
		e.as(e.alice, "POST", "/boards/board-1/webhooks", string(body)).wantValidation(t, "url")
	}
	var list struct{ Data []any }
	e.as(e.alice, "GET", "/boards/board-1/webhooks", "").want(t, http.StatusOK).decode(t, &list)
	if len(list.Data) != 0 {
		t.Fatalf("webhooks: got %v, want none", list.Data)
	}
}

// waitHook waits until cond holds, failing t after 20 seconds.
func waitHook(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
