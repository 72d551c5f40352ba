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

// exampleServer starts a server over a new database and returns a client
// for its first user, Alice, and what stops it all.
func exampleServer() (*client.Client, func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "taskboard-example")
	if err != nil {
		log.Fatal(err)
	}
	store, err := taskboard.Open(ctx, filepath.Join(dir, "taskboard.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
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
	c, err := client.New(srv.URL, client.WithToken(token))
	if err != nil {
		log.Fatal(err)
	}
	return c, func() {
		api.Close()
		srv.Close()
		store.Close()
		os.RemoveAll(dir)
	}
}

// Create a task and see it come back through Follow, recognised by its
// mutation id.
func Example() {
	ctx := context.Background()
	c, stop := exampleServer()
	defer stop()
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

// Follow two boards on one stream, keep the cursor of what was taken in
// as a string (a file, a database row), and resume from it later: each
// board goes on exactly after its own seq.
func ExampleClient_FollowBoards() {
	ctx := context.Background()
	c, stop := exampleServer()
	defer stop()
	lists := map[string]string{} // board id → its list
	names := map[string]string{} // board id → name
	var boards []string
	for _, name := range []string{"Sprint A", "Sprint B"} {
		b, err := c.CreateBoard(ctx, name)
		if err != nil {
			log.Fatal(err)
		}
		l, err := c.CreateList(ctx, b.ID, "To do", nil)
		if err != nil {
			log.Fatal(err)
		}
		boards, lists[b.ID], names[b.ID] = append(boards, b.ID), l.ID, name
	}
	write := func(boardID, title string) {
		if _, err := c.CreateTask(ctx, client.TaskCreate{Title: title, ListID: lists[boardID]}); err != nil {
			log.Fatal(err)
		}
	}

	// No saved cursor yet: each board starts with an EventFollowing and
	// its snapshot.
	saved := ""
	cursor, err := client.ParseCursor(saved)
	if err != nil {
		log.Fatal(err)
	}
	stream := c.FollowBoards(ctx, boards, cursor)
	started, seen := 0, 0
	for ev := range stream.Events() {
		cursor.Update(ev)
		saved = cursor.String()
		switch {
		case ev.Type == client.EventFollowing:
			if started++; started == len(boards) {
				write(boards[0], "Write the client")
			}
		case ev.Reset != nil && ev.Reset.Err != nil:
			fmt.Println("no longer following", names[ev.BoardID], ev.Reset.Err)
		case ev.Envelope != nil:
			fmt.Println(ev.Type, "on", names[ev.BoardID]+":", ev.Envelope.Task.Title)
			if seen++; seen == 1 {
				write(boards[1], "Ship the client")
			}
		}
		if seen == 2 {
			break
		}
	}
	stream.Close()

	// Written while nobody follows; the saved cursor resumes after it all.
	write(boards[0], "Fix what users found")
	cursor, err = client.ParseCursor(saved)
	if err != nil {
		log.Fatal(err)
	}
	stream = c.FollowBoards(ctx, boards, cursor)
	defer stream.Close()
	for ev := range stream.Events() {
		cursor.Update(ev)
		if ev.Envelope != nil {
			fmt.Println("resumed:", ev.Type, "on", names[ev.BoardID]+":", ev.Envelope.Task.Title)
			return
		}
	}
	log.Fatal(stream.Err())
	// Output:
	// task_created on Sprint A: Write the client
	// task_created on Sprint B: Ship the client
	// resumed: task_created on Sprint A: Fix what users found
}
