// Command embed shows the taskboard API inside an existing service: the
// service keeps its own routes and mounts the API under /taskboard/. On a
// fresh database it creates a user with a board and prints her token.
//
//	go run ./examples/embed -addr :8080 -db embed.db
//	curl -H 'Authorization: Bearer <token>' localhost:8080/taskboard/boards
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	dsn := flag.String("db", "embed.db", "SQLite file or postgres:// URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *dsn); err != nil {
		log.Fatalf("embed: %v", err)
	}
}

func run(ctx context.Context, addr, dsn string) error {
	store, err := taskboard.Open(ctx, dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	// The API's credentials; revocations through creds take effect at once.
	creds := auth.New(store, nil)
	if err := firstRun(ctx, store, creds); err != nil {
		return err
	}

	api := httpapi.New(store, &httpapi.Options{PublicURL: "http://" + addr, Authenticator: httpapi.NewBuiltin(creds)})

	// The service's own routes, and the API beside them under a prefix.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "my service; the task board API is under /taskboard/")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/taskboard/", http.StripPrefix("/taskboard", api))

	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second, // streams lift it for themselves
	}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	log.Printf("listening on http://%s (API under /taskboard/)", addr)
	select {
	case err := <-served:
		api.Close()
		return err
	case <-ctx.Done():
	}
	// End the API's streams first: Shutdown would wait for them forever.
	api.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// firstRun gives a database without users a user, Alice, with a board, and
// prints her API token.
func firstRun(ctx context.Context, store *taskboard.Board, creds *auth.Store) error {
	if has, err := store.HasUsers(ctx); err != nil || has {
		return err
	}
	alice, err := store.CreateUser(ctx, taskboard.UserCreate{ID: "alice", Name: "Alice", Email: "alice@example.com"})
	if err != nil {
		return err
	}
	board, err := store.CreateBoard(ctx, taskboard.Actor{UserID: alice.ID}, "Alice's board")
	if err != nil {
		return err
	}
	_, secret, err := creds.CreateToken(ctx, alice.ID)
	if err != nil {
		return err
	}
	fmt.Printf("created Alice and her board %s; Alice's token: %s\n", board.ID, secret)
	return nil
}
