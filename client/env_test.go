package client_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/demo"
)

// env is a taskboard server over a demo database: Alice owns board-1, Bob
// is an editor, Carol is a member of no board. It can be restarted on the
// same database and address.
type env struct {
	t         *testing.T
	dsn       string
	storeOpts taskboard.Options
	store     *taskboard.Board
	api       *httpapi.Handler
	srv       *httptest.Server
	addr      string

	alice, bob, carol string // tokens
	carolID           string
	admin             string
}

const adminToken = "admin-secret-for-tests"

func newEnv(t *testing.T, dsn string, so *taskboard.Options) *env {
	t.Helper()
	e := &env{t: t, dsn: dsn}
	if so != nil {
		e.storeOpts = *so
	}
	e.storeOpts.MaintenanceInterval = -1
	e.storeOpts.WebhookAllowPrivate = true
	e.open()
	ctx := context.Background()
	if ok, err := demo.Seed(ctx, e.store); err != nil || !ok {
		t.Fatalf("demo.Seed: %v, %v", ok, err)
	}
	creds := auth.New(e.store, nil)
	var err error
	if _, e.alice, err = creds.CreateToken(ctx, demo.Alice); err != nil {
		t.Fatal(err)
	}
	if _, e.bob, err = creds.CreateToken(ctx, demo.Bob); err != nil {
		t.Fatal(err)
	}
	carol, err := e.store.CreateUser(ctx, taskboard.UserCreate{Name: "Carol", Email: "carol@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	e.carolID = carol.ID
	if _, e.carol, err = creds.CreateToken(ctx, carol.ID); err != nil {
		t.Fatal(err)
	}
	e.serve("127.0.0.1:0")
	t.Cleanup(e.stop)
	return e
}

func (e *env) open() {
	e.t.Helper()
	store, err := taskboard.Open(context.Background(), e.dsn, &e.storeOpts)
	if err != nil {
		e.t.Fatalf("taskboard.Open: %v", err)
	}
	e.store = store
}

// serve starts the handler on addr.
func (e *env) serve(addr string) {
	e.t.Helper()
	e.api = httpapi.New(e.store, &httpapi.Options{SessionRate: -1, WriteRate: -1, AdminToken: adminToken,
		HeartbeatInterval: time.Second})
	var ln net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port is released asynchronously
	}
	if err != nil {
		e.t.Fatalf("listen %s: %v", addr, err)
	}
	e.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: e.api}}
	e.srv.Start()
	e.addr = ln.Addr().String()
}

// stop closes the server and the store.
func (e *env) stop() {
	if e.api == nil {
		return
	}
	e.api.Close()
	e.srv.Close()
	e.store.Close()
	e.api = nil
}

// restart stops the server and the store, opens the database again and
// serves it on the same address.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.open()
	e.serve(e.addr)
}

func (e *env) client(token string, opts ...client.Option) *client.Client {
	e.t.Helper()
	c, err := client.New(e.srv.URL, append([]client.Option{client.WithToken(token), client.WithBackoff(20 * time.Millisecond)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
