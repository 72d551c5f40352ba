package taskboard

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
)

// TestBoardDeletedWhileReadingLog deletes a board while a subscription
// that is behind reads its log, before the fan-out hands it board_deleted:
// the log is gone with the board, and the subscription must still end
// with board_deleted and ErrBoardDeleted, not as if its history had been
// truncated.
func TestBoardDeletedWhileReadingLog(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b, err := Open(ctx, dsn, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer b.Close()
		ann, err := b.CreateUser(ctx, UserCreate{ID: "ann", Name: "Ann", Email: "ann@example.com"})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		as := Actor{UserID: ann.ID}
		board, err := b.CreateBoard(ctx, as, "Doomed")
		if err != nil {
			t.Fatalf("CreateBoard: %v", err)
		}
		if _, err := b.CreateList(ctx, as, board.ID, ListCreate{Name: "To Do"}); err != nil {
			t.Fatalf("CreateList: %v", err)
		}
		live, err := b.Subscribe(ctx, as, board.ID, -1)
		if err != nil {
			t.Fatalf("Subscribe(-1): %v", err)
		}
		defer live.Close()
		ready := make(chan struct{}, 1)
		req := seam.Push[Event]{Ready: func() {
			select {
			case ready <- struct{}{}:
			default:
			}
		}}
		behind, err := b.Subscribe(seam.WithPush(ctx, &req), as, board.ID, 0)
		if err != nil {
			t.Fatalf("Subscribe(0) for push: %v", err)
		}
		defer behind.Close()
		list, err := b.CreateList(ctx, as, board.ID, ListCreate{Name: "Done"})
		if err != nil {
			t.Fatalf("CreateList: %v", err)
		}
		select {
		case <-ready: // the fan-out queued list_created for behind
		case <-ctx.Done():
			t.Fatalf("no fan-out to the subscription behind: %v", ctx.Err())
		}
		recv := func() (Event, bool) {
			select {
			case ev, ok := <-live.Events():
				return ev, ok
			case <-ctx.Done():
				t.Fatalf("Events: %v", ctx.Err())
				return Event{}, false
			}
		}
		if ev, _ := recv(); ev.Type != EventListCreated {
			t.Fatalf("Events: got %d %s, want list_created of %s", ev.Seq, ev.Type, list.ID)
		}

		// The fan-out of the deletion has not reached behind yet.
		b.feed.remove(behind)
		if err := b.DeleteBoard(ctx, as, board.ID); err != nil {
			t.Fatalf("DeleteBoard: %v", err)
		}
		deleted, ok := recv()
		if !ok || deleted.Type != EventBoardDeleted {
			t.Fatalf("Events: got %d %s (open %v), want board_deleted", deleted.Seq, deleted.Type, ok)
		}
		// behind reads the log, which is gone, then finds list_created
		// after a gap the log cannot fill.
		if ev, err := behind.next(ctx, false); !errors.Is(err, errPending) {
			t.Fatalf("next before board_deleted reached it: got %d %s, %v; want nothing pending", ev.Seq, ev.Type, err)
		}
		b.feed.fanOut(board.ID, []Event{deleted}, []*Subscription{behind})

		r := req.Reader
		ev, err := r.Next(ctx)
		if err != nil || ev.Type != EventBoardDeleted || ev.Seq != deleted.Seq {
			t.Fatalf("Next: got %d %s, %v; want %d board_deleted", ev.Seq, ev.Type, err, deleted.Seq)
		}
		_, err = r.Next(ctx)
		var re *ResetError
		if !errors.Is(err, ErrBoardDeleted) || !errors.As(err, &re) || re.Seq != deleted.Seq {
			t.Fatalf("Next after board_deleted: got %v, want ErrBoardDeleted at seq %d", err, deleted.Seq)
		}
		if last := r.Last(); last != deleted.Seq {
			t.Fatalf("Last: got %d, want %d", last, deleted.Seq)
		}
	})
}
