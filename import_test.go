package taskboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// portable is an export without what an import renews: IDs, times and
// seqs. Tasks name their list by its index.
type portable struct {
	Format  string
	Board   string
	Lists   []string
	Tasks   []portableTask
	Members []string
}

type portableTask struct {
	List        int
	Position    int
	Title       string
	Description *string
	Assignee    *string
}

func portableOf(t *testing.T, e *taskboard.Export) portable {
	t.Helper()
	p := portable{Format: e.Format, Board: e.Board.Name}
	index := map[string]int{}
	for i, l := range e.Lists {
		if l.Position != i {
			t.Errorf("export: list %d at position %d", i, l.Position)
		}
		index[l.ID] = i
		p.Lists = append(p.Lists, l.Name)
	}
	for _, task := range e.Tasks {
		p.Tasks = append(p.Tasks, portableTask{index[task.ListID], task.Position, task.Title, task.Description, task.AssigneeID})
	}
	for _, m := range e.Members {
		p.Members = append(p.Members, m.ID+" "+m.Email+" "+string(m.Role))
	}
	return p
}

func TestExportImportRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		defer taskboard.SetImportChunk(3)() // several transactions even for a small board
		f := newFixture(t, dsn, nil)
		owner := taskboard.Actor{UserID: alice}
		if _, _, err := f.b.AddMember(f.ctx, owner, board1, taskboard.MemberRef{UserID: f.carol, Role: taskboard.RoleViewer}); err != nil {
			t.Fatalf("AddMember(Carol): %v", err)
		}
		extra := f.newTask(t, listDone, "Ünïcödé task")
		if _, err := f.b.UpdateTask(f.ctx, owner, extra.ID, taskboard.TaskUpdate{Description: taskboard.Nullable[string]{Set: true, Value: ptr("line one\nline two")}, AssigneeID: taskboard.Nullable[string]{Set: true, Value: ptr(bob)}}); err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		if _, err := f.b.CreateList(f.ctx, owner, board1, taskboard.ListCreate{Name: "Empty", Position: ptr(0)}); err != nil {
			t.Fatalf("CreateList: %v", err)
		}

		exp, err := f.b.Export(f.ctx, taskboard.Actor{UserID: f.carol}, board1) // a viewer may export
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		if exp.Format != "taskboard/1" || exp.Seq != f.seq(t, board1) || len(exp.Lists) != 4 || len(exp.Tasks) != 5 || len(exp.Members) != 3 {
			t.Fatalf("Export: got format %q seq %d with %d lists, %d tasks, %d members; want taskboard/1 at the board's seq with 4, 5, 3",
				exp.Format, exp.Seq, len(exp.Lists), len(exp.Tasks), len(exp.Members))
		}
		// Through JSON, as a file or a request carries it.
		data, err := json.Marshal(exp)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := taskboard.ParseImport(data)
		if err != nil {
			t.Fatalf("ParseImport(export): %v", err)
		}
		snap, err := f.b.Import(f.ctx, owner, doc)
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		if snap.Board.ID == board1 || snap.Seq != 1 || len(snap.Tasks) != 5 {
			t.Errorf("Import: got board %s at seq %d with %d tasks; want a new board at seq 1 with 5", snap.Board.ID, snap.Seq, len(snap.Tasks))
		}
		for _, task := range snap.Tasks {
			if slices.ContainsFunc(exp.Tasks, func(o taskboard.Task) bool { return o.ID == task.ID }) {
				t.Errorf("Import: task %s kept its ID", task.ID)
			}
		}
		// The snapshot Import returns is the board as stored.
		stored, err := f.b.Snapshot(f.ctx, owner, snap.Board.ID)
		if err != nil {
			t.Fatalf("Snapshot(imported): %v", err)
		}
		sj, _ := json.Marshal(snap)
		dj, _ := json.Marshal(stored)
		if string(sj) != string(dj) {
			t.Errorf("Import returned\n%s\nbut the board stored is\n%s", sj, dj)
		}
		again, err := f.b.Export(f.ctx, owner, snap.Board.ID)
		if err != nil {
			t.Fatalf("Export(imported): %v", err)
		}
		want, got := portableOf(t, exp), portableOf(t, again)
		wj, _ := json.MarshalIndent(want, "", " ")
		gj, _ := json.MarshalIndent(got, "", " ")
		if string(wj) != string(gj) {
			t.Errorf("export → import → export:\ngot  %s\nwant %s", gj, wj)
		}

		// The log starts with one board_imported event.
		events := f.eventsAfter(t, snap.Board.ID, 0)
		wantEvents(t, "Import", events, 0, taskboard.EventBoardImported)
		var env struct {
			Counts taskboard.ImportCounts `json:"counts"`
			Seq    int64                  `json:"seq"`
		}
		if err := json.Unmarshal(events[0].Data, &env); err != nil || env.Counts != (taskboard.ImportCounts{Lists: 4, Tasks: 5, Members: 3}) {
			t.Errorf("board_imported: got %s, %v; want counts of 4 lists, 5 tasks, 3 members", events[0].Data, err)
		}
		// The board is usable: writes continue its log at seq 2.
		task, err := f.b.CreateTask(f.ctx, owner, taskboard.TaskCreate{ListID: snap.Lists[1].ID, Title: "after", Position: ptr(1)})
		if err != nil || task.Position != 1 {
			t.Fatalf("CreateTask on the imported board: got %+v, %v", task, err)
		}
		if seq := f.seq(t, snap.Board.ID); seq != 2 {
			t.Errorf("seq after a write on the imported board: got %d, want 2", seq)
		}
	})
}

func TestImportMembers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		exp, err := f.b.Export(f.ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		// Carol imports: she owns the copy; Alice is known by email only,
		// Bob is no user here, so his tasks lose their assignee.
		for i := range exp.Members {
			switch exp.Members[i].ID {
			case alice:
				exp.Members[i].ID = "elsewhere-alice"
			case bob:
				exp.Members[i].ID, exp.Members[i].Email = "elsewhere-bob", "bob@elsewhere.example"
			}
		}
		for i := range exp.Tasks {
			switch {
			case exp.Tasks[i].AssigneeID == nil:
			case *exp.Tasks[i].AssigneeID == alice:
				exp.Tasks[i].AssigneeID = ptr("elsewhere-alice")
			case *exp.Tasks[i].AssigneeID == bob:
				exp.Tasks[i].AssigneeID = ptr("elsewhere-bob")
			}
		}
		snap, err := f.b.Import(f.ctx, taskboard.Actor{UserID: f.carol}, exp)
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		roles := map[string]taskboard.Role{}
		for _, m := range snap.Members {
			roles[m.ID] = m.Role
		}
		if len(roles) != 2 || roles[f.carol] != taskboard.RoleOwner || roles[alice] != taskboard.RoleOwner {
			t.Errorf("members: got %v; want Carol and Alice (by email) as owners, Bob dropped", roles)
		}
		assigned := 0
		for i, task := range snap.Tasks {
			src := exp.Tasks[i]
			switch {
			case src.AssigneeID != nil && *src.AssigneeID == "elsewhere-alice":
				assigned++
				if task.AssigneeID == nil || *task.AssigneeID != alice {
					t.Errorf("task %q: got assignee %v, want Alice", task.Title, task.AssigneeID)
				}
			case task.AssigneeID != nil:
				t.Errorf("task %q: got assignee %s, want none", task.Title, *task.AssigneeID)
			}
		}
		if assigned == 0 {
			t.Fatal("the demo board has no task assigned to Alice; the test checks nothing")
		}
	})
}

func TestImportTrello(t *testing.T) {
	data, err := os.ReadFile("testdata/trello-board.json")
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		doc, err := taskboard.ParseImport(append([]byte("\xef\xbb\xbf"), data...))
		if err != nil {
			t.Fatalf("ParseImport(Trello, after a byte order mark): %v", err)
		}
		snap, err := f.b.Import(f.ctx, taskboard.Actor{UserID: f.carol}, doc)
		if err != nil {
			t.Fatalf("Import(Trello): %v", err)
		}
		if snap.Board.Name != "Product launch" {
			t.Errorf("board name: got %q", snap.Board.Name)
		}
		var lists []string
		for _, l := range snap.Lists {
			lists = append(lists, l.Name)
		}
		if want := []string{"To Do", "Doing", "Done"}; !slices.Equal(lists, want) {
			t.Errorf("lists: got %q, want %q (open lists by pos)", lists, want)
		}
		type card struct {
			list, title string
			desc        *string
		}
		var got []card
		for _, task := range snap.Tasks {
			i := slices.IndexFunc(snap.Lists, func(l taskboard.List) bool { return l.ID == task.ListID })
			got = append(got, card{lists[i], task.Title, task.Description})
		}
		long := "Ünïcödé ✓ and a very long name " + strings.Repeat("x", 600)
		long = string([]rune(long)[:500])
		want := []card{
			{"To Do", "Fix the flaky login", nil},
			{"To Do", "Write the release notes", ptr("Cover the import and the backups.\n\n- export\n- import")},
			{"Doing", "Same position, smaller id", nil},
			{"Doing", "Same position, larger id", ptr("Ties go by id.")},
			{"Done", long, nil},
			{"Done", "Ship it", nil},
		}
		if len(got) != len(want) {
			t.Fatalf("cards: got %d (%+v), want %d", len(got), got, len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.list != w.list || g.title != w.title || (g.desc == nil) != (w.desc == nil) || (g.desc != nil && *g.desc != *w.desc) {
				t.Errorf("card %d: got %q in %q (desc %v), want %q in %q (desc %v)", i, g.title, g.list, g.desc, w.title, w.list, w.desc)
			}
		}
		if len(snap.Members) != 1 || snap.Members[0].ID != f.carol || snap.Members[0].Role != taskboard.RoleOwner {
			t.Errorf("members: got %+v, want the importer alone, as owner", snap.Members)
		}
	})
}

func TestImportInvalid(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn, nil)
		good, err := f.b.Export(f.ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatal(err)
		}
		encode := func(change func(m map[string]any)) []byte {
			data, _ := json.Marshal(good)
			var m map[string]any
			json.Unmarshal(data, &m)
			change(m)
			data, _ = json.Marshal(m)
			return data
		}
		task0 := func(m map[string]any) map[string]any { return m["tasks"].([]any)[0].(map[string]any) }
		cases := []struct {
			name string
			doc  []byte
			path string
		}{
			{"not JSON", []byte(`{"format":`), "document"},
			{"an array", []byte(`[1,2]`), "document"},
			{"no format", []byte(`{"board":{"name":"x"}}`), "format"},
			{"another format", encode(func(m map[string]any) { m["format"] = "taskboard/9" }), "format"},
			{"empty board name", encode(func(m map[string]any) { m["board"].(map[string]any)["name"] = "" }), "board.name"},
			{"unknown list", encode(func(m map[string]any) { task0(m)["list_id"] = "nope" }), "tasks.0.list_id"},
			{"long title", encode(func(m map[string]any) { task0(m)["title"] = strings.Repeat("t", 501) }), "tasks.0.title"},
			{"NUL in title", encode(func(m map[string]any) { task0(m)["title"] = "a\x00b" }), "tasks.0.title"},
			{"title a number", encode(func(m map[string]any) { task0(m)["title"] = 7 }), "document"},
			{"duplicate list", encode(func(m map[string]any) {
				ls := m["lists"].([]any)
				m["lists"] = append(ls, ls[0])
			}), "lists.3.id"},
			{"bad role", encode(func(m map[string]any) { m["members"].([]any)[0].(map[string]any)["role"] = "king" }), "members.0.role"},
			{"too many members", encode(func(m map[string]any) {
				ms := m["members"].([]any)
				for len(ms) <= 1000 {
					ms = append(ms, ms[0])
				}
				m["members"] = ms
			}), "members"},
			{"Trello cards not an array", []byte(`{"name":"T","lists":[],"cards":{}}`), "document"},
		}
		b0, l0, t0, err := taskboard.BoardRows(f.b)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			doc, err := taskboard.ParseImport(c.doc)
			if err == nil {
				_, err = f.b.Import(f.ctx, taskboard.Actor{UserID: alice}, doc)
			}
			var ve *taskboard.ValidationError
			if !errors.Is(err, taskboard.ErrInvalid) || !errors.As(err, &ve) {
				t.Errorf("%s: got %v, want ErrInvalid", c.name, err)
				continue
			}
			if p := strings.Join(ve.Fields[0].Path, "."); p != c.path {
				t.Errorf("%s: got the problem at %q (%v), want %q", c.name, p, err, c.path)
			}
		}
		b1, l1, t1, err := taskboard.BoardRows(f.b)
		if err != nil || b1 != b0 || l1 != l0 || t1 != t0 {
			t.Errorf("rows after refused imports: got %d boards, %d lists, %d tasks (%v); want %d, %d, %d", b1, l1, t1, err, b0, l0, t0)
		}
		// A read-only credential may not import.
		if _, err := f.b.Import(f.ctx, taskboard.Actor{UserID: alice, ReadOnly: true}, good); !errors.Is(err, taskboard.ErrForbidden) {
			t.Errorf("Import(read-only): got %v, want ErrForbidden", err)
		}
	})
}

func TestImportFailureLeavesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		defer taskboard.SetImportChunk(2)()
		f := newFixture(t, dsn, nil)
		exp, err := f.b.Export(f.ctx, taskboard.Actor{UserID: alice}, board1)
		if err != nil {
			t.Fatal(err)
		}
		b0, l0, t0, err := taskboard.BoardRows(f.b)
		if err != nil {
			t.Fatal(err)
		}
		// Every chunk is written; the transaction that completes the board
		// fails.
		failing := errors.New("disk full")
		hooks := 0
		ctx := seam.WithTxHook(f.ctx, func(ctx context.Context, tx bun.Tx) error {
			hooks++
			return failing
		})
		if _, err := f.b.Import(ctx, taskboard.Actor{UserID: alice}, exp); !errors.Is(err, failing) {
			t.Fatalf("Import with a failing last transaction: got %v, want the failure", err)
		}
		if hooks != 1 {
			t.Errorf("the transaction hook ran %d times, want once (in the last transaction)", hooks)
		}
		b1, l1, t1, err := taskboard.BoardRows(f.b)
		if err != nil || b1 != b0 || l1 != l0 || t1 != t0 {
			t.Errorf("rows after a failed import: got %d boards, %d lists, %d tasks (%v); want %d, %d, %d", b1, l1, t1, err, b0, l0, t0)
		}
		boards, err := f.b.Boards(f.ctx, taskboard.Actor{UserID: alice})
		if err != nil || len(boards) != 1 {
			t.Errorf("Boards(alice) after a failed import: got %d, %v; want board-1 alone", len(boards), err)
		}
	})
}

// TestAbandonedImport checks what an import whose process died leaves: a
// board no one can see or change, which a later import removes once it
// has not advanced for ten minutes.
func TestAbandonedImport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		defer taskboard.SetImportChunk(2)()
		f := newFixture(t, dsn, nil)
		owner := taskboard.Actor{UserID: alice}
		exp, err := f.b.Export(f.ctx, owner, board1)
		if err != nil {
			t.Fatal(err)
		}
		b0, l0, t0, err := taskboard.BoardRows(f.b)
		if err != nil {
			t.Fatal(err)
		}
		stale, err := taskboard.AbandonedImport(f.b, owner, exp, 11*time.Minute)
		if err != nil {
			t.Fatalf("AbandonedImport(stale): %v", err)
		}
		fresh, err := taskboard.AbandonedImport(f.b, owner, exp, time.Minute)
		if err != nil {
			t.Fatalf("AbandonedImport(fresh): %v", err)
		}
		if b1, l1, t1, _ := taskboard.BoardRows(f.b); b1 != b0+2 || l1 != l0+6 || t1 != t0+8 {
			t.Fatalf("rows of two unfinished imports: got %d boards, %d lists, %d tasks; want %d, %d, %d", b1, l1, t1, b0+2, l0+6, t0+8)
		}
		for _, id := range []string{stale, fresh} {
			if _, err := f.b.Snapshot(f.ctx, owner, id); !errors.Is(err, taskboard.ErrNotFound) {
				t.Errorf("Snapshot of an unfinished import: got %v, want ErrNotFound", err)
			}
			if _, err := f.b.OperatorExport(f.ctx, id); !errors.Is(err, taskboard.ErrNotFound) {
				t.Errorf("OperatorExport of an unfinished import: got %v, want ErrNotFound", err)
			}
			if _, err := f.b.CreateList(f.ctx, owner, id, taskboard.ListCreate{Name: "x"}); !errors.Is(err, taskboard.ErrNotFound) {
				t.Errorf("CreateList on an unfinished import: got %v, want ErrNotFound", err)
			}
		}
		if boards, err := f.b.Boards(f.ctx, owner); err != nil || len(boards) != 1 {
			t.Errorf("Boards: got %d, %v; want board-1 alone", len(boards), err)
		}

		// The next import removes the stale one and leaves the one that
		// may still be running.
		snap, err := f.b.Import(f.ctx, owner, exp)
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		if b1, l1, t1, _ := taskboard.BoardRows(f.b); b1 != b0+2 || l1 != l0+6 || t1 != t0+8 {
			t.Errorf("rows after the sweep: got %d boards, %d lists, %d tasks; want %d, %d, %d (the fresh import and the new board)", b1, l1, t1, b0+2, l0+6, t0+8)
		}
		if snap.Seq != 1 {
			t.Errorf("Import: got seq %d, want 1", snap.Seq)
		}
		if ok, err := taskboard.BoardExists(f.b, stale); err != nil || ok {
			t.Errorf("the stale import: exists %v, %v; want removed", ok, err)
		}
		if ok, err := taskboard.BoardExists(f.b, fresh); err != nil || !ok {
			t.Errorf("the fresh import: exists %v, %v; want kept", ok, err)
		}
	})
}
