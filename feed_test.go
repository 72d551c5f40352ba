package taskboard_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
)

func TestSubscribeReplaysThenFollows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		for _, list := range []string{listDone, listProgress, listTodo} {
			if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: list}); err != nil {
				t.Fatalf("MoveTask: %v", err)
			}
		}
		cases := []struct {
			name  string
			after int64
			first int64
		}{
			{"from the start", 0, 1},
			{"from the middle", 2, 3},
			{"from the current seq", 3, 4},
			{"from now", -1, 4},
		}
		var subs []*taskboard.Subscription
		for _, tc := range cases {
			sub := f.subscribe(t, bob, board1, tc.after)
			if want := tc.first - 1; sub.Last() != want {
				t.Errorf("Subscribe(after %d): Last() = %d, want %d", tc.after, sub.Last(), want)
			}
			subs = append(subs, sub)
		}
		if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("Live")}); err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				sub := subs[i]
				for want := tc.first; want <= 4; want++ {
					ev := nextEvent(t, sub)
					if ev.Seq != want || ev.BoardID != board1 {
						t.Fatalf("Events: got seq %d of %s, want %d of board-1", ev.Seq, ev.BoardID, want)
					}
				}
				if err := sub.Err(); err != nil {
					t.Fatalf("Err of a live subscription: got %v, want nil", err)
				}
				sub.Close()
				if err := nextErr(t, sub); !errors.Is(err, taskboard.ErrClosed) {
					t.Fatalf("Err after Close: got %v, want ErrClosed", err)
				}
				if sub.Last() != 4 {
					t.Fatalf("Last after seq 4 and Close: got %d, want 4", sub.Last())
				}
			})
		}
	})
}

// TestConcurrentWritersAndSubscribers has 8 goroutines write to one board
// while 20 subscribers join at random moments from random points of the
// log; each must receive every event after its point, once and in order.
func TestConcurrentWritersAndSubscribers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		seed := time.Now().UnixNano()
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewSource(seed))
		f := newFixture(t, dsn, nil)
		const writers, perWriter, subscribers = 8, 30, 20
		const total = writers * perWriter

		// Subscriber j starts once the n-th write has returned, for j in
		// trigger[n].
		starts := make([]chan struct{}, subscribers)
		trigger := map[int64][]int{}
		seeds := make([]int64, subscribers)
		for j := range starts {
			starts[j] = make(chan struct{})
			n := rng.Int63n(total)
			trigger[n] = append(trigger[n], j)
			seeds[j] = rng.Int63()
		}
		for _, j := range trigger[0] {
			close(starts[j])
		}

		errs := make(chan error, writers+subscribers)
		lasts := make([]int64, subscribers)
		var subsDone sync.WaitGroup
		for j := range subscribers {
			subsDone.Add(1)
			go func() {
				defer subsDone.Done()
				last, err := follow(f, j, starts[j], rand.New(rand.NewSource(seeds[j])))
				if err != nil {
					errs <- fmt.Errorf("subscriber %d: %w", j, err)
				}
				lasts[j] = last
			}()
		}

		var written atomic.Int64
		var writersDone sync.WaitGroup
		for w := range writers {
			writersDone.Add(1)
			go func() {
				defer writersDone.Done()
				if err := write(f, w, perWriter, func() {
					for _, j := range trigger[written.Add(1)] {
						close(starts[j])
					}
				}); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
				}
			}()
		}
		writersDone.Wait()
		n := written.Load()
		if n != total {
			t.Errorf("writes: got %d, want %d", n, total)
		}
		for ; n < total; n++ { // after a failed write: start the rest now
			for _, j := range trigger[n+1] {
				close(starts[j])
			}
		}
		// The last event tells the subscribers to stop.
		final, err := f.b.UpdateBoard(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.BoardUpdate{Name: ptr("done")})
		if err != nil {
			t.Fatalf("UpdateBoard: %v", err)
		}
		if final.Seq != total+1 {
			t.Errorf("UpdateBoard after %d writes: got seq %d, want %d", total, final.Seq, total+1)
		}
		subsDone.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for j, last := range lasts {
			if last != final.Seq {
				t.Errorf("subscriber %d stopped at seq %d, want %d", j, last, final.Seq)
			}
		}
		events := f.eventsAfter(t, board1, 0)
		for i, ev := range events {
			if ev.Seq != int64(i+1) {
				t.Fatalf("EventsAfter(0): event %d has seq %d, want %d", i, ev.Seq, i+1)
			}
		}
		if len(events) != int(final.Seq) {
			t.Errorf("EventsAfter(0): got %d events, want %d", len(events), final.Seq)
		}
	})
}

// write makes n logged writes as writer w, calling done after each.
func write(f *fixture, w, n int, done func()) error {
	lists := []string{listTodo, listProgress, listDone}
	own, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: lists[w%3], Title: fmt.Sprintf("w%d", w)})
	if err != nil {
		return err
	}
	done()
	for i := 1; i < n; i++ {
		switch i % 3 {
		case 0:
			to := lists[(slices.Index(lists, own.ListID)+1+i%2)%3]
			task, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: bob}, own.ID, taskboard.TaskMove{ListID: to, Position: ptr(i % 4)})
			if err != nil {
				return fmt.Errorf("MoveTask: %w", err)
			}
			if task.Version == own.Version {
				return fmt.Errorf("MoveTask of %s to another list kept version %d", own.ID, own.Version)
			}
			own = task
		case 1:
			task, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, own.ID, taskboard.TaskUpdate{Title: ptr(fmt.Sprintf("w%d-%d", w, i))})
			if err != nil {
				return fmt.Errorf("UpdateTask: %w", err)
			}
			own = task
		case 2:
			if _, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: bob}, taskboard.TaskCreate{ListID: lists[i%3], Title: "extra", Position: ptr(0)}); err != nil {
				return fmt.Errorf("CreateTask: %w", err)
			}
		}
		done()
	}
	return nil
}

// follow subscribes once start is closed, from a random point of the log,
// and reads until the board_updated event that ends the test, checking
// that seqs run on without a gap. It returns the last seq received.
func follow(f *fixture, j int, start <-chan struct{}, rng *rand.Rand) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	select {
	case <-start:
	case <-ctx.Done():
		return 0, errors.New("never started")
	}
	user := []string{alice, bob}[j%2]
	seq, err := f.b.BoardSeq(ctx, taskboard.Actor{UserID: user}, board1)
	if err != nil {
		return 0, err
	}
	after := rng.Int63n(seq + 1)
	// Half of them read the channel, the others the push reader's Next.
	useChannel := j%2 == 0
	var req seam.Push[taskboard.Event]
	subCtx := ctx
	if !useChannel {
		subCtx = seam.WithPush(ctx, &req)
	}
	sub, err := f.b.Subscribe(subCtx, taskboard.Actor{UserID: user}, board1, after)
	if err != nil {
		return 0, fmt.Errorf("Subscribe(after %d): %w", after, err)
	}
	defer sub.Close()
	want := after + 1
	for {
		var ev taskboard.Event
		if useChannel {
			select {
			case e, ok := <-sub.Events():
				if !ok {
					return want - 1, fmt.Errorf("Events closed at seq %d: %v", want-1, sub.Err())
				}
				ev = e
			case <-ctx.Done():
				return want - 1, fmt.Errorf("Events: nothing after seq %d within %v", want-1, waitFor)
			}
		} else {
			e, err := req.Reader.Next(ctx)
			if err != nil {
				return want - 1, fmt.Errorf("Next after seq %d: %w", want-1, err)
			}
			ev = e
		}
		if ev.Seq != want {
			return want - 1, fmt.Errorf("subscribed after %d: got seq %d, want %d", after, ev.Seq, want)
		}
		if ev.Type == taskboard.EventBoardUpdated {
			return ev.Seq, nil
		}
		want++
	}
}

// TestSlowConsumer has one subscriber that never reads while 1,000 writes
// go through: the writes all complete, that subscription alone ends with
// ErrSlowConsumer, it hands over what it had queued, and resubscribing
// after its Last loses nothing.
func TestSlowConsumer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		const buffer, writes, readers = 64, 1000, 3
		f := newFixture(t, dsn, &taskboard.Options{SubscriberBuffer: buffer})
		start := f.seq(t, board1)
		slow := f.subscribe(t, alice, board1, -1)

		type progress struct {
			reader int
			seq    int64
		}
		progressc := make(chan progress, readers*writes)
		errs := make(chan error, readers)
		var wg sync.WaitGroup
		for r := range readers {
			sub := f.subscribe(t, []string{alice, bob}[r%2], board1, -1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := time.After(2 * waitFor)
				for want := start + 1; want <= start+writes; want++ {
					select {
					case ev, ok := <-sub.Events():
						if !ok {
							errs <- fmt.Errorf("reader %d: Events closed after seq %d: %v", r, want-1, sub.Err())
							return
						}
						if ev.Seq != want {
							errs <- fmt.Errorf("reader %d: got seq %d, want %d", r, ev.Seq, want)
							return
						}
						progressc <- progress{r, ev.Seq}
					case <-deadline:
						errs <- fmt.Errorf("reader %d: nothing after seq %d within %v", r, want-1, 2*waitFor)
						return
					}
				}
			}()
		}

		// The writer keeps within half a buffer of the readers, so that only
		// the subscriber that never reads can fall behind.
		received := make([]int64, readers)
		for i := range received {
			received[i] = start
		}
		deadline := time.After(2 * waitFor)
		for i := range writes {
			for slowest(received) < start+int64(i)-buffer/2 {
				select {
				case p := <-progressc:
					received[p.reader] = p.seq
				case err := <-errs:
					t.Fatal(err)
				case <-deadline:
					t.Fatalf("readers stuck at %v before write %d", received, i)
				}
			}
			if _, err := f.b.UpdateBoard(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.BoardUpdate{Name: ptr(fmt.Sprint("name ", i))}); err != nil {
				t.Fatalf("UpdateBoard %d: %v", i, err)
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		// The slow subscription ended, and it alone: it left the board.
		waitUntil(t, "the slow subscription to end", func() bool { return f.b.Stats().Subscriptions == readers })
		// It hands over what it queued, then says why it ended.
		events := drain(t, slow)
		for i, ev := range events {
			if want := start + 1 + int64(i); ev.Seq != want {
				t.Fatalf("slow subscription: event %d has seq %d, want %d", i, ev.Seq, want)
			}
		}
		if n := len(events); n < buffer || n > buffer+1 {
			t.Errorf("slow subscription: %d events queued, want %d or %d", n, buffer, buffer+1)
		}
		if err := slow.Err(); !errors.Is(err, taskboard.ErrSlowConsumer) {
			t.Fatalf("slow subscription: Err() = %v, want ErrSlowConsumer", err)
		}
		want := start + 1 + int64(len(events))
		if slow.Last() != want-1 {
			t.Fatalf("slow Last: got %d, want %d", slow.Last(), want-1)
		}
		resumed := f.subscribe(t, alice, board1, slow.Last())
		for ; want <= start+writes; want++ {
			if ev := nextEvent(t, resumed); ev.Seq != want {
				t.Fatalf("resumed: got seq %d, want %d", ev.Seq, want)
			}
		}
	})
}

func slowest(seqs []int64) int64 {
	m := seqs[0]
	for _, s := range seqs[1:] {
		m = min(m, s)
	}
	return m
}

// TestRolledBackWriteWakesNobody checks that a write failing inside its
// transaction logs nothing and wakes no subscriber: the next successful
// write's event is the next one received, at seq exactly +1.
func TestRolledBackWriteWakesNobody(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		_, otherLists := f.newBoard(t, "Other", "Elsewhere")
		sub := f.subscribe(t, bob, board1, -1)
		cases := []struct {
			name string
			fail func() error
			want error
		}{
			{"assignee who is not a member", func() error {
				_, err := f.b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listTodo, Title: "X", AssigneeID: &f.carol})
				return err
			}, taskboard.ErrInvalid},
			{"stale IfVersion on update", func() error {
				_, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("X"), IfVersion: 99})
				return err
			}, taskboard.ErrPreconditionFailed},
			{"stale IfVersion on delete", func() error {
				return f.b.DeleteTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskDelete{IfVersion: 99})
			}, taskboard.ErrPreconditionFailed},
			{"move to a list of another board", func() error {
				_, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: otherLists[0]})
				return err
			}, taskboard.ErrInvalid},
			{"move to a missing list", func() error {
				_, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: "no-such-list"})
				return err
			}, taskboard.ErrNotFound},
			{"adding an unknown user", func() error {
				_, _, err := f.b.AddMember(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{Email: "nobody@example.com"})
				return err
			}, taskboard.ErrNotFound},
			{"removing a non-member", func() error { return f.b.RemoveMember(f.ctx, taskboard.Actor{UserID: alice}, board1, f.carol) }, taskboard.ErrNotFound},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				seq := f.seq(t, board1)
				if err := tc.fail(); !errors.Is(err, tc.want) {
					t.Fatalf("%s: got %v, want %v", tc.name, err, tc.want)
				}
				if got := f.seq(t, board1); got != seq {
					t.Fatalf("seq after %s: got %d, want %d", tc.name, got, seq)
				}
				if events := f.eventsAfter(t, board1, seq); len(events) != 0 {
					t.Fatalf("EventsAfter(%d) after %s: got %d events, want none", seq, tc.name, len(events))
				}
				title := fmt.Sprint("after ", i)
				if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: &title}); err != nil {
					t.Fatalf("UpdateTask: %v", err)
				}
				ev := nextEvent(t, sub)
				if env := envelope(t, ev); ev.Seq != seq+1 || env.Task == nil || env.Task.Title != title {
					t.Fatalf("Next after %s and a successful write: got seq %d %s, want seq %d task_updated %q", tc.name, ev.Seq, ev.Data, seq+1, title)
				}
			})
		}
	})
}

func TestResetHistoryTruncated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, &taskboard.Options{HistoryEvents: 5, HistoryAge: time.Nanosecond, MaintenanceInterval: -1})
		for i := range 10 {
			if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr(fmt.Sprint(i))}); err != nil {
				t.Fatalf("UpdateTask: %v", err)
			}
		}
		// Read by Next, it reads nothing of the log before asked to.
		_, behind := f.subscribePush(t, bob, board1, 2)
		if err := f.b.Maintain(f.ctx); err != nil {
			t.Fatalf("Maintain: %v", err)
		}

		_, err := f.b.Subscribe(f.ctx, taskboard.Actor{UserID: bob}, board1, 0)
		wantReset(t, "Subscribe(after 0)", err, taskboard.ErrHistoryTruncated, taskboard.ReasonHistoryTruncated, 10)
		_, err = f.b.Subscribe(f.ctx, taskboard.Actor{UserID: bob}, board1, 4)
		wantReset(t, "Subscribe(after 4)", err, taskboard.ErrHistoryTruncated, taskboard.ReasonHistoryTruncated, 10)
		_, err = f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: bob}, board1, 0, 0)
		wantReset(t, "EventsAfter(0)", err, taskboard.ErrHistoryTruncated, taskboard.ReasonHistoryTruncated, 10)

		// A subscription that had yet to read the trimmed events ends.
		err = pushErr(t, behind)
		var re *taskboard.ResetError
		if !errors.Is(err, taskboard.ErrHistoryTruncated) || !errors.As(err, &re) || re.Reason != taskboard.ReasonHistoryTruncated {
			t.Fatalf("Next of a subscription behind the trimmed log: got %v, want a history_truncated reset", err)
		}

		// The newest five remain.
		page, err := f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: bob}, board1, 5, 0)
		if err != nil {
			t.Fatalf("EventsAfter(5): %v", err)
		}
		wantEvents(t, "EventsAfter(5)", page.Events, 5, "task_updated", "task_updated", "task_updated", "task_updated", "task_updated")
		sub := f.subscribe(t, bob, board1, 5)
		if ev := nextEvent(t, sub); ev.Seq != 6 {
			t.Fatalf("Next after 5: got seq %d, want 6", ev.Seq)
		}

		// Events younger than HistoryAge are kept whatever their number.
		young := openStore(t, dsn, &taskboard.Options{HistoryEvents: 5, MaintenanceInterval: -1})
		board, err := young.CreateBoard(f.ctx, taskboard.Actor{UserID: alice}, "Young")
		if err != nil {
			t.Fatalf("CreateBoard: %v", err)
		}
		for i := range 10 {
			if _, err := young.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board.ID, taskboard.ListCreate{Name: fmt.Sprint(i)}); err != nil {
				t.Fatalf("CreateList: %v", err)
			}
		}
		if err := young.Maintain(f.ctx); err != nil {
			t.Fatalf("Maintain: %v", err)
		}
		if events := f.eventsAfter(t, board.ID, 0); len(events) != 10 {
			t.Fatalf("EventsAfter(0) with a 30-day HistoryAge: got %d events, want 10", len(events))
		}
	})
}

func TestResetAhead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		_, err := f.b.Subscribe(f.ctx, taskboard.Actor{UserID: bob}, board1, 2)
		wantReset(t, "Subscribe(after 2) at seq 1", err, taskboard.ErrAhead, taskboard.ReasonAhead, 1)
		_, err = f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: bob}, board1, 7, 0)
		wantReset(t, "EventsAfter(7) at seq 1", err, taskboard.ErrAhead, taskboard.ReasonAhead, 1)
		page, err := f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: bob}, board1, 1, 0)
		if err != nil || len(page.Events) != 0 || page.Seq != 1 || page.More || page.BoardSeq != 1 {
			t.Fatalf("EventsAfter(1) at seq 1: got %+v, %v; want an empty page at seq 1", page, err)
		}
	})
}

func TestEventsAfterPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		for i := range 5 {
			if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr(fmt.Sprint(i))}); err != nil {
				t.Fatalf("UpdateTask: %v", err)
			}
		}
		cases := []struct {
			after    int64
			limit    int
			first, n int64 // seq of the first event returned, and how many
			seq      int64
			more     bool
		}{
			{0, 2, 1, 2, 2, true},
			{2, 2, 3, 2, 4, true},
			{4, 2, 5, 1, 5, false},
			{0, 0, 1, 5, 5, false},
			{0, 5000, 1, 5, 5, false},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("after %d limit %d", tc.after, tc.limit), func(t *testing.T) {
				p, err := f.b.EventsAfter(f.ctx, taskboard.Actor{UserID: bob}, board1, tc.after, tc.limit)
				if err != nil {
					t.Fatalf("EventsAfter: %v", err)
				}
				var first int64
				if len(p.Events) > 0 {
					first = p.Events[0].Seq
				}
				if int64(len(p.Events)) != tc.n || first != tc.first || p.Seq != tc.seq || p.More != tc.more || p.BoardSeq != 5 {
					t.Fatalf("EventsAfter(%d, %d): got %d events from %d, seq %d, more %v, board seq %d; want %d from %d, %d, %v, 5",
						tc.after, tc.limit, len(p.Events), first, p.Seq, p.More, p.BoardSeq, tc.n, tc.first, tc.seq, tc.more)
				}
			})
		}
	})
}

func TestAccessRevoked(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		if _, _, err := f.b.AddMember(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.MemberRef{UserID: f.carol, Role: taskboard.RoleOwner}); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		// The removal unassigns Bob's two tasks first: member_removed is
		// the third event of the write.
		seq := f.seq(t, board1) + 2
		_, bobPush := f.subscribePush(t, bob, board1, 0)
		bobSub := f.subscribe(t, bob, board1, -1)
		bobSub2 := f.subscribe(t, bob, board1, 0)
		var others []*taskboard.Subscription
		for _, user := range []string{alice, f.carol} {
			sub := f.subscribe(t, user, board1, -1)
			others = append(others, sub)
		}

		if err := f.b.RemoveMember(f.ctx, taskboard.Actor{UserID: f.carol}, board1, bob); err != nil {
			t.Fatalf("RemoveMember(bob): %v", err)
		}
		// Bob's subscriptions ended when RemoveMember returned, and
		// deliver nothing more.
		wantReset(t, "Err of Bob's push subscription", bobPush.Err(), taskboard.ErrAccessRevoked, taskboard.ReasonAccessRevoked, seq+1)
		wantReset(t, "Next of Bob's push subscription", pushErr(t, bobPush), taskboard.ErrAccessRevoked, taskboard.ReasonAccessRevoked, seq+1)
		wantReset(t, "Err of Bob's subscription from now", nextErr(t, bobSub), taskboard.ErrAccessRevoked, taskboard.ReasonAccessRevoked, seq+1)
		// The one catching up may have handed over an event of the log
		// before the removal, never one after.
		for _, ev := range drain(t, bobSub2) {
			if ev.Seq > seq-2 {
				t.Errorf("Bob's subscription from 0 got seq %d %s, want none after %d", ev.Seq, ev.Type, seq-2)
			}
		}
		wantReset(t, "Err of Bob's subscription from 0", bobSub2.Err(), taskboard.ErrAccessRevoked, taskboard.ReasonAccessRevoked, seq+1)
		_, err := f.b.Subscribe(f.ctx, taskboard.Actor{UserID: bob}, board1, seq)
		wantErr(t, "Subscribe by the removed member", err, taskboard.ErrNotFound, "Board")

		// The others see member_removed and go on.
		if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		for i, sub := range others {
			for range 2 {
				if ev := nextEvent(t, sub); ev.Type != taskboard.EventTaskUpdated {
					t.Errorf("subscriber %d: got %d %s, want task_updated", i, ev.Seq, ev.Type)
				}
			}
			ev := nextEvent(t, sub)
			if env := envelope(t, ev); ev.Seq != seq+1 || ev.Type != taskboard.EventMemberRemoved || env.UserID != bob {
				t.Errorf("subscriber %d: got %d %s, want %d member_removed of Bob", i, ev.Seq, ev.Data, seq+1)
			}
			if ev := nextEvent(t, sub); ev.Seq != seq+2 || ev.Type != taskboard.EventTaskMoved {
				t.Errorf("subscriber %d: got %d %s, want %d task_moved", i, ev.Seq, ev.Type, seq+2)
			}
		}
	})
}

func TestBoardDeleted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		live := f.subscribe(t, bob, board1, -1)
		// These have not read the logged event yet when the board goes.
		behind := f.subscribe(t, bob, board1, 0)
		_, behindPush := f.subscribePush(t, bob, board1, 0)
		if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr("last")}); err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		if ev := nextEvent(t, live); ev.Seq != 2 {
			t.Fatalf("Events: got seq %d, want 2", ev.Seq)
		}
		if err := f.b.DeleteBoard(f.ctx, taskboard.Actor{UserID: alice}, board1); err != nil {
			t.Fatalf("DeleteBoard: %v", err)
		}

		ev := nextEvent(t, live)
		if env := envelope(t, ev); ev.Seq != 3 || ev.Type != taskboard.EventBoardDeleted || env.Board == nil || env.Board.ID != board1 {
			t.Fatalf("Next: got %d %s, want 3 board_deleted", ev.Seq, ev.Data)
		}
		wantReset(t, "Err after board_deleted", nextErr(t, live), taskboard.ErrBoardDeleted, taskboard.ReasonBoardDeleted, 3)

		// The subscriptions that were behind end too, in order and without
		// spinning, whatever they could still deliver.
		var last int64
		for _, ev := range drain(t, behind) {
			if ev.Seq <= last {
				t.Fatalf("Events of the subscription behind: got seq %d after %d", ev.Seq, last)
			}
			last = ev.Seq
		}
		if err := behind.Err(); !errors.Is(err, taskboard.ErrBoardDeleted) {
			t.Fatalf("Err of the subscription behind: got %v after seq %d, want ErrBoardDeleted", err, last)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		last = 0
		for {
			ev, err := behindPush.Next(ctx)
			if err != nil {
				if !errors.Is(err, taskboard.ErrBoardDeleted) {
					t.Fatalf("Next of the push subscription behind: got %v after seq %d, want ErrBoardDeleted", err, last)
				}
				break
			}
			if ev.Seq <= last {
				t.Fatalf("Next of the push subscription behind: got seq %d after %d", ev.Seq, last)
			}
			last = ev.Seq
		}

		_, err := f.b.Subscribe(f.ctx, taskboard.Actor{UserID: bob}, board1, 0)
		wantErr(t, "Subscribe to a deleted board", err, taskboard.ErrNotFound, "Board")
	})
}

func TestClose(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		b, err := taskboard.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer b.Close()
		f := &fixture{b: b, ctx: context.Background()}
		if _, err := demo.Seed(f.ctx, b); err != nil {
			t.Fatalf("demo.Seed: %v", err)
		}
		if _, err := b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		live, err := b.Subscribe(f.ctx, taskboard.Actor{UserID: bob}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer live.Close()
		var req seam.Push[taskboard.Event]
		pushed, err := b.Subscribe(seam.WithPush(f.ctx, &req), taskboard.Actor{UserID: bob}, board1, 0)
		if err != nil {
			t.Fatalf("Subscribe(after 0) for push: %v", err)
		}
		defer pushed.Close()
		behind := req.Reader
		unread, err := b.Subscribe(f.ctx, taskboard.Actor{UserID: alice}, board1, 0)
		if err != nil {
			t.Fatalf("Subscribe(after 0): %v", err)
		}
		defer unread.Close()
		if _, err := b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listTodo}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		if ev := nextEvent(t, live); ev.Seq != 2 {
			t.Fatalf("Events: got seq %d, want 2", ev.Seq)
		}

		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := nextErr(t, live); !errors.Is(err, taskboard.ErrClosed) {
			t.Errorf("Err after Close: got %v, want ErrClosed", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		for last := int64(0); ; {
			ev, err := behind.Next(ctx)
			if err != nil {
				if !errors.Is(err, taskboard.ErrClosed) {
					t.Errorf("Next of a subscription behind after Close: got %v, want ErrClosed", err)
				}
				break
			}
			if ev.Seq != last+1 {
				t.Fatalf("Next of a subscription behind after Close: got seq %d after %d", ev.Seq, last)
			}
			last = ev.Seq
		}
		// The channel that was not read delivers what it holds, in order,
		// then closes.
		for i, ev := range drain(t, unread) {
			if ev.Seq != int64(i+1) {
				t.Fatalf("Events of a subscription not read after Close: event %d has seq %d", i, ev.Seq)
			}
		}
		if !errors.Is(unread.Err(), taskboard.ErrClosed) {
			t.Errorf("Err after Close: got %v, want ErrClosed", unread.Err())
		}

		_, err = b.Subscribe(f.ctx, taskboard.Actor{UserID: bob}, board1, -1)
		if !errors.Is(err, taskboard.ErrClosed) {
			t.Errorf("Subscribe after Close: got %v, want ErrClosed", err)
		}
		writes := []struct {
			name string
			call func() error
		}{
			{"MoveTask", func() error {
				_, err := b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone})
				return err
			}},
			{"CreateTask", func() error {
				_, err := b.CreateTask(f.ctx, taskboard.Actor{UserID: alice}, taskboard.TaskCreate{ListID: listDone, Title: "X"})
				return err
			}},
			{"DeleteList", func() error {
				return b.DeleteList(f.ctx, taskboard.Actor{UserID: alice}, listDone, taskboard.ListDelete{IfVersion: 0})
			}},
			{"UpdateBoard", func() error {
				_, err := b.UpdateBoard(f.ctx, taskboard.Actor{UserID: alice}, board1, taskboard.BoardUpdate{Name: ptr("X")})
				return err
			}},
		}
		for _, w := range writes {
			if err := w.call(); !errors.Is(err, taskboard.ErrClosed) {
				t.Errorf("%s after Close: got %v, want ErrClosed", w.name, err)
			}
		}
	})
}

func TestSubscriptionEndsWithItsContext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		ctx, cancel := context.WithCancel(f.ctx)
		sub, err := f.b.Subscribe(ctx, taskboard.Actor{UserID: bob}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		cancel()
		if err := nextErr(t, sub); !errors.Is(err, context.Canceled) {
			t.Errorf("Err after cancel: got %v, want context.Canceled", err)
		}
		// Closing twice is harmless, and the reason stays.
		sub.Close()
		sub.Close()
		if err := sub.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("Err after cancel and Close: got %v, want context.Canceled", err)
		}

		// A push subscription ends with its context too.
		ctx, cancel = context.WithCancel(f.ctx)
		var req seam.Push[taskboard.Event]
		pushed, err := f.b.Subscribe(seam.WithPush(ctx, &req), taskboard.Actor{UserID: bob}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe for push: %v", err)
		}
		defer pushed.Close()
		cancel()
		if err := pushErr(t, req.Reader); !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel: got %v, want context.Canceled", err)
		}

		// Next's own context bounds only the wait.
		_, r := f.subscribePush(t, bob, board1, -1)
		short, cancelShort := context.WithCancel(f.ctx)
		cancelShort()
		if _, err := r.Next(short); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next with a cancelled context: got %v, want context.Canceled", err)
		}
		if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		if ev := pushNext(t, r); ev.Seq != 1 {
			t.Fatalf("Next after a cancelled Next: got seq %d, want 1", ev.Seq)
		}
	})
}

func TestBroadcastEphemeral(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		req := seam.Push[taskboard.Event]{ID: "tab-1"}
		sender, err := f.b.Subscribe(seam.WithPush(f.ctx, &req), taskboard.Actor{UserID: alice}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer sender.Close()
		if req.ID != "tab-1" {
			t.Fatalf("Subscribe: got ID %q, want tab-1", req.ID)
		}
		var otherReq seam.Push[taskboard.Event]
		otherSub, err := f.b.Subscribe(seam.WithPush(f.ctx, &otherReq), taskboard.Actor{UserID: bob}, board1, -1)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		defer otherSub.Close()
		if otherReq.ID == "" || otherReq.ID == req.ID {
			t.Fatalf("Subscribe: got ID %q, want a fresh unique one", otherReq.ID)
		}
		other := otherReq.Reader
		viaChannel := f.subscribe(t, bob, board1, -1)

		typing := taskboard.Event{Type: taskboard.EventUserTyping, BoardID: board1, Data: []byte(`{"type":"user_typing"}`)}
		if err := f.b.Broadcast(seam.MarkOrigin(typing, req.ID)); err != nil {
			t.Fatalf("Broadcast: %v", err)
		}
		if err := f.b.Broadcast(taskboard.Event{Type: taskboard.EventUserTyping, BoardID: board1, Seq: 3}); err == nil {
			t.Errorf("Broadcast of an event with a seq: got no error")
		}
		if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		if ev := pushNext(t, other); ev.Seq != 0 || ev.Type != taskboard.EventUserTyping || string(ev.Data) != `{"type":"user_typing"}` {
			t.Errorf("other Next: got %d %s %s, want the ephemeral user_typing", ev.Seq, ev.Type, ev.Data)
		}
		if ev := pushNext(t, other); ev.Seq != 1 {
			t.Errorf("other Next: got seq %d, want 1", ev.Seq)
		}
		if ev := nextEvent(t, viaChannel); ev.Seq != 0 || ev.Type != taskboard.EventUserTyping {
			t.Errorf("Events: got %d %s, want the ephemeral user_typing", ev.Seq, ev.Type)
		}
		if ev := nextEvent(t, viaChannel); ev.Seq != 1 {
			t.Errorf("Events: got seq %d, want 1", ev.Seq)
		}
		// The sender never sees its own ephemeral event.
		if ev := pushNext(t, req.Reader); ev.Seq != 1 {
			t.Errorf("sender Next: got %d %s, want seq 1", ev.Seq, ev.Type)
		}
		if req.Reader.Last() != 1 {
			t.Errorf("Last: got %d, want 1 (ephemeral events do not move it)", req.Reader.Last())
		}
		viaChannel.Close()
		if viaChannel.Last() != 1 {
			t.Errorf("Last of the channel: got %d, want 1 (ephemeral events do not move it)", viaChannel.Last())
		}
	})
}

// TestConcurrentWritersSucceed has 8 goroutines make 50 moves each on one
// store while others read and create credentials: on SQLite no write may
// fail with "database is locked".
func TestConcurrentWritersSucceed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		const writers, moves = 8, 50
		lists := []string{listTodo, listProgress, listDone}
		own := make([]string, writers)
		for w := range own {
			own[w] = f.newTask(t, lists[w%3], fmt.Sprint("task of ", w)).ID
		}
		start := f.seq(t, board1)
		var wg sync.WaitGroup
		errs := make(chan error, writers+2)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range moves {
					// Always to another list, so every move logs.
					list := lists[(w+i+1)%3]
					task, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, own[w], taskboard.TaskMove{ListID: list, Position: ptr((w * i) % 5)})
					if err != nil {
						errs <- fmt.Errorf("writer %d, move %d: %w", w, i, err)
						return
					}
					if task.ListID != list || task.Version != int64(i+2) {
						errs <- fmt.Errorf("writer %d, move %d: got list %s version %d, want %s and %d", w, i, task.ListID, task.Version, list, i+2)
						return
					}
				}
			}()
		}
		// Readers and writers of other tables run meanwhile.
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := f.b.Snapshot(f.ctx, taskboard.Actor{UserID: bob}, board1); err != nil {
					errs <- fmt.Errorf("Snapshot: %w", err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			creds := auth.New(f.b, nil)
			for range 50 {
				if _, _, err := creds.CreateToken(f.ctx, bob); err != nil {
					errs <- fmt.Errorf("CreateToken: %w", err)
					return
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := f.seq(t, board1); got != start+writers*moves {
			t.Errorf("seq: got %d, want %d", got, start+writers*moves)
		}
		for _, l := range lists {
			f.taskIDs(t, board1, l) // checks positions 0..n-1
		}
		events := f.eventsAfter(t, board1, start)
		for i, ev := range events {
			if ev.Seq != start+int64(i)+1 || ev.Type != taskboard.EventTaskMoved {
				t.Fatalf("event %d: got %d %s, want %d task_moved", i, ev.Seq, ev.Type, start+int64(i)+1)
			}
		}
	})
}

// TestSubscriptionsReleaseGoroutines checks that a channel subscription
// holds a goroutine only while it has events for its reader, that it
// releases it when it ends (by its context or Close, read or not, or with
// the Board), and that the goroutine count returns to where it was.
func TestSubscriptionsReleaseGoroutines(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		base := runtime.NumGoroutine()
		b, err := taskboard.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer b.Close()
		ctx := context.Background()
		if _, err := demo.Seed(ctx, b); err != nil {
			t.Fatalf("demo.Seed: %v", err)
		}
		// What the open Board itself runs.
		open := runtime.NumGoroutine()
		const n = 10
		var cancels []context.CancelFunc
		var subs []*taskboard.Subscription
		for i := range 3 * n {
			sctx, cancel := context.WithCancel(ctx)
			cancels = append(cancels, cancel)
			sub, err := b.Subscribe(sctx, taskboard.Actor{UserID: []string{alice, bob}[i%2]}, board1, -1)
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			subs = append(subs, sub)
		}
		if got, stacks := settleGoroutines(open, waitFor); got > open {
			t.Fatalf("NumGoroutine with %d idle subscriptions: got %d, want at most %d\n%s", 3*n, got, open, stacks)
		}
		if _, err := b.MoveTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskMove{ListID: listDone}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		// A third read their event; the others hold theirs, unread.
		for i := 2; i < 3*n; i += 3 {
			if ev := nextEvent(t, subs[i]); ev.Seq != 1 {
				t.Fatalf("subscription %d: got seq %d, want 1", i, ev.Seq)
			}
		}
		if got, stacks := settleGoroutines(open+2*n, waitFor); got > open+2*n {
			t.Fatalf("NumGoroutine with %d subscriptions holding an event: got %d, want at most %d\n%s", 2*n, got, open+2*n, stacks)
		}
		// Ended by their context, unread: the goroutine ends and the
		// channel closes all the same.
		for i := 0; i < 3*n; i += 3 {
			cancels[i]()
		}
		for i := 0; i < 3*n; i += 3 {
			// Err is set just before the channel closes, by a goroutine
			// that offers nothing more.
			waitUntil(t, fmt.Sprintf("subscription %d to end", i), func() bool { return subs[i].Err() != nil })
			if err := nextErr(t, subs[i]); !errors.Is(err, context.Canceled) {
				t.Fatalf("subscription %d: Err after cancel: got %v, want context.Canceled", i, err)
			}
		}
		if got, stacks := settleGoroutines(open+n, waitFor); got > open+n {
			t.Fatalf("NumGoroutine after %d subscriptions holding an event were cancelled: got %d, want at most %d\n%s", n, got, open+n, stacks)
		}
		// Closed, unread: the channel is closed when Close returns.
		for i := 1; i < 3*n; i += 3 {
			subs[i].Close()
			select {
			case ev, ok := <-subs[i].Events():
				if ok {
					t.Fatalf("subscription %d: got seq %d after Close, want the channel closed", i, ev.Seq)
				}
			default:
				t.Fatalf("subscription %d: channel still open when Close returned", i)
			}
			if err := subs[i].Err(); !errors.Is(err, taskboard.ErrClosed) {
				t.Fatalf("subscription %d: Err after Close: got %v, want ErrClosed", i, err)
			}
		}
		if got, stacks := settleGoroutines(open, waitFor); got > open {
			t.Fatalf("NumGoroutine with %d idle subscriptions left: got %d, want at most %d\n%s", n, got, open, stacks)
		}
		if err := b.Close(); err != nil { // ends the idle ones
			t.Fatalf("Close: %v", err)
		}
		for i := 2; i < 3*n; i += 3 {
			if err := nextErr(t, subs[i]); !errors.Is(err, taskboard.ErrClosed) {
				t.Fatalf("subscription %d: Err after the Board's Close: got %v, want ErrClosed", i, err)
			}
		}
		for _, cancel := range cancels {
			cancel()
		}
		if got, stacks := settleGoroutines(base, waitFor); got > base {
			t.Fatalf("NumGoroutine after every subscription ended: got %d, want at most %d\n%s", got, base, stacks)
		}
	})
}

// TestWritesCancelledDuringCommit cancels writes at random points, some of
// them while the commit is on its way, when the writer cannot tell whether
// it happened. Whatever the writer was told, every event that committed
// reaches the subscriber before the next write starts.
func TestWritesCancelledDuringCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		sub := f.subscribe(t, bob, board1, -1)
		events := sub.Events()
		last := f.seq(t, board1)
		rng := rand.New(rand.NewSource(42))
		failed, committedAnyway := 0, 0
		for i := 0; i < 600 && committedAnyway < 5; i++ {
			ctx, cancel := context.WithTimeout(f.ctx, time.Duration(rng.Intn(3000))*time.Microsecond)
			title := fmt.Sprint("title ", i)
			_, err := f.b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: &title})
			cancel()
			seq := f.seq(t, board1)
			if err != nil {
				failed++
				if seq > last {
					committedAnyway++
				}
			}
			deadline := time.After(10 * time.Second)
			for last < seq {
				select {
				case ev, ok := <-events:
					if !ok {
						t.Fatalf("subscription ended: %v", sub.Err())
					}
					if ev.Seq != last+1 {
						t.Fatalf("write %d: got seq %d, want %d", i, ev.Seq, last+1)
					}
					last = ev.Seq
				case <-deadline:
					t.Fatalf("write %d (err %v): the subscriber is at seq %d, the board at %d", i, err, last, seq)
				}
			}
		}
		t.Logf("%d writes failed, %d of them committed all the same", failed, committedAnyway)

		// A board's deletion is not logged: its subscribers get
		// board_deleted if the board is gone.
		deleted := 0
		for i := 0; i < 200 && deleted < 3; i++ {
			board, _ := f.newBoard(t, fmt.Sprint("Doomed ", i))
			sub, err := f.b.Subscribe(f.ctx, taskboard.Actor{UserID: alice}, board, -1)
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			ctx, cancel := context.WithTimeout(f.ctx, time.Duration(rng.Intn(3000))*time.Microsecond)
			err = f.b.DeleteBoard(ctx, taskboard.Actor{UserID: alice}, board)
			cancel()
			_, seqErr := f.b.BoardSeq(f.ctx, taskboard.Actor{UserID: alice}, board)
			gone := errors.Is(seqErr, taskboard.ErrNotFound)
			if err == nil || !gone {
				sub.Close()
				if err == nil {
					continue
				}
				if err := f.b.DeleteBoard(f.ctx, taskboard.Actor{UserID: alice}, board); err != nil {
					t.Fatalf("DeleteBoard: %v", err)
				}
				continue
			}
			deleted++
			got := drain(t, sub)
			if len(got) != 1 || got[0].Type != taskboard.EventBoardDeleted || !errors.Is(sub.Err(), taskboard.ErrBoardDeleted) {
				t.Fatalf("deletion %d reported failed but done: the subscription got %d events and %v, want board_deleted then ErrBoardDeleted", i, len(got), sub.Err())
			}
		}
		t.Logf("%d deletions reported failed but done", deleted)
	})
}

// TestCommitAnswerLost makes PostgreSQL's COMMIT slow (a deferred trigger
// sleeps in it) and gives each write less time than that: the writer stops
// waiting and is told the context's error, while the server goes on and
// commits. The write must be settled when the writer gets its error, and
// its event must reach the subscriber with no later write to reveal it.
func TestCommitAnswerLost(t *testing.T) {
	f := newFixture(t, dbtest.Postgres(t), nil)
	db := seam.DB(f.b)
	for _, q := range []string{
		// The writer's driver cancels the statement when it stops waiting:
		// the trigger sleeps on through cancels, so that the commit goes
		// through late, as one does when the cancel comes after its commit
		// record.
		`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE
			t0 timestamptz := clock_timestamp();
		BEGIN
			WHILE clock_timestamp() < t0 + interval '300 milliseconds' LOOP
				BEGIN
					PERFORM pg_sleep(0.01);
				EXCEPTION WHEN query_canceled THEN
					NULL;
				END;
			END LOOP;
			RETURN NULL;
		END $$`,
		`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
		`CREATE CONSTRAINT TRIGGER slow_commit AFTER DELETE ON boards DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
	} {
		if _, err := db.ExecContext(f.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// The cancel the driver sends can still, rarely, land between two of
	// the trigger's statements, outside its handler: then the transaction
	// aborts. Such a write must be settled as not done (nothing logged,
	// nothing delivered: the next event is the next write's), and the
	// scenario runs again, until a late commit has been seen.
	const attempts = 5
	sub := f.subscribe(t, bob, board1, -1)
	for i := 0; ; i++ {
		before := f.seq(t, board1)
		ctx, cancel := context.WithTimeout(f.ctx, 100*time.Millisecond)
		_, err := f.b.UpdateTask(ctx, taskboard.Actor{UserID: alice}, "task-1", taskboard.TaskUpdate{Title: ptr(fmt.Sprintf("Committed unseen %d", i))})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("UpdateTask with a commit slower than its context: got %v, want the context's error", err)
		}
		seq := f.seq(t, board1)
		if seq == before+1 {
			ev := nextEvent(t, sub)
			if ev.Seq != before+1 || ev.Type != taskboard.EventTaskUpdated {
				t.Fatalf("subscriber got %s at seq %d, want task_updated at %d", ev.Type, ev.Seq, before+1)
			}
			break
		}
		if seq != before {
			t.Fatalf("board seq when the writer got its error: %d, want %d or %d (settled)", seq, before, before+1)
		}
		// Aborted: the next event is the next write's. task-2 starts in
		// To Do; each attempt moves it to the other list.
		if _, err := f.b.MoveTask(f.ctx, taskboard.Actor{UserID: alice}, "task-2", taskboard.TaskMove{ListID: []string{listDone, listTodo}[i%2]}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		if ev := nextEvent(t, sub); ev.Seq != before+1 || ev.Type != taskboard.EventTaskMoved {
			t.Fatalf("after an aborted write the subscriber got %s at seq %d, want task_moved at %d", ev.Type, ev.Seq, before+1)
		}
		if i+1 == attempts {
			t.Fatalf("no late commit in %d attempts", attempts)
		}
	}

	// A board's deletion, whose event is not logged.
	for i := 0; ; i++ {
		board, _ := f.newBoard(t, fmt.Sprintf("Doomed %d", i))
		dsub := f.subscribe(t, alice, board, -1)
		ctx, cancel := context.WithTimeout(f.ctx, 100*time.Millisecond)
		err := f.b.DeleteBoard(ctx, taskboard.Actor{UserID: alice}, board)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("DeleteBoard with a commit slower than its context: got %v, want the context's error", err)
		}
		_, err = f.b.BoardSeq(f.ctx, taskboard.Actor{UserID: alice}, board)
		if err == nil {
			// Aborted: the board is whole, and its next event is the next
			// write's.
			if _, err := f.b.CreateList(f.ctx, taskboard.Actor{UserID: alice}, board, taskboard.ListCreate{Name: "Still here"}); err != nil {
				t.Fatalf("CreateList after an aborted deletion: %v", err)
			}
			if ev := nextEvent(t, dsub); ev.Type != taskboard.EventListCreated {
				t.Fatalf("after an aborted deletion the subscriber got %s, want list_created", ev.Type)
			}
			if i+1 == attempts {
				t.Fatalf("no late commit of a deletion in %d attempts", attempts)
			}
			continue
		}
		if !errors.Is(err, taskboard.ErrNotFound) {
			t.Fatalf("BoardSeq of the deleted board when the writer got its error: %v, want ErrNotFound", err)
		}
		if ev := nextEvent(t, dsub); ev.Type != taskboard.EventBoardDeleted {
			t.Fatalf("subscriber of the deleted board got %s, want board_deleted", ev.Type)
		}
		if err := nextErr(t, dsub); !errors.Is(err, taskboard.ErrBoardDeleted) {
			t.Fatalf("subscription of the deleted board ended with %v, want ErrBoardDeleted", err)
		}
		break
	}
}
