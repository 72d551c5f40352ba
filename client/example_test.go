package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/client"
	"github.com/taskboard/taskboard/httpapi"
)

// Create a task and see it come back through Follow, recognised by its
// mutation id.
func Example() {
	// A server over a demo database, and a token for Alice.
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "taskboard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := taskboard.Open(ctx, filepath.Join(dir, "taskboard.db"), nil)
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
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer api.Close()

	// The client.
	c, err := client.New(srv.URL, client.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	board, err := c.CreateBoard(ctx, "Sprint 13")
	if err != nil {
		log.Fatal(err)
	}
	todo, err := c.CreateList(ctx, board.ID, "To do", nil)
	if err != nil {
		log.Fatal(err)
	}
	snap, err := c.Snapshot(ctx, board.ID)
	if err != nil {
		log.Fatal(err)
	}
	stream := c.Follow(ctx, board.ID, snap.Seq)
	defer stream.Close()

	mine := client.NewMutationID()
	task, err := c.CreateTask(client.WithMutationID(ctx, mine),
		client.TaskCreate{Title: "Ship the client", ListID: todo.ID})
	if err != nil {
		log.Fatal(err)
	}
	for ev := range stream.Events() {
		switch {
		case ev.Reset != nil:
			snap = ev.Reset.Snapshot // start again from the board as it is
		case ev.Envelope != nil && ev.Envelope.MutationID != nil && *ev.Envelope.MutationID == mine:
			fmt.Println(ev.Type, ev.Envelope.Task.Title, ev.Envelope.Task.ID == task.ID)
			return
		}
	}
	log.Fatal(stream.Err())
	// Output: task_created Ship the client true
}
