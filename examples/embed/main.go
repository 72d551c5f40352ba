// Command embed runs task boards inside an existing Go service.
//
// The service has users of its own: a sign-in proxy in front of it (such
// as oauth2-proxy) authenticates them and passes who they are in the
// X-Forwarded-User, X-Forwarded-Email and X-Forwarded-Preferred-Username
// headers. The service mounts the board API and the web page under /board/,
// creates each user in the board store on their first request, and runs a
// forwarder that posts every change of one board to a chat webhook. The
// forwarder saves the seq of the last event it posted, so after a restart
// it goes on exactly where it stopped.
//
//	go run ./examples/embed -addr localhost:8080 -db embed.db
//	curl -H 'X-Forwarded-User: ann' -H 'X-Forwarded-Email: ann@example.com' localhost:8080/board/boards
//
// To forward a board's changes, add the forwarder's user ("chat-bot") to the
// board and start the service with -follow BOARD_ID -chat URL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/web"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	dsn := flag.String("db", "embed.db", "SQLite file or postgres:// URL")
	follow := flag.String("follow", "", "the board whose changes go to the chat (the chat-bot user must be a member)")
	chat := flag.String("chat", "", "the chat webhook URL that receives each change as JSON")
	cursor := flag.String("cursor", "chat.cursor", "the file that keeps the seq of the last change posted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, config{addr: *addr, dsn: *dsn, follow: *follow, chat: *chat, cursor: *cursor}); err != nil {
		log.Fatalf("embed: %v", err)
	}
}

type config struct {
	addr, dsn            string
	follow, chat, cursor string
	// listening, when set, is told the address the service listens on.
	listening func(addr string)
}

func run(ctx context.Context, cfg config) error {
	store, err := taskboard.Open(ctx, cfg.dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()

	api := httpapi.New(store, &httpapi.Options{
		Authenticator:  httpapi.AuthenticatorFunc(proxyUser),
		ProvisionUsers: true,
		Logger:         slog.Default(),
	})
	srv := &http.Server{
		Addr:              cfg.addr,
		Handler:           newMux(api),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second, // streams lift it for themselves
	}

	// The forwarder's user exists from the start, so that board members
	// can add it to their boards.
	bot, err := store.ProvisionUser(ctx, chatBot)
	if err != nil {
		return err
	}
	fwdDone := make(chan error, 1)
	fwdCtx, stopForwarder := context.WithCancel(ctx)
	defer stopForwarder()
	if cfg.follow != "" && cfg.chat != "" {
		f := &forwarder{
			store:  store,
			actor:  taskboard.Actor{UserID: bot.ID, ReadOnly: true},
			board:  cfg.follow,
			cursor: cfg.cursor,
			post:   postJSON(http.DefaultClient, cfg.chat),
			log:    slog.Default(),
		}
		go func() { fwdDone <- f.run(fwdCtx) }()
	} else {
		fwdDone <- nil
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Printf("listening on http://%s (boards under /board/)", ln.Addr())
	if cfg.listening != nil {
		cfg.listening(ln.Addr().String())
	}
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	// End the API's streams first: Shutdown would wait for them forever.
	api.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	stopForwarder()
	if ferr := <-fwdDone; ferr != nil && !errors.Is(ferr, context.Canceled) && err == nil {
		err = ferr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newMux is the service's own routes, with the board API and page mounted
// under /board/.
func newMux(api http.Handler) http.Handler {
	board := http.NewServeMux()
	board.Handle("GET /{$}", web.Handler())
	board.Handle("GET /static/", web.Handler())
	board.Handle("/", api)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "my service; the task boards are under /board/")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/board/", http.StripPrefix("/board", board))
	return mux
}

// proxyUser authenticates a request by the headers of the sign-in proxy in
// front of the service. Only the proxy can reach the service, so the
// headers are trusted; the browser's cookie for the proxy is what really
// signs the request in, so the identity counts as sent by the browser, and
// the API accepts its writes only from the service's own origin.
func proxyUser(r *http.Request) (*httpapi.Identity, error) {
	id := r.Header.Get("X-Forwarded-User")
	if id == "" {
		return nil, httpapi.ErrUnauthorized
	}
	email := r.Header.Get("X-Forwarded-Email")
	name := r.Header.Get("X-Forwarded-Preferred-Username")
	if name == "" {
		name = id
	}
	return &httpapi.Identity{
		User:          taskboard.User{ID: id, Name: name, Email: email},
		SentByBrowser: true,
	}, nil
}
