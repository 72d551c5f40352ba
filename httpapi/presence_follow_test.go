package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/demo"
)

// presenceOf returns GET /boards/{boardID}/presence as a map of user to
// entry.
func (e *rtEnv) presenceOf(token, boardID string) map[string]taskboard.PresenceEntry {
	e.t.Helper()
	var body struct {
		Data []taskboard.PresenceEntry `json:"data"`
	}
	e.get(token, "/boards/"+boardID+"/presence").want(e.t, http.StatusOK, &body)
	out := make(map[string]taskboard.PresenceEntry)
	for _, p := range body.Data {
		out[p.ID] = p
	}
	return out
}

// joinWith sends a join with the given fields and reads the replay up to
// joined and the presence list; it returns the replayed seqs, the joined
// seq and the list.
func (ws *rtWS) joinWith(boardID string, fields map[string]any) (replayed []int64, joined int64, users []taskboard.PresenceEntry) {
	ws.t.Helper()
	msg := map[string]any{"type": "join", "boardId": boardID}
	for k, v := range fields {
		msg[k] = v
	}
	ws.send(msg)
	for {
		m := ws.mustNext()
		switch {
		case m.Type == "joined" && m.BoardID == boardID:
			p := ws.expect("presence")
			if p.BoardID != boardID || p.Users == nil {
				ws.t.Fatalf("websocket: got %s, want the presence list of %s", p.raw, boardID)
			}
			return replayed, m.Seq, p.Users
		case m.Seq > 0 && m.BoardID == boardID:
			replayed = append(replayed, m.Seq)
		case m.Type == "error" || m.Type == "reset":
			ws.t.Fatalf("websocket: join %s: got %s", boardID, m.raw)
		}
	}
}

// nextUserEvent reads messages until user_joined, user_left or user_typing
// of boardID.
func (ws *rtWS) nextUserEvent(boardID string) rtMsg {
	ws.t.Helper()
	for {
		m := ws.mustNext()
		switch m.Type {
		case taskboard.EventUserJoined, taskboard.EventUserLeft, taskboard.EventUserTyping:
			if m.BoardID == boardID {
				return m
			}
		}
	}
}

// wantUserEvent reads the next user event of boardID and fails unless it
// is typ by userID.
func (ws *rtWS) wantUserEvent(boardID, typ, userID string) {
	ws.t.Helper()
	if m := ws.nextUserEvent(boardID); m.Type != typ || m.User == nil || m.User.ID != userID {
		ws.t.Fatalf("got %s, want %s of %s on %s", m.raw, typ, userID, boardID)
	}
}

// TestWSJoinWithoutPresence: a join with "presence": false follows the
// board (events, others' presence changes) without counting its user
// present; joining again with the other flag moves the presence and
// resumes exactly after the seq it names.
func TestWSJoinWithoutPresence(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		bob := e.bearerWS(e.bob)
		bob.join(demo.Board, -1)

		alice := e.bearerWS(e.alice)
		replayed, seq, users := alice.joinWith(demo.Board, map[string]any{"presence": false})
		if len(replayed) != 0 {
			t.Fatalf("a join from now replayed %v", replayed)
		}
		if len(users) != 1 || users[0].ID != demo.Bob {
			t.Fatalf("presence list %+v, want Bob alone", users)
		}
		if _, ok := e.presenceOf(e.bob, demo.Board)[demo.Alice]; ok {
			t.Fatal("GET presence lists Alice, who joined without presence")
		}
		// Alice's typing goes out after any user_joined of hers would
		// have: Bob's next user event is the typing.
		alice.send(`{"type":"typing","boardId":"board-1","taskId":"task-1"}`)
		bob.wantUserEvent(demo.Board, taskboard.EventUserTyping, demo.Alice)

		// Events still come.
		want := e.write(1, "task-2")
		if m := alice.nextOfType(taskboard.EventTaskUpdated); m.Seq != seq+1 || want != seq+1 {
			t.Fatalf("got %s, want task_updated at %d", m.raw, seq+1)
		}
		seq = want

		// So do others' presence changes: a second user leaving.
		watcher := e.bearerWS(e.bob)
		watcher.join(demo.Board, -1)
		bob.close()
		// Bob still has the watcher: no user_left. Re-joining as present
		// after the seq Alice applied replays nothing and counts her.
		replayed, joined, users := alice.joinWith(demo.Board, map[string]any{"after": seq})
		if len(replayed) != 0 || joined != seq {
			t.Fatalf("re-join after %d: replayed %v, joined at %d", seq, replayed, joined)
		}
		if len(users) != 2 {
			t.Fatalf("presence list %+v, want Bob and Alice", users)
		}
		watcher.wantUserEvent(demo.Board, taskboard.EventUserJoined, demo.Alice)
		if got := e.presenceOf(e.bob, demo.Board)[demo.Alice]; got.Connections != 1 {
			t.Fatalf("Alice's presence after the re-join: %+v, want one connection", got)
		}

		// Back to not present, resuming after an earlier seq: what came
		// after it is replayed (the client drops what it has already).
		want = e.write(1, "task-3")
		alice.nextOfType(taskboard.EventTaskUpdated)
		replayed, joined, _ = alice.joinWith(demo.Board, map[string]any{"after": seq, "presence": false})
		if len(replayed) != 1 || replayed[0] != want || joined != want {
			t.Fatalf("re-join after %d: replayed %v, joined at %d; want [%d] at %d", seq, replayed, joined, want, want)
		}
		watcher.wantUserEvent(demo.Board, taskboard.EventUserLeft, demo.Alice)
		if _, ok := e.presenceOf(e.bob, demo.Board)[demo.Alice]; ok {
			t.Fatal("GET presence lists Alice after her grace period")
		}
		// And she hears of others: the watcher leaving makes Bob leave.
		// (Her own user_left reached her too, as it reaches her other
		// tabs.)
		watcher.close()
		for {
			m := alice.nextUserEvent(demo.Board)
			if m.User != nil && m.User.ID == demo.Alice {
				continue
			}
			if m.Type != taskboard.EventUserLeft || m.User == nil || m.User.ID != demo.Bob {
				t.Fatalf("got %s, want user_left of Bob", m.raw)
			}
			break
		}

		bad := e.bearerWS(e.alice)
		bad.send(`{"type":"join","boardId":"board-1","presence":"no"}`)
		if m := bad.expect("error"); m.Error != "Invalid field: presence must be a boolean" {
			t.Fatalf("got %s, want the presence field's error", m.raw)
		}
	})
}

// TestMultiSSEPresence: a many-board stream with ?presence= counts its user
// present on that board only, as a single-board stream does, until it
// ends or stops following the board.
func TestMultiSSEPresence(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRTEnv(t, dsn, nil, nil)
		ctx := context.Background()
		alice := taskboard.Actor{UserID: demo.Alice}
		other, err := e.store.CreateBoard(ctx, alice, "Other")
		if err != nil {
			t.Fatal(err)
		}
		list, err := e.store.CreateList(ctx, alice, other.ID, taskboard.ListCreate{Name: "todo"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.store.AddMember(ctx, alice, other.ID, taskboard.MemberRef{UserID: demo.Bob}); err != nil {
			t.Fatal(err)
		}
		watcher := e.bearerWS(e.alice)
		watcher.join(demo.Board, -1)
		watcher.join(other.ID, -1)
		auth := []string{"Authorization", "Bearer " + e.bob}
		boards := "/events?boards=" + demo.Board + "," + other.ID

		// Present on board-1, not on the other board.
		r := &multiReader{t: t, s: e.openSSE(boards+"&presence="+demo.Board, auth...)}
		r.connected()
		watcher.wantUserEvent(demo.Board, taskboard.EventUserJoined, demo.Bob)
		if got := e.presenceOf(e.alice, demo.Board)[demo.Bob]; got.Connections != 1 {
			t.Fatalf("board-1 presence of Bob: %+v, want one connection", got)
		}
		if _, ok := e.presenceOf(e.alice, other.ID)[demo.Bob]; ok {
			t.Fatal("Bob is present on the board his stream is not present on")
		}
		// The stream still carries both boards.
		if _, err := e.store.CreateTask(ctx, alice, taskboard.TaskCreate{ListID: list.ID, Title: "x"}); err != nil {
			t.Fatal(err)
		}
		want := e.write(1, "task-1")
		r.until(func() bool { return len(r.seqs[other.ID]) == 1 && r.last[demo.Board] == want })
		r.s.close()
		watcher.wantUserEvent(demo.Board, taskboard.EventUserLeft, demo.Bob)
		if _, ok := e.presenceOf(e.alice, demo.Board)[demo.Bob]; ok {
			t.Fatal("Bob still present after his stream ended")
		}

		// Present on the other board; removed from it, he leaves it.
		r = &multiReader{t: t, s: e.openSSE(boards+"&presence="+other.ID, auth...)}
		r.connected()
		watcher.wantUserEvent(other.ID, taskboard.EventUserJoined, demo.Bob)
		if _, ok := e.presenceOf(e.alice, demo.Board)[demo.Bob]; ok {
			t.Fatal("Bob is present on board-1, his stream is present on the other board")
		}
		if err := e.store.RemoveMember(ctx, alice, other.ID, demo.Bob); err != nil {
			t.Fatal(err)
		}
		r.until(func() bool { _, ok := r.last[other.ID]; return !ok })
		watcher.wantUserEvent(other.ID, taskboard.EventUserLeft, demo.Bob)
		if _, ok := e.presenceOf(e.alice, other.ID)[demo.Bob]; ok {
			t.Fatal("Bob still present on a board he was removed from")
		}
		r.s.close()

		// * with presence.
		r = &multiReader{t: t, s: e.openSSE("/events?boards=*&presence="+demo.Board, "Authorization", "Bearer "+e.alice)}
		r.connected()
		rtWaitFor(t, "Alice present with the watcher and the stream", func() bool {
			return e.presenceOf(e.bob, demo.Board)[demo.Alice].Connections == 2
		})
		r.s.close()

		// Bad input.
		for _, tc := range []struct {
			path   string
			status int
			msg    string
		}{
			{"/events?boards=" + demo.Board + "&presence=" + other.ID, http.StatusBadRequest, "presence: the board must be one of boards"},
			{"/events?boards=" + demo.Board + "&presence=", http.StatusBadRequest, "presence: empty board id"},
			{"/events?boards=*&presence=nope", http.StatusNotFound, "Board not found"},
		} {
			var body struct {
				Error string `json:"error"`
			}
			e.get(e.alice, tc.path).want(t, tc.status, &body)
			if body.Error != tc.msg {
				t.Errorf("GET %s: error %q, want %q", tc.path, body.Error, tc.msg)
			}
		}
		// Resuming a * stream whose presence board is gone goes on without
		// presence.
		cursor := url.QueryEscape(demo.Board + ":" + rtItoa(e.seq(demo.Board)))
		s, resp := e.tryOpenSSE("/events?boards=*&presence=nope&after="+cursor, "Authorization", "Bearer "+e.alice)
		if s == nil {
			t.Fatalf("resuming with a presence board that is gone: %d %s, want the stream", resp.Status, resp.Body)
		}
		r = &multiReader{t: t, s: s}
		if seqs := r.connected(); seqs[demo.Board] != e.seq(demo.Board) {
			t.Fatalf("connected %v, want board-1 at its seq", seqs)
		}
	})
}
