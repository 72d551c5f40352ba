package client_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// cutProxy forwards TCP connections to a server; Cut closes those open.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	opened int
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, "listen", err)
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.opened++
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.Cut(); p.wg.Wait() })
	return p
}

// Cut closes every open connection.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Connections cut while a writer goes on lose and repeat nothing: every
// event arrives exactly once, in seq order.
func TestFollowCutWhileWriting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, nil)
		for _, m := range followModes {
			t.Run(m.name, func(t *testing.T) {
				ctx := context.Background()
				alice := e.client(e.alice)
				snap, err := alice.Snapshot(ctx, demo.Board)
				check(t, "Snapshot", err)
				proxy := newCutProxy(t, e.addr)
				follower, err := client.New("http://"+proxy.ln.Addr().String(), client.WithToken(e.alice))
				check(t, "New", err)
				// A buffer of one keeps the stream's reader behind the server,
				// so that cuts fall in the middle of the stream.
				s := follower.Follow(ctx, demo.Board, snap.Seq, append(m.opts, client.WithBuffer(1))...)
				defer s.Close()

				const n = 40
				done := make(chan error, 1)
				go func() {
					for i := 1; i <= n; i++ {
						if _, err := alice.CreateTask(ctx, client.TaskCreate{Title: fmt.Sprintf("w %d", i), ListID: "list-todo"}); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
				for i := int64(1); i <= n; i++ {
					ev := nextLogged(t, s)
					if ev.Seq != snap.Seq+i || ev.Type != taskboard.EventTaskCreated {
						t.Fatalf("got %s %d, want task_created %d", ev.Type, ev.Seq, snap.Seq+i)
					}
					if i%7 == 0 {
						proxy.Cut()
					}
				}
				check(t, "writer", <-done)
				proxy.mu.Lock()
				opened := proxy.opened
				proxy.mu.Unlock()
				if opened < 2 {
					t.Fatalf("%d connections through the proxy, want at least one reconnect", opened)
				}
			})
		}
	})
}
