package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// The receiver handles each event of a real store's webhook once, a
// replay's repeats included, and refuses what is not signed.
func TestReceiver(t *testing.T) {
	ctx := context.Background()
	store, err := taskboard.Open(ctx, dbtest.SQLite(t), &taskboard.Options{
		Webhooks: true, WebhookAllowPrivate: true, WebhookRetryMin: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := demo.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	alice := taskboard.Actor{UserID: demo.Alice}
	var mu sync.Mutex
	var handled []string
	secret := make(chan string, 1)
	var rc *receiver
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			rc = newReceiver(<-secret, func(id string, body []byte) {
				mu.Lock()
				handled = append(handled, id)
				mu.Unlock()
			})
		})
		rc.ServeHTTP(w, r)
	}))
	defer srv.Close()
	hook, err := store.CreateWebhook(ctx, alice, demo.Board, taskboard.WebhookCreate{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	secret <- hook.Secret
	for _, title := range []string{"one", "two"} {
		if _, err := store.CreateTask(ctx, alice, taskboard.TaskCreate{ListID: "list-todo", Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(handled) }
	waitUntil(t, func() bool { return count() == 2 })
	if _, err := store.ReplayWebhook(ctx, alice, hook.ID, 0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		a, err := store.WebhookDeliveries(ctx, alice, hook.ID, 0)
		return err == nil && len(a) == 4
	})
	if n := count(); n != 2 {
		t.Fatalf("handled %d deliveries, want 2: %v", n, handled)
	}
	res, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"type":"task_created"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned POST: got %d, want 401", res.StatusCode)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("waited 20s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
