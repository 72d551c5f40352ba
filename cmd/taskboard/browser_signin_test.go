package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/internal/demo"
)

// pageProblems keeps what went wrong on a page, as its developer tools
// would show it: console errors and failed assertions, uncaught
// exceptions, errors of the browser log (a failed resource among them),
// HTTP answers of 400 and more, and requests that failed without one.
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

// watchProblems starts keeping the problems of p.
func watchProblems(t *testing.T, p *page) *pageProblems {
	t.Helper()
	pp := &pageProblems{}
	err := chromedp.Listen(p.ctx, func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					if a.Description != "" {
						args = append(args, a.Description)
					} else {
						args = append(args, string(a.Value))
					}
				}
				problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			problem = "exception: " + d.Text
			if d.Exception != nil {
				problem += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				problem = "log (" + string(ev.Entry.Source) + "): " + ev.Entry.Text + " " + ev.Entry.URL
			}
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				problem = fmt.Sprintf("response %d to %s", ev.Response.Status, ev.Response.URL)
			}
		case *network.EventLoadingFailed:
			// A canceled request is one the page ended itself (a stream
			// closed, a navigation).
			if !ev.Canceled {
				problem = fmt.Sprintf("request %s failed: %s", ev.RequestID, ev.ErrorText)
			}
		}
		if problem != "" {
			pp.mu.Lock()
			pp.list = append(pp.list, problem)
			pp.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("%s: listen: %v", p.name, err)
	}
	return pp
}

// none fails the test if the page had a problem by the time of a
// round trip to it (events that the browser sent before its answer have
// been seen).
func (pp *pageProblems) none(p *page, when string) {
	p.t.Helper()
	p.eval(`true`, nil)
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.list) > 0 {
		p.t.Errorf("%s: %s: the page had problems:\n%s", p.name, when, strings.Join(pp.list, "\n"))
		pp.list = nil
	}
}

// signInOptions returns the demo users the sign-in page offers (their IDs
// and the buttons' texts) and whether it shows the token form.
func signInOptions(p *page) (demoUsers [][2]string, token bool) {
	p.t.Helper()
	var out struct {
		Demo  [][2]string
		Token bool
	}
	p.eval(`({
		demo: document.getElementById('demo').hidden ? [] :
			[...document.querySelectorAll('#demo [data-demo-user]')].map((b) => [b.dataset.demoUser, b.textContent]),
		token: !document.getElementById('token-form').hidden,
	})`, &out)
	return out.Demo, out.Token
}

// TestBrowserSignInClean loads the sign-in page on a demo server and on one
// without demo sign-in: the page learns what it needs from GET /sessions,
// with no request that fails and nothing on the console, shows the demo
// buttons only on the demo server, and signs in to a board that loads and
// goes live as cleanly. Signed in, a reload opens the board at once.
func TestBrowserSignInClean(t *testing.T) {
	browser := newBrowser(t)
	// requestsOnLoad checks what the page asked while loading.
	requestsOnLoad := func(t *testing.T, f *faults) {
		t.Helper()
		if n := f.count("GET", "/sessions"); n != 1 {
			t.Errorf("GET /sessions on load: %d requests, want 1", n)
		}
		for _, r := range [][2]string{{"GET", "/users/me"}, {"POST", "/sessions/demo"}, {"POST", "/sessions"}} {
			if n := f.count(r[0], r[1]); n != 0 {
				t.Errorf("%s %s on load: %d requests, want none", r[0], r[1], n)
			}
		}
	}

	t.Run("demo server", func(t *testing.T) {
		f := &faults{}
		s := startPageServer(t, f.wrap)
		p := openPage(t, browser, "visitor")
		problems := watchProblems(t, p)
		p.do(30*time.Second,
			chromedp.Navigate(s.url()+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#signin`)),
		)
		demoUsers, token := signInOptions(p)
		if want := [][2]string{{demo.Alice, "Continue as Alice"}, {demo.Bob, "Continue as Bob"}}; fmt.Sprint(demoUsers) != fmt.Sprint(want) || !token {
			t.Errorf("sign-in options: got demo %v, token form %v, want %v and the token form", demoUsers, token, want)
		}
		var focused string
		p.eval(`document.activeElement?.dataset?.demoUser ?? ''`, &focused)
		if focused != demo.Alice {
			t.Errorf("focused: got %q, want the first demo button", focused)
		}
		problems.none(p, "the sign-in page")
		requestsOnLoad(t, f)

		// As the board's owner, who sees the Webhooks button.
		button := chromedp.CSS(`[data-demo-user="` + demo.Alice + `"]`)
		p.do(30*time.Second, chromedp.Click(button), chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="task-1"]`)))
		p.waitLive("ws")
		var name string
		p.eval(`document.getElementById('me-name').textContent`, &name)
		if name != "Alice" {
			t.Errorf("signed in as %q, want Alice", name)
		}
		p.waitFor("the Webhooks button", `!document.getElementById('webhooks-button').hidden`, 10*time.Second)
		problems.none(p, "signed in, the board live")

		// Signed in, the page opens the board from GET /sessions alone.
		before := f.count("GET", "/sessions")
		p.do(30*time.Second,
			chromedp.Navigate(s.url()+"/"),
			chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="task-1"]`)),
		)
		p.waitLive("ws")
		if n := f.count("GET", "/sessions") - before; n != 1 {
			t.Errorf("GET /sessions on reload: %d requests, want 1", n)
		}
		if n := f.count("GET", "/users/me"); n != 0 {
			t.Errorf("GET /users/me: %d requests, want none", n)
		}
		problems.none(p, "reloaded signed in")

		p.do(10*time.Second, chromedp.Click(chromedp.CSS(`#signout`)), chromedp.WaitVisible(button))
		problems.none(p, "signed out")

		// As an editor: the page knows from the board's members that Bob
		// manages no webhooks, and asks nothing (GET .../webhooks would be
		// 403).
		bob := chromedp.CSS(`[data-demo-user="` + demo.Bob + `"]`)
		p.do(30*time.Second, chromedp.Click(bob), chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="task-1"]`)))
		p.waitLive("ws")
		p.eval(`document.getElementById('me-name').textContent`, &name)
		if name != "Bob" {
			t.Errorf("signed in as %q, want Bob", name)
		}
		var hidden bool
		p.eval(`document.getElementById('webhooks-button').hidden`, &hidden)
		if !hidden {
			t.Error("Bob, an editor, is shown the Webhooks button")
		}
		problems.none(p, "Bob on the board, live")
		if n := f.count("GET", "/boards/"+demo.Board+"/webhooks"); n != 0 {
			t.Errorf("GET /boards/%s/webhooks: %d requests, want none (the page knows the role)", demo.Board, n)
		}
		p.do(10*time.Second, chromedp.Click(chromedp.CSS(`#signout`)), chromedp.WaitVisible(bob))
		problems.none(p, "Bob signed out")
	})

	t.Run("server without demo sign-in", func(t *testing.T) {
		f := &faults{}
		// A database the demo data was never seeded into: demo mode is on,
		// but there is no demo to sign in to.
		s := &pageServer{t: t, dbPath: filepath.Join(t.TempDir(), "taskboard.db"), addr: "127.0.0.1:0", wrap: f.wrap}
		s.start()
		t.Cleanup(s.stop)
		ctx := context.Background()
		carol, err := s.store.CreateUser(ctx, taskboard.UserCreate{Name: "Carol", Email: "carol@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := auth.New(s.store, nil).CreateToken(ctx, carol.ID)
		if err != nil {
			t.Fatal(err)
		}
		as := taskboard.Actor{UserID: carol.ID}
		board, err := s.store.CreateBoard(ctx, as, "Launch")
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.store.CreateList(ctx, as, board.ID, taskboard.ListCreate{Name: "To Do"})
		if err != nil {
			t.Fatal(err)
		}
		task, err := s.store.CreateTask(ctx, as, taskboard.TaskCreate{ListID: list.ID, Title: "Write the plan"})
		if err != nil {
			t.Fatal(err)
		}

		p := openPage(t, browser, "visitor")
		problems := watchProblems(t, p)
		p.do(30*time.Second,
			chromedp.Navigate(s.url()+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#token-form`)),
		)
		demoUsers, tokenForm := signInOptions(p)
		var buttons int
		p.eval(`document.querySelectorAll('[data-demo-user]').length`, &buttons)
		if len(demoUsers) != 0 || buttons != 0 || !tokenForm {
			t.Errorf("sign-in options: got demo %v (%d buttons), token form %v, want no demo and the token form", demoUsers, buttons, tokenForm)
		}
		problems.none(p, "the sign-in page")
		requestsOnLoad(t, f)

		p.do(30*time.Second,
			chromedp.SendKeys(chromedp.CSS(`#token`), token),
			chromedp.Click(chromedp.CSS(`#token-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="`+task.ID+`"]`)),
		)
		p.waitLive("ws")
		problems.none(p, "signed in, the board live")
	})
}
