package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
)

// The API over a store, with the built-in authenticator: bearer tokens,
// session cookies and tickets, kept in the store's database.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "taskboard-example")
	defer os.RemoveAll(dir)
	store, err := taskboard.Open(ctx, filepath.Join(dir, "tb.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	alice, err := store.CreateUser(ctx, taskboard.UserCreate{Name: "Alice", Email: "alice@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	_, token, err := auth.New(store, nil).CreateToken(ctx, alice.ID)
	if err != nil {
		log.Fatal(err)
	}

	api := httpapi.New(store, nil)
	defer api.Close() // before the store: it ends the API's streams
	srv := httptest.NewServer(api)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/boards", strings.NewReader(`{"name":"Sprint 12"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("POST /boards:", resp.Status)

	resp, err = http.Get(srv.URL + "/boards")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("GET /boards without a token:", resp.Status)
	// Output:
	// POST /boards: 201 Created
	// GET /boards without a token: 401 Unauthorized
}

// A program that authenticates its users itself passes them in with its
// own Authenticator; ProvisionUsers creates each in the store on their
// first request. The built-in authenticator comes after it, for API
// tokens; with the built-in one among them, the session and ticket routes
// are served too.
func ExampleAuthenticatorFunc() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "taskboard-example")
	defer os.RemoveAll(dir)
	store, err := taskboard.Open(ctx, filepath.Join(dir, "tb.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// The program's users, by a header its sign-in proxy sets.
	proxyUser := httpapi.AuthenticatorFunc(func(r *http.Request) (*httpapi.Identity, error) {
		id := r.Header.Get("X-Forwarded-User")
		if id == "" {
			return nil, httpapi.ErrUnauthorized // the next authenticator may know the caller
		}
		return &httpapi.Identity{
			User: taskboard.User{ID: id, Name: id, Email: r.Header.Get("X-Forwarded-Email")},
			// The browser sends what signs it in by itself (the proxy's
			// cookie): writes must come from the service's own origin.
			SentByBrowser: true,
		}, nil
	})
	api := httpapi.New(store, &httpapi.Options{
		Authenticator:  httpapi.FirstOf(proxyUser, httpapi.NewBuiltin(auth.New(store, nil))),
		ProvisionUsers: true,
	})
	defer api.Close()
	srv := httptest.NewServer(api)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/users/me", nil)
	req.Header.Set("X-Forwarded-User", "emp-42")
	req.Header.Set("X-Forwarded-Email", "erin@example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, strings.TrimSpace(string(body)))

	u, err := store.UserByEmail(ctx, "erin@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("in the store:", u.ID)
	// Output:
	// 200 OK {"id":"emp-42","name":"emp-42","email":"erin@example.com"}
	// in the store: emp-42
}
