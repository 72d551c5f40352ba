package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/demo"
)

// TestBrowserWebhooks adds a webhook from the page, sees its secret once,
// its deliveries in the latest attempts, pauses and deletes it.
func TestBrowserWebhooks(t *testing.T) {
	browser := newBrowser(t)
	var got atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer recv.Close()
	s := &pageServer{t: t, dbPath: filepath.Join(t.TempDir(), "taskboard.db"), addr: "127.0.0.1:0",
		opts: &taskboard.Options{Webhooks: true, WebhookAllowPrivate: true}}
	s.start()
	t.Cleanup(s.stop)
	if _, err := demo.Seed(context.Background(), s.store); err != nil {
		t.Fatal(err)
	}
	alice := openPage(t, browser, "alice")
	alice.signInDemo(s.url(), demo.Alice)
	alice.waitLive("ws")
	alice.waitFor("the Webhooks button", `!document.getElementById('webhooks-button').hidden`, 10*time.Second)
	alice.do(10*time.Second,
		chromedp.Click(chromedp.CSS("#webhooks-button")),
		chromedp.WaitVisible(chromedp.CSS("#webhook-url")),
		chromedp.SendKeys(chromedp.CSS("#webhook-url"), recv.URL+"/hook"),
		chromedp.SendKeys(chromedp.CSS("#webhook-events"), "task_created"),
		chromedp.Click(chromedp.CSS(`#webhook-form [type=submit]`)),
	)
	alice.waitFor("the secret", `document.getElementById('webhook-secret-value').value.startsWith('whsec_')`, 10*time.Second)
	alice.waitFor("the webhook listed", `document.querySelectorAll('#webhook-list .webhook').length === 1`, 10*time.Second)
	if _, err := s.store.CreateTask(context.Background(), taskboard.Actor{UserID: demo.Alice}, taskboard.TaskCreate{ListID: "list-todo", Title: "hooked"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", 10*time.Second, func() bool { return got.Load() == 1 })
	alice.do(10*time.Second, chromedp.Click(chromedp.CSS(`#webhook-list .webhook-actions button:nth-child(2)`)))
	alice.waitFor("the attempt listed", `(() => {
		const a = document.querySelector('#webhook-list .webhook-attempts .attempt-ok');
		if (a) return true;
		document.querySelector('#webhook-list .webhook-actions button:nth-child(2)').click();
		document.querySelector('#webhook-list .webhook-actions button:nth-child(2)').click();
		return false;
	})()`, 10*time.Second)
	// The list is drawn again by every refresh the clicks above started, so
	// a button is clicked in the page, where it cannot be replaced between
	// being found and being clicked.
	alice.eval(`document.querySelector('#webhook-list .webhook-actions button:nth-child(1)').click(), true`, nil)
	alice.waitFor("paused", `document.querySelector('#webhook-list .webhook-status')?.textContent === 'paused'`, 10*time.Second)
	alice.eval(`document.querySelector('#webhook-list .webhook-actions button:nth-child(3)').click(), true`, nil)
	alice.do(10*time.Second,
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
	)
	alice.waitFor("no webhook", `document.querySelectorAll('#webhook-list .webhook').length === 0`, 10*time.Second)
	hooks, err := s.store.Webhooks(context.Background(), taskboard.Actor{UserID: demo.Alice}, demo.Board)
	if err != nil || len(hooks) != 0 {
		t.Fatalf("Webhooks after the deletion: %v, %v", hooks, err)
	}
}
