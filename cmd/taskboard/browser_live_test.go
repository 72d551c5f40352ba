package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/internal/demo"
)

// TestBrowserOfflineEdits: while the server is away the page says it is
// offline and how many changes wait; an edit made then shows at once, is
// held, and lands once when the server is back.
func TestBrowserOfflineEdits(t *testing.T) {
	browser := newBrowser(t)
	f := &faults{}
	s := startPageServer(t, f.wrap)
	alice := openPage(t, browser, "alice")
	alice.signInDemo(s.url(), demo.Alice)
	alice.waitLive("ws")

	s.stop()
	alice.waitFor("reconnecting", `document.getElementById('conn').dataset.status === 'reconnecting'`, 15*time.Second)
	alice.waitFor("the offline banner", `(() => { const b = document.getElementById('offline'); return !b.hidden && b.textContent.startsWith('Offline'); })()`, 5*time.Second)

	const title = "Written while offline"
	alice.do(10*time.Second,
		chromedp.Click(chromedp.CSS(`.column[data-list-id="list-todo"] .add-task`)),
		chromedp.WaitVisible(chromedp.CSS(`.column[data-list-id="list-todo"] .inline-form textarea`)),
		chromedp.SendKeys(chromedp.CSS(`.column[data-list-id="list-todo"] .inline-form textarea`), title+kb.Enter),
		chromedp.KeyEvent(kb.Escape),
	)
	alice.waitFor("the pending card", fmt.Sprintf(`[...document.querySelectorAll('.column[data-list-id="list-todo"] .card.pending .card-title')].some((e) => e.textContent === %q)`, title), 5*time.Second)
	alice.waitFor("1 change waiting", `document.getElementById('offline').textContent === 'Offline — 1 change waiting'`, 5*time.Second)

	s.start()
	alice.waitFor("the confirmed card", cardsTitled("list-todo", title)+` === 1 && !document.querySelector('.card.pending')`, 45*time.Second)
	alice.waitLive("ws")
	alice.waitFor("the banner gone", `document.getElementById('offline').hidden`, 10*time.Second)

	tasks, _, err := s.store.Tasks(context.Background(), taskboard.Actor{UserID: demo.Alice}, demo.Board)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		if task.Title == title {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the board has %d tasks titled %q, want 1", n, title)
	}
	keys := f.keys("POST", "/tasks")
	if len(keys) == 0 {
		t.Fatal("the server got no POST /tasks")
	}
	for _, k := range keys {
		if k == "" || k != keys[0] {
			t.Errorf("POST /tasks came with keys %q, want one key throughout", keys)
			break
		}
	}
	var cards int
	alice.eval(fmt.Sprintf(`[...document.querySelectorAll('.card-title')].filter((e) => e.textContent === %q).length`, title), &cards)
	if cards != 1 {
		t.Errorf("the page shows %d cards titled %q, want 1", cards, title)
	}
}

// TestBrowserManyBoards: a user on 8 boards has the page open on one of
// them; changes others make on each board reach the page over one
// connection: the open board shows them, the switcher marks the others.
func TestBrowserManyBoards(t *testing.T) {
	browser := newBrowser(t)
	for _, tc := range []struct {
		transport string
		blocked   func(path string) bool
	}{
		{"ws", func(string) bool { return false }},
		{"sse", func(p string) bool { return p == "/ws" }},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			s := startPageServer(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.blocked(r.URL.Path) {
						http.Error(w, "blocked by the test", http.StatusForbidden)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			ctx := context.Background()
			_, token, err := auth.New(s.store, nil).CreateToken(ctx, demo.Alice)
			if err != nil {
				t.Fatal(err)
			}
			api, err := client.New(s.url(), client.WithToken(token))
			if err != nil {
				t.Fatal(err)
			}
			// board-1 and 7 more, each with a list.
			lists := map[string]string{demo.Board: "list-todo"}
			for i := 2; i <= 8; i++ {
				b, err := api.CreateBoard(ctx, fmt.Sprintf("Board %d", i))
				if err != nil {
					t.Fatal(err)
				}
				l, err := api.CreateList(ctx, b.ID, "To Do", nil)
				if err != nil {
					t.Fatal(err)
				}
				lists[b.ID] = l.ID
			}

			alice := openPage(t, browser, "alice")
			button := chromedp.CSS(`[data-demo-user="` + demo.Alice + `"]`)
			alice.do(30*time.Second,
				chromedp.Navigate(s.url()+"/?board="+demo.Board),
				chromedp.WaitVisible(button),
				chromedp.Click(button),
				chromedp.WaitVisible(chromedp.CSS(`.card[data-task-id="task-1"]`)),
			)
			alice.waitLive(tc.transport)
			alice.waitFor("8 boards in the switcher", `document.querySelectorAll('#board-select option').length === 8`, 10*time.Second)

			created := map[string]string{}
			for boardID, listID := range lists {
				task, err := api.CreateTask(ctx, client.TaskCreate{Title: "News on " + boardID, ListID: listID})
				if err != nil {
					t.Fatal(err)
				}
				created[boardID] = task.ID
			}
			alice.waitFor("the new task on the open board", cardIn("list-todo", created[demo.Board]), 15*time.Second)
			for boardID := range lists {
				if boardID == demo.Board {
					continue
				}
				alice.waitFor("the mark of "+boardID, fmt.Sprintf(`(() => {
					const o = document.querySelector('#board-select option[value=%q]');
					return o && o.dataset.unread === '1' && o.label.endsWith('• 1 new');
				})()`, boardID), 15*time.Second)
			}
			var unread string
			alice.eval(`document.querySelector('#board-select option[value="board-1"]').dataset.unread`, &unread)
			if unread != "0" {
				t.Errorf("the open board is marked %q, want 0", unread)
			}

			// One streaming connection for the page, following all 8 boards.
			type connCounts struct {
				Total     int            `json:"total"`
				SSE       int            `json:"sse"`
				WebSocket int            `json:"websocket"`
				LongPoll  int            `json:"longPoll"`
				ByBoard   map[string]int `json:"byBoard"`
			}
			connections := func() connCounts {
				t.Helper()
				req, _ := http.NewRequest("GET", s.url()+"/admin/connections", nil)
				req.Header.Set("Authorization", "Bearer "+pageAdminToken)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var conns connCounts
				if err := json.NewDecoder(res.Body).Decode(&conns); err != nil {
					t.Fatal(err)
				}
				return conns
			}
			conns := connections()
			if conns.Total != 1 || len(conns.ByBoard) != 8 {
				t.Errorf("connections: %+v, want one, on 8 boards", conns)
			}
			if (tc.transport == "ws" && conns.WebSocket != 1) || (tc.transport == "sse" && conns.SSE != 1) {
				t.Errorf("connections: %+v, want one over %s", conns, tc.transport)
			}

			// Opening a marked board shows its news and clears its mark.
			var other string
			for id := range lists {
				if id != demo.Board {
					other = id
					break
				}
			}
			alice.eval(fmt.Sprintf(`(() => { const s = document.getElementById('board-select'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, other), nil)
			alice.waitFor("the other board's task", cardIn(lists[other], created[other]), 10*time.Second)
			alice.waitFor("its mark cleared", fmt.Sprintf(`document.querySelector('#board-select option[value=%q]').dataset.unread === '0'`, other), 5*time.Second)
			// Changes on the board left behind now mark it.
			if _, err := api.CreateTask(ctx, client.TaskCreate{Title: "Later", ListID: "list-todo"}); err != nil {
				t.Fatal(err)
			}
			alice.waitFor("board-1 marked", `document.querySelector('#board-select option[value="board-1"]').dataset.unread === '1'`, 15*time.Second)

			// A board Alice is added to while the page is open is followed
			// on the same connection and joins the switcher; its news marks
			// it.
			_, bobToken, err := auth.New(s.store, nil).CreateToken(ctx, demo.Bob)
			if err != nil {
				t.Fatal(err)
			}
			bob, err := client.New(s.url(), client.WithToken(bobToken))
			if err != nil {
				t.Fatal(err)
			}
			bobs, err := bob.CreateBoard(ctx, "Bob's board")
			if err != nil {
				t.Fatal(err)
			}
			bobList, err := bob.CreateList(ctx, bobs.ID, "To Do", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.AddMember(ctx, bobs.ID, client.MemberAdd{UserID: demo.Alice}); err != nil {
				t.Fatal(err)
			}
			opt := fmt.Sprintf(`document.querySelector('#board-select option[value=%q]')`, bobs.ID)
			alice.waitFor("the board she was added to in the switcher", opt+` !== null`, 15*time.Second)
			var before int
			alice.eval(`Number(`+opt+`.dataset.unread || 0)`, &before)
			if _, err := bob.CreateTask(ctx, client.TaskCreate{Title: "For Alice", ListID: bobList.ID}); err != nil {
				t.Fatal(err)
			}
			alice.waitFor("the added board marked", fmt.Sprintf(`Number(%s.dataset.unread || 0) === %d`, opt, before+1), 15*time.Second)
			if conns := connections(); conns.Total != 1 || len(conns.ByBoard) != 9 ||
				(tc.transport == "ws" && conns.WebSocket != 1) || (tc.transport == "sse" && conns.SSE != 1) {
				t.Errorf("connections after the board was added: %+v, want one over %s, on 9 boards", conns, tc.transport)
			}
		})
	}
}
