// Command webhook-receiver receives a taskboard webhook's deliveries,
// checks their signatures with webhook.Verify, drops repeats by their
// webhook-id, and prints each event.
//
//	go run ./examples/webhook-receiver -addr 127.0.0.1:8080 -secret whsec_...
//
// Create the webhook with the receiver's URL (a server running with
// --webhook-allow-private for a receiver on the same machine):
//
//	curl -X POST -H "Authorization: Bearer $TOKEN" \
//	  -d '{"url":"http://127.0.0.1:8080/hook"}' http://localhost:3000/boards/board-1/webhooks
//
// and pass the secret of its answer with -secret.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/taskboard/taskboard/webhook"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	secret := flag.String("secret", os.Getenv("WEBHOOK_SECRET"), "the webhook's secret, whsec_... (default $WEBHOOK_SECRET)")
	flag.Parse()
	if _, err := webhook.DecodeSecret(*secret); err != nil {
		log.Fatal("webhook-receiver: -secret must be the webhook's whsec_ secret")
	}
	http.Handle("POST /hook", newReceiver(*secret, func(id string, body []byte) {
		log.Printf("%s %s", id, body)
	}))
	log.Printf("webhook-receiver: listening on http://%s/hook", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

// receiver acknowledges genuine deliveries and hands each one to handle
// once: a delivery repeated with the same webhook-id is acknowledged
// again and not handled.
type receiver struct {
	secret string
	handle func(id string, body []byte)

	mu   sync.Mutex
	seen map[string]bool // a real receiver keeps these in its database
}

func newReceiver(secret string, handle func(id string, body []byte)) *receiver {
	return &receiver{secret: secret, handle: handle, seen: map[string]bool{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := webhook.Verify(rc.secret, r.Header, body, time.Now()); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get(webhook.HeaderID)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.seen[id] {
		rc.seen[id] = true
		rc.handle(id, body)
	}
	w.WriteHeader(http.StatusNoContent)
}
