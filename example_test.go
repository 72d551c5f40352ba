package taskboard_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/demo"
)

// Example opens a store, builds a small board, moves a task and follows
// the board's feed.
func Example() {
	dir, err := os.MkdirTemp("", "taskboard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	b, err := taskboard.Open(ctx, filepath.Join(dir, "taskboard.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	alice, err := b.CreateUser(ctx, taskboard.UserCreate{Name: "Alice", Email: "alice@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	board, err := b.CreateBoard(ctx, taskboard.Actor{UserID: alice.ID}, "Sprint 12")
	if err != nil {
		log.Fatal(err)
	}
	todo, err := b.CreateList(ctx, taskboard.Actor{UserID: alice.ID}, board.ID, taskboard.ListCreate{Name: "To Do"})
	if err != nil {
		log.Fatal(err)
	}
	done, err := b.CreateList(ctx, taskboard.Actor{UserID: alice.ID}, board.ID, taskboard.ListCreate{Name: "Done"})
	if err != nil {
		log.Fatal(err)
	}

	// Follow the board from now on.
	sub, err := b.Subscribe(ctx, taskboard.Actor{UserID: alice.ID}, board.ID, -1)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	task, err := b.CreateTask(ctx, taskboard.Actor{UserID: alice.ID}, taskboard.TaskCreate{ListID: todo.ID, Title: "Design login page"})
	if err != nil {
		log.Fatal(err)
	}
	task, err = b.MoveTask(ctx, taskboard.Actor{UserID: alice.ID}, task.ID, taskboard.TaskMove{ListID: done.ID, Position: ptr(0)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q is at position %d of %q, version %d\n", task.Title, task.Position, done.Name, task.Version)

	// Deleting the board ends the feed after its board_deleted event.
	if err := b.DeleteBoard(ctx, taskboard.Actor{UserID: alice.ID}, board.ID); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.Events() {
		env, err := ev.Envelope()
		if err != nil {
			log.Fatal(err)
		}
		switch {
		case env.Task != nil:
			fmt.Println(ev.Seq, ev.Type, env.Task.Title)
		default:
			fmt.Println(ev.Seq, ev.Type)
		}
	}
	fmt.Println("board deleted:", errors.Is(sub.Err(), taskboard.ErrBoardDeleted))
	// Output:
	// "Design login page" is at position 0 of "Done", version 2
	// 3 task_created Design login page
	// 4 task_moved Design login page
	// 5 board_deleted
	// board deleted: true
}

// ExampleBoard_MoveTask shows that positions stay 0..n-1: a move splices
// the task in, and a position past the end means last.
func ExampleBoard_MoveTask() {
	dir, err := os.MkdirTemp("", "taskboard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	b, err := taskboard.Open(ctx, filepath.Join(dir, "taskboard.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if _, err := demo.Seed(ctx, b); err != nil {
		log.Fatal(err)
	}

	show := func() {
		tasks, seq, err := b.Tasks(ctx, taskboard.Actor{UserID: demo.Alice}, demo.Board)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print("seq ", seq, ":")
		for _, t := range tasks {
			fmt.Printf(" %s/%s@%d", t.ListID, t.ID, t.Position)
		}
		fmt.Println()
	}
	show()
	if _, err := b.MoveTask(ctx, taskboard.Actor{UserID: demo.Bob}, "task-4", taskboard.TaskMove{ListID: "list-todo", Position: ptr(1)}); err != nil {
		log.Fatal(err)
	}
	show()
	if _, err := b.MoveTask(ctx, taskboard.Actor{UserID: demo.Bob}, "task-1", taskboard.TaskMove{ListID: "list-todo", Position: ptr(99)}); err != nil {
		log.Fatal(err)
	}
	show()
	// Output:
	// seq 0: list-todo/task-1@0 list-todo/task-2@1 list-progress/task-3@0 list-done/task-4@0
	// seq 1: list-todo/task-1@0 list-todo/task-4@1 list-todo/task-2@2 list-progress/task-3@0
	// seq 2: list-todo/task-4@0 list-todo/task-2@1 list-todo/task-1@2 list-progress/task-3@0
}

// ExampleBoard_Subscribe resumes a feed after the last seq a client saw:
// it gets what it missed from the log, then live events.
func ExampleBoard_Subscribe() {
	dir, err := os.MkdirTemp("", "taskboard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	b, err := taskboard.Open(ctx, filepath.Join(dir, "taskboard.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if _, err := demo.Seed(ctx, b); err != nil {
		log.Fatal(err)
	}
	for _, list := range []string{"list-progress", "list-done"} {
		if _, err := b.MoveTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-1", taskboard.TaskMove{ListID: list}); err != nil {
			log.Fatal(err)
		}
	}

	// The client saw seq 1 before it went away.
	sub, err := b.Subscribe(ctx, taskboard.Actor{UserID: demo.Bob}, demo.Board, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	if err := b.DeleteTask(ctx, taskboard.Actor{UserID: demo.Alice}, "task-2", taskboard.TaskDelete{IfVersion: 0}); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.Events() {
		fmt.Println(ev.Seq, ev.Type)
		if ev.Seq == 3 {
			sub.Close() // the channel closes: the loop ends
		}
	}
	fmt.Println("closed:", errors.Is(sub.Err(), taskboard.ErrClosed), "resume after", sub.Last())
	// Output:
	// 2 task_moved
	// 3 task_deleted
	// closed: true resume after 3
}
