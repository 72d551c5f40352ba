package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/internal/demo"
)

// TestBrowserPresenceOnOpenBoard: the page follows every board of the user
// on one connection but counts them present on the open board only;
// switching boards moves them (the board left loses them after the grace
// period). Over a WebSocket and over SSE.
func TestBrowserPresenceOnOpenBoard(t *testing.T) {
	browser := newBrowser(t)
	for _, tc := range []struct {
		transport string
		blocked   func(path string) bool
	}{
		{"ws", func(string) bool { return false }},
		{"sse", func(p string) bool { return p == "/ws" }},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			s := &pageServer{t: t, dbPath: filepath.Join(t.TempDir(), "taskboard.db"), addr: "127.0.0.1:0",
				presenceGrace: 300 * time.Millisecond,
				wrap: func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if tc.blocked(r.URL.Path) {
							http.Error(w, "blocked by the test", http.StatusForbidden)
							return
						}
						next.ServeHTTP(w, r)
					})
				}}
			s.start()
			t.Cleanup(s.stop)
			ctx := context.Background()
			if _, err := demo.Seed(ctx, s.store); err != nil {
				t.Fatal(err)
			}
			_, token, err := auth.New(s.store, nil).CreateToken(ctx, demo.Alice)
			if err != nil {
				t.Fatal(err)
			}
			api, err := client.New(s.url(), client.WithToken(token))
			if err != nil {
				t.Fatal(err)
			}
			boards := []string{demo.Board}
			for i := 2; i <= 3; i++ {
				b, err := api.CreateBoard(ctx, fmt.Sprintf("Board %d", i))
				if err != nil {
					t.Fatal(err)
				}
				boards = append(boards, b.ID)
			}
			// presentOn returns the boards where GET presence lists Alice.
			presentOn := func() []string {
				t.Helper()
				var on []string
				for _, id := range boards {
					users, err := api.Presence(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if slices.ContainsFunc(users, func(u taskboard.PresenceEntry) bool { return u.ID == demo.Alice }) {
						on = append(on, id)
					}
				}
				return on
			}
			waitPresent := func(what string, want ...string) {
				t.Helper()
				waitFor(t, fmt.Sprintf("%s: Alice present on %v and nowhere else", what, want), 15*time.Second, func() bool {
					return slices.Equal(presentOn(), want)
				})
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
			alice.waitFor("3 boards in the switcher", `document.querySelectorAll('#board-select option').length === 3`, 10*time.Second)
			waitPresent("the page open on board-1", demo.Board)

			// Switch to the second board: present there, gone from board-1
			// once the grace period has passed.
			alice.eval(fmt.Sprintf(`(() => { const s = document.getElementById('board-select'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, boards[1]), nil)
			alice.waitFor("the second board open", fmt.Sprintf(`new URLSearchParams(location.search).get('board') === %q`, boards[1]), 10*time.Second)
			waitPresent("switched to "+boards[1], boards[1])
			alice.waitLive(tc.transport)

			// The page still follows board-1: a change there marks it.
			if _, err := api.CreateTask(ctx, client.TaskCreate{Title: "News", ListID: "list-todo"}); err != nil {
				t.Fatal(err)
			}
			alice.waitFor("the mark of board-1", `document.querySelector('#board-select option[value="board-1"]').dataset.unread === '1'`, 15*time.Second)
			waitPresent("after a change on board-1", boards[1])
		})
	}
}
