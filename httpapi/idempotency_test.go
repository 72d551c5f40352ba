package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// TestIdempotentRetries checks Idempotency-Key on every write route: a
// repeat with the same body gets the first response verbatim and changes
// nothing more, another body is 422, and the write's event carries the key
// as its mutationId.
func TestIdempotentRetries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		tests := []struct {
			method, path, body, other string
			status                    int
			logs                      string // the event type the write logs on board-1; "" for none
		}{
			{"POST", "/tasks", `{"title":"Once","listId":"list-todo"}`, `{"title":"Twice","listId":"list-todo"}`, http.StatusCreated, "task_created"},
			{"PATCH", "/tasks/task-1", `{"title":"Once"}`, `{"title":"Twice"}`, http.StatusOK, "task_updated"},
			{"PATCH", "/tasks/task-1/move", `{"listId":"list-done","position":0}`, `{"listId":"list-done","position":1}`, http.StatusOK, "task_moved"},
			{"DELETE", "/tasks/task-1", "", `{}`, http.StatusNoContent, "task_deleted"},
			{"POST", "/boards", `{"name":"Once"}`, `{"name":"Twice"}`, http.StatusCreated, ""},
			{"PATCH", "/boards/board-1", `{"name":"Once"}`, `{"name":"Twice"}`, http.StatusOK, "board_updated"},
			{"DELETE", "/boards/board-1", "", `{}`, http.StatusNoContent, ""},
			{"POST", "/boards/board-1/members", `{"email":"carol@example.com"}`, `{"userId":"user-bob"}`, http.StatusCreated, "member_added"},
			{"PATCH", "/boards/board-1/members/user-bob", `{"role":"viewer"}`, `{"role":"owner"}`, http.StatusOK, "member_updated"},
			{"DELETE", "/boards/board-1/members/user-bob", "", `{}`, http.StatusNoContent, "member_removed"},
			{"POST", "/boards/board-1/lists", `{"name":"Once"}`, `{"name":"Twice"}`, http.StatusCreated, "list_created"},
			{"PATCH", "/lists/list-todo", `{"name":"Once"}`, `{"name":"Twice"}`, http.StatusOK, "list_updated"},
			{"PATCH", "/lists/list-todo/move", `{"position":2}`, `{"position":1}`, http.StatusOK, "list_moved"},
			{"DELETE", "/lists/list-todo", "", `{}`, http.StatusNoContent, "list_deleted"},
		}
		for _, tc := range tests {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				e := newRESTEnv(t, sameEngine(t, dsn), nil)
				const key = "retry-7f3a"
				h := bearerHdr(e.alice).with("Idempotency-Key", key)
				before := e.boardSeq("board-1")
				first := e.do(tc.method, tc.path, tc.body, h).want(t, tc.status)
				if got := first.Header.Get("Idempotent-Replayed"); got != "" {
					t.Errorf("first %s: got Idempotent-Replayed %q, want none", first.call, got)
				}
				var afterFirst int64
				if tc.path != "/boards/board-1" || tc.method != "DELETE" {
					afterFirst = e.boardSeq("board-1")
				}
				if tc.logs != "" {
					evs := e.events("board-1", before)
					// Removing a member unassigns their tasks first, each a
					// task_updated of the same write.
					if len(evs) == 0 || evs[len(evs)-1].Type != tc.logs {
						t.Fatalf("events of %s: got %+v, want %s last", first.call, evs, tc.logs)
					}
					for _, ev := range evs {
						if ev.MutationID == nil || *ev.MutationID != key || (ev.Type != tc.logs && ev.Type != "task_updated") {
							t.Fatalf("events of %s: got %+v, want one %s with mutationId %q", first.call, evs, tc.logs, key)
						}
					}
				}
				for i := 0; i < 2; i++ {
					again := e.do(tc.method, tc.path, tc.body, h)
					if again.Status != first.Status || !bytes.Equal(again.Body, first.Body) {
						t.Fatalf("repeat %d: got %d %s, want the first response %d %s", i, again.Status, again.Body, first.Status, first.Body)
					}
					for _, k := range []string{"ETag", "Content-Type"} {
						if again.Header.Get(k) != first.Header.Get(k) {
							t.Errorf("repeat %d: got %s %q, want %q", i, k, again.Header.Get(k), first.Header.Get(k))
						}
					}
					if got := again.Header.Get("Idempotent-Replayed"); got != "true" {
						t.Errorf("repeat %d: got Idempotent-Replayed %q, want true", i, got)
					}
				}
				if afterFirst != 0 {
					if got := e.boardSeq("board-1"); got != afterFirst {
						t.Errorf("the repeats changed board-1: seq %d, want %d", got, afterFirst)
					}
				}
				e.do(tc.method, tc.path, tc.other, h).wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key reused with a different request")
			})
		}
	})
}

// TestIdempotencyScope checks that a key is scoped to the user, method and
// path, that a 4xx answer is kept like a 2xx one, and the key's limits.
func TestIdempotencyScope(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		const body = `{"title":"Same","listId":"list-todo"}`
		count := func() int { return len(e.snapshot("board-1").Tasks) }

		e.do("POST", "/tasks", body, bearerHdr(e.alice).with("Idempotency-Key", "k1")).want(t, http.StatusCreated)
		e.do("POST", "/tasks", body, bearerHdr(e.alice).with("Idempotency-Key", "k1")).want(t, http.StatusCreated)
		if got := count(); got != 5 {
			t.Fatalf("after a repeat: got %d tasks, want 5", got)
		}
		// Another user's same key is another request.
		e.do("POST", "/tasks", body, bearerHdr(e.bob).with("Idempotency-Key", "k1")).want(t, http.StatusCreated)
		// Another key is another request.
		e.do("POST", "/tasks", body, bearerHdr(e.alice).with("Idempotency-Key", "k2")).want(t, http.StatusCreated)
		if got := count(); got != 7 {
			t.Fatalf("after another user's and another key's requests: got %d tasks, want 7", got)
		}
		// Another path is another request, whatever the body.
		e.do("PATCH", "/tasks/task-2", `{"title":"x"}`, bearerHdr(e.alice).with("Idempotency-Key", "k1")).want(t, http.StatusOK)
		e.do("PATCH", "/tasks/task-3", `{"title":"x"}`, bearerHdr(e.alice).with("Idempotency-Key", "k1")).want(t, http.StatusOK)

		// A 4xx answer is kept: the repeat does not run again even though
		// it would now succeed.
		h := bearerHdr(e.alice).with("Idempotency-Key", "add-dave")
		first := e.do("POST", "/boards/board-1/members", `{"email":"dave@example.com"}`, h)
		first.wantError(t, http.StatusNotFound, "User not found")
		if _, err := e.store.CreateUser(t.Context(), taskboard.UserCreate{Name: "Dave", Email: "dave@example.com"}); err != nil {
			t.Fatal(err)
		}
		again := e.do("POST", "/boards/board-1/members", `{"email":"dave@example.com"}`, h)
		again.wantError(t, http.StatusNotFound, "User not found")
		e.as(e.alice, "POST", "/boards/board-1/members", `{"email":"dave@example.com"}`).want(t, http.StatusCreated)
		// So is a 400.
		h = bearerHdr(e.alice).with("Idempotency-Key", "bad")
		first = e.do("POST", "/tasks", `{"title":"t"}`, h)
		first.wantValidation(t, "listId")
		if again := e.do("POST", "/tasks", `{"title":"t"}`, h); again.Status != 400 || !bytes.Equal(again.Body, first.Body) {
			t.Errorf("repeated 400: got %d %s, want %d %s", again.Status, again.Body, first.Status, first.Body)
		}

		// Limits.
		e.do("POST", "/tasks", body, bearerHdr(e.alice).with("Idempotency-Key", strings.Repeat("k", 255))).want(t, http.StatusCreated)
		e.do("POST", "/tasks", body, bearerHdr(e.alice).with("Idempotency-Key", strings.Repeat("k", 256))).wantValidation(t, "Idempotency-Key")
		big := `{"title":"` + strings.Repeat("x", 1<<20) + `","listId":"list-todo"}`
		e.do("POST", "/tasks", big, bearerHdr(e.alice).with("Idempotency-Key", "big")).wantError(t, http.StatusRequestEntityTooLarge, "Request body too large")
		// Without credentials the key is not even looked at.
		e.do("POST", "/tasks", body, restHdr{"Idempotency-Key": "k1"}).wantError(t, http.StatusUnauthorized, "Unauthorized")
	})
}

// TestIdempotencyInFlight checks that a key whose first request has not
// finished is 409, and 422 with another body.
func TestIdempotencyInFlight(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		const body = `{"title":"Slow","listId":"list-todo"}`
		sum := sha256.Sum256([]byte(body))
		// Claim the key as the first request would, and leave it running.
		k := httpapi.IdempotencyKeyForTest{UserID: demo.Alice, Method: "POST", Path: "/tasks", Key: "slow", RequestHash: hex.EncodeToString(sum[:])}
		if stored, err := httpapi.BeginIdempotentForTest(t.Context(), e.store, k); stored || err != nil {
			t.Fatalf("BeginIdempotent: got %v, %v, want false, nil", stored, err)
		}
		seq := e.boardSeq("board-1")
		h := bearerHdr(e.alice).with("Idempotency-Key", "slow")
		e.do("POST", "/tasks", body, h).wantError(t, http.StatusConflict, "A request with this Idempotency-Key is in progress")
		e.do("POST", "/tasks", `{"title":"Other","listId":"list-todo"}`, h).wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key reused with a different request")
		if got := e.boardSeq("board-1"); got != seq {
			t.Errorf("refused requests changed board-1: seq %d, want %d", got, seq)
		}
		// Once the first request is given up (a 5xx), a retry runs.
		if err := httpapi.AbandonIdempotentForTest(t.Context(), e.store, k); err != nil {
			t.Fatal(err)
		}
		e.do("POST", "/tasks", body, h).want(t, http.StatusCreated)
	})
}

// TestIdempotencyServerError checks that a 5xx answer is not kept: the
// retry runs again. A trigger makes the insert fail.
func TestIdempotencyServerError(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		db := seam.DB(e.store)
		if db.Dialect().Name() == dialect.SQLite {
			mustExec(t, db, `CREATE TRIGGER fail_insert BEFORE INSERT ON tasks BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
		} else {
			mustExec(t, db, `CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`)
			mustExec(t, db, `CREATE TRIGGER fail_insert BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION fail_insert()`)
		}
		const body = `{"title":"Retried","listId":"list-todo"}`
		h := bearerHdr(e.alice).with("Idempotency-Key", "after-crash")
		res := e.do("POST", "/tasks", body, h)
		res.wantError(t, http.StatusInternalServerError, "Internal Server Error")
		if strings.Contains(string(res.Body), "injected") {
			t.Errorf("the cause leaked: %s", res.Body)
		}
		if logs := e.logs.String(); !strings.Contains(logs, "injected failure") {
			t.Errorf("log: got %q, want the cause", logs)
		}
		if db.Dialect().Name() == dialect.SQLite {
			mustExec(t, db, `DROP TRIGGER fail_insert`)
		} else {
			mustExec(t, db, `DROP TRIGGER fail_insert ON tasks`)
		}
		first := e.do("POST", "/tasks", body, h).want(t, http.StatusCreated)
		if got := first.Header.Get("Idempotent-Replayed"); got != "" {
			t.Errorf("the retry after a 500 was replayed, want run")
		}
		again := e.do("POST", "/tasks", body, h).want(t, http.StatusCreated)
		if !bytes.Equal(first.Body, again.Body) {
			t.Errorf("repeat after the retry: got %s, want %s", again.Body, first.Body)
		}
		if n := len(e.snapshot("board-1").Tasks); n != 5 {
			t.Errorf("got %d tasks, want 5", n)
		}
	})
}

// mustExec runs a statement on the store's database.
func mustExec(t *testing.T, db *bun.DB, query string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestIdempotencyClientGone checks that a client that gives up on a write
// can retry it with the same key: the key is released (or its answer kept)
// even though the request's context ended. A trigger makes the insert slow;
// PostgreSQL only, as SQLite cannot sleep in a trigger.
func TestIdempotencyClientGone(t *testing.T) {
	e := newRESTEnv(t, dbtest.Postgres(t), nil)
	db := seam.DB(e.store)
	mustExec(t, db, `CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$`)
	mustExec(t, db, `CREATE TRIGGER slow_insert BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION slow_insert()`)
	const body = `{"title":"Impatient","listId":"list-todo"}`

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/tasks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.alice)
	req.Header.Set("Idempotency-Key", "impatient")
	if res, err := e.srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("the slow insert answered within 200 ms: %d", res.StatusCode)
	}
	mustExec(t, db, `DROP TRIGGER slow_insert ON tasks`)

	// While the abandoned request still runs its key is in flight (409);
	// once it has ended, the retry runs (201) or gets its answer.
	h := bearerHdr(e.alice).with("Idempotency-Key", "impatient")
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		res := e.do("POST", "/tasks", body, h)
		if res.Status != http.StatusConflict {
			res.want(t, http.StatusCreated)
			break
		}
		select {
		case <-deadline:
			t.Fatalf("the retry is still 409 after 15 s: the abandoned request kept its key")
		case <-tick.C:
		}
	}
	tasks := 0
	for _, task := range e.snapshot("board-1").Tasks {
		if task.Title == "Impatient" {
			tasks++
		}
	}
	if tasks != 1 {
		t.Errorf("got %d tasks titled Impatient, want 1", tasks)
	}
}

// TestIdempotencyConcurrentRetries sends one write with one key from many
// clients at once: it runs once, every answer is its response or 409, and
// none is a server error (on PostgreSQL the claims race in the database).
func TestIdempotencyConcurrentRetries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		const body = `{"title":"Once","listId":"list-todo"}`
		seq := e.boardSeq("board-1")
		const clients = 8
		type answer struct {
			status int
			body   string
			err    error
		}
		answers := make(chan answer, clients)
		start := make(chan struct{})
		for range clients {
			go func() {
				<-start
				req, err := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/tasks", strings.NewReader(body))
				if err != nil {
					answers <- answer{err: err}
					return
				}
				req.Header.Set("Authorization", "Bearer "+e.alice)
				req.Header.Set("Idempotency-Key", "same")
				res, err := e.srv.Client().Do(req)
				if err != nil {
					answers <- answer{err: err}
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				answers <- answer{status: res.StatusCode, body: string(b), err: err}
			}()
		}
		close(start)
		var created []string
		for range clients {
			a := <-answers
			switch {
			case a.err != nil:
				t.Fatalf("POST /tasks: %v", a.err)
			case a.status == http.StatusCreated:
				created = append(created, a.body)
			case a.status != http.StatusConflict:
				t.Fatalf("POST /tasks with a shared key: got %d %s, want 201 or 409", a.status, a.body)
			}
		}
		for _, b := range created[1:] {
			if b != created[0] {
				t.Fatalf("replayed answers differ: %s and %s", created[0], b)
			}
		}
		// Exactly one task was created, whoever answered 201.
		e.do("POST", "/tasks", body, bearerHdr(e.alice).with("Idempotency-Key", "same")).want(t, http.StatusCreated)
		if got := e.boardSeq("board-1"); got != seq+1 {
			t.Fatalf("board-1's seq went from %d to %d; want one event", seq, got)
		}
	})
}

// idemKey is the idempotency key that a request of Alice with key and body
// to method path claims.
func idemKey(method, path, key, body string) httpapi.IdempotencyKeyForTest {
	sum := sha256.Sum256([]byte(body))
	return httpapi.IdempotencyKeyForTest{UserID: demo.Alice, Method: method, Path: path, Key: key, RequestHash: hex.EncodeToString(sum[:])}
}

// tasksTitled counts board-1's tasks titled title.
func (e *restEnv) tasksTitled(title string) int {
	n := 0
	for _, task := range e.snapshot("board-1").Tasks {
		if task.Title == title {
			n++
		}
	}
	return n
}

// TestIdempotencyCrashAfterCommit checks that the response of a write is
// stored with the write: the server crashes right after the write's commit
// (the write is made as the route makes it, and nothing after it runs),
// and the retry gets the write's response, changing nothing more. A write
// that fails stores nothing: its retry runs.
func TestIdempotencyCrashAfterCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		alice := taskboard.Actor{UserID: demo.Alice}

		const body = `{"title":"Crashed","listId":"list-todo"}`
		ctx := httpapi.WriteContextForTest(t.Context(), e.store, idemKey("POST", "/tasks", "crash", body), httpapi.CreatedTaskResponseForTest)
		seq := e.boardSeq("board-1")
		task, err := e.store.CreateTask(ctx, alice, taskboard.TaskCreate{ListID: "list-todo", Title: "Crashed"})
		if err != nil {
			t.Fatalf("CreateTask: %v", err)
		}
		// The server is gone; the client retries.
		h := bearerHdr(e.alice).with("Idempotency-Key", "crash")
		res := e.do("POST", "/tasks", body, h).want(t, http.StatusCreated)
		if got := res.Header.Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("retry after the crash: got Idempotent-Replayed %q, want true", got)
		}
		var got taskboard.Task
		res.decode(t, &got)
		if got.ID != task.ID || got.Title != "Crashed" || res.Header.Get("ETag") != `"1"` {
			t.Errorf("retry after the crash: got %s with ETag %s, want task %s with ETag \"1\"", res.Body, res.Header.Get("ETag"), task.ID)
		}
		if e.boardSeq("board-1") != seq+1 || e.tasksTitled("Crashed") != 1 {
			t.Errorf("retry after the crash: seq %d (want %d), %d tasks titled Crashed (want 1)", e.boardSeq("board-1"), seq+1, e.tasksTitled("Crashed"))
		}
		again := e.do("POST", "/tasks", body, h).want(t, http.StatusCreated)
		if !bytes.Equal(again.Body, res.Body) {
			t.Errorf("second retry: got %s, want %s", again.Body, res.Body)
		}

		// So does a write that changes nothing: a move to where the task is.
		before := e.task("task-1")
		move := fmt.Sprintf(`{"listId":%q,"position":%d}`, before.ListID, before.Position)
		ctx = httpapi.WriteContextForTest(t.Context(), e.store, idemKey("PATCH", "/tasks/task-1/move", "stay", move), httpapi.TaskResponseForTest(http.StatusOK))
		pos := before.Position
		if _, err := e.store.MoveTask(ctx, alice, "task-1", taskboard.TaskMove{ListID: before.ListID, Position: &pos}); err != nil {
			t.Fatalf("MoveTask: %v", err)
		}
		res = e.do("PATCH", "/tasks/task-1/move", move, bearerHdr(e.alice).with("Idempotency-Key", "stay")).want(t, http.StatusOK)
		if got := res.Header.Get("Idempotent-Replayed"); got != "true" || res.Header.Get("ETag") != etagOf(before.Version) {
			t.Errorf("retry of a move that changed nothing: got Idempotent-Replayed %q, ETag %s; want true, %s", got, res.Header.Get("ETag"), etagOf(before.Version))
		}

		// A write that fails (a trigger refuses the insert) stores nothing.
		db := seam.DB(e.store)
		if db.Dialect().Name() == dialect.SQLite {
			mustExec(t, db, `CREATE TRIGGER fail_insert BEFORE INSERT ON tasks BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
		} else {
			mustExec(t, db, `CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`)
			mustExec(t, db, `CREATE TRIGGER fail_insert BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION fail_insert()`)
		}
		const failed = `{"title":"Failed","listId":"list-todo"}`
		ctx = httpapi.WriteContextForTest(t.Context(), e.store, idemKey("POST", "/tasks", "failed", failed), httpapi.CreatedTaskResponseForTest)
		if _, err := e.store.CreateTask(ctx, alice, taskboard.TaskCreate{ListID: "list-todo", Title: "Failed"}); err == nil {
			t.Fatalf("CreateTask with the failing trigger: no error")
		}
		if db.Dialect().Name() == dialect.SQLite {
			mustExec(t, db, `DROP TRIGGER fail_insert`)
		} else {
			mustExec(t, db, `DROP TRIGGER fail_insert ON tasks`)
		}
		h = bearerHdr(e.alice).with("Idempotency-Key", "failed")
		first := e.do("POST", "/tasks", failed, h).want(t, http.StatusCreated)
		if got := first.Header.Get("Idempotent-Replayed"); got != "" {
			t.Errorf("retry after a failed write: got Idempotent-Replayed %q, want it run", got)
		}
		if n := e.tasksTitled("Failed"); n != 1 {
			t.Errorf("got %d tasks titled Failed, want 1", n)
		}
	})
}

// TestIdempotencyTwoServers sends one write with one key to two servers
// over one PostgreSQL database, the second while the first one's write
// runs: the write runs once, and both answer its response. A trigger makes
// the insert slow.
func TestIdempotencyTwoServers(t *testing.T) {
	dsn := dbtest.Postgres(t)
	e1 := newRESTEnv(t, dsn, nil)
	store2, err := taskboard.Open(t.Context(), dsn, &taskboard.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store2.Close() })
	// The second server checks the tokens of the first: they are kept in
	// the database.
	api2 := httpapi.New(store2, &httpapi.Options{Authenticator: httpapi.NewBuiltin(auth.New(store2, nil)), Logger: slogTo(io.Discard)})
	t.Cleanup(api2.Close)
	srv2 := httptest.NewServer(api2)
	t.Cleanup(srv2.Close)
	db := seam.DB(e1.store)
	mustExec(t, db, `CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$`)
	mustExec(t, db, `CREATE TRIGGER slow_insert BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION slow_insert()`)
	const body = `{"title":"Twice","listId":"list-todo"}`
	seq := e1.boardSeq("board-1")

	type answer struct {
		status   int
		body     string
		replayed bool
		err      error
	}
	post := func(srv *httptest.Server, out chan<- answer) {
		req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/tasks", strings.NewReader(body))
		if err != nil {
			out <- answer{err: err}
			return
		}
		req.Header.Set("Authorization", "Bearer "+e1.alice)
		req.Header.Set("Idempotency-Key", "twice")
		res, err := srv.Client().Do(req)
		if err != nil {
			out <- answer{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		out <- answer{status: res.StatusCode, body: string(b), replayed: res.Header.Get("Idempotent-Replayed") == "true", err: err}
	}
	first, second := make(chan answer, 1), make(chan answer, 1)
	go post(e1.srv, first)
	time.Sleep(150 * time.Millisecond) // the first write sleeps in its insert
	go post(srv2, second)
	a1, a2 := <-first, <-second
	for _, a := range []answer{a1, a2} {
		if a.err != nil {
			t.Fatalf("POST /tasks: %v", a.err)
		}
		if a.status != http.StatusCreated {
			t.Fatalf("POST /tasks on two servers: got %d %s, want 201", a.status, a.body)
		}
	}
	if a1.body != a2.body || a1.replayed || !a2.replayed {
		t.Errorf("answers: %s (replayed %v) and %s (replayed %v); want one response, the second replayed", a1.body, a1.replayed, a2.body, a2.replayed)
	}
	mustExec(t, db, `DROP TRIGGER slow_insert ON tasks`)
	if got := e1.boardSeq("board-1"); got != seq+1 {
		t.Errorf("board-1's seq went from %d to %d; want one event", seq, got)
	}
	if n := e1.tasksTitled("Twice"); n != 1 {
		t.Errorf("got %d tasks titled Twice, want 1", n)
	}
}

// etagOf is the ETag of a version.
func etagOf(version int64) string { return fmt.Sprintf("%q", fmt.Sprint(version)) }
