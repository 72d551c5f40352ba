package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
	"github.com/taskboard/taskboard/httpapi"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// bigTrello returns a Trello board export of about size bytes.
func bigTrello(size int) string {
	var b strings.Builder
	b.WriteString(`{"name":"Big","lists":[{"id":"l1","name":"Backlog","closed":false,"pos":1}],"cards":[`)
	desc := strings.Repeat("d", 8000)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"c%d","name":"Card %d","desc":%q,"idList":"l1","closed":false,"pos":%d}`, i, i, desc, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestExportImportRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRESTEnv(t, dsn, nil)
		// Any member exports; others get 404.
		exp := e.as(e.bob, "GET", "/boards/board-1/export", "").want(t, http.StatusOK)
		var doc taskboard.Export
		exp.decode(t, &doc)
		if doc.Format != "taskboard/1" || doc.Board.ID != "board-1" || len(doc.Lists) != 3 || len(doc.Tasks) != 4 || len(doc.Members) != 2 {
			t.Fatalf("export: got %s", exp.Body)
		}
		e.as(e.carol, "GET", "/boards/board-1/export", "").wantError(t, http.StatusNotFound, "Board not found")

		// Carol imports it: a new board of hers at seq 1. Alice and Bob
		// are users here and come across with their roles.
		res := e.as(e.carol, "POST", "/boards/import", string(exp.Body)).want(t, http.StatusCreated)
		var snap taskboard.Snapshot
		res.decode(t, &snap)
		if snap.Board.ID == "board-1" || snap.Seq != 1 || snap.Board.Name != "Sprint 12" || len(snap.Tasks) != 4 || len(snap.Members) != 3 {
			t.Fatalf("import: got %s", res.Body)
		}
		got := e.as(e.carol, "GET", "/boards/"+snap.Board.ID, "").want(t, http.StatusOK)
		var stored taskboard.Snapshot
		got.decode(t, &stored)
		if a, b := mustJSON(t, snap), mustJSON(t, stored); a != b {
			t.Errorf("import answered\n%s\nbut GET answers\n%s", a, b)
		}
		if evs := e.events(snap.Board.ID, 0); len(evs) != 1 || evs[0].Type != taskboard.EventBoardImported || evs[0].ActorID != e.carolID {
			t.Errorf("log of the imported board: got %+v, want one board_imported by Carol", evs)
		}

		// A Trello board.
		trello, err := os.ReadFile("../testdata/trello-board.json")
		if err != nil {
			t.Fatal(err)
		}
		res = e.as(e.carol, "POST", "/boards/import", string(trello)).want(t, http.StatusCreated)
		res.decode(t, &snap)
		if snap.Board.Name != "Product launch" || len(snap.Lists) != 3 || len(snap.Tasks) != 6 {
			t.Errorf("Trello import: got %s", res.Body)
		}

		// Bad documents: 400 naming the problem, nothing created.
		before := len(e.as(e.carol, "GET", "/boards", "").want(t, http.StatusOK).object(t)["data"].([]any))
		e.as(e.carol, "POST", "/boards/import", `{"format":"taskboard/1","board":{"name":""},"lists":[],"tasks":[],"members":[]}`).wantValidation(t, "board.name")
		e.as(e.carol, "POST", "/boards/import", `{"format":"other"}`).wantValidation(t, "format")
		e.as(e.carol, "POST", "/boards/import", `{"hello":1}`).wantValidation(t, "format")
		e.as(e.carol, "POST", "/boards/import", `{"format":`).wantValidation(t, "document")
		bad := strings.Replace(string(exp.Body), `"list_id":"list-todo"`, `"list_id":"list-gone"`, 1)
		e.as(e.carol, "POST", "/boards/import", bad).wantValidation(t, "tasks.0.list_id")
		// A read token may not import.
		_, readTok, err := e.creds.IssueToken(context.Background(), e.carolID, auth.TokenSpec{Scope: auth.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		e.as(readTok, "POST", "/boards/import", string(exp.Body)).wantError(t, http.StatusForbidden, "Forbidden")
		after := len(e.as(e.carol, "GET", "/boards", "").want(t, http.StatusOK).object(t)["data"].([]any))
		if after != before {
			t.Errorf("boards after refused imports: got %d, want %d", after, before)
		}

		// Idempotent: a repeat gets the first answer and makes no board.
		hdr := bearerHdr(e.carol).with("Idempotency-Key", "import-1")
		first := e.do("POST", "/boards/import", string(trello), hdr).want(t, http.StatusCreated)
		again := e.do("POST", "/boards/import", string(trello), hdr).want(t, http.StatusCreated)
		if string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("repeated import: got %s (replayed %q), want the first answer replayed", again.Body, again.Header.Get("Idempotent-Replayed"))
		}
		if n := len(e.as(e.carol, "GET", "/boards", "").want(t, http.StatusOK).object(t)["data"].([]any)); n != after+1 {
			t.Errorf("boards after a repeated import: got %d, want %d", n, after+1)
		}
	})
}

func TestImportSizeLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		big := bigTrello(2 << 20)
		// The default limit (16 MiB) takes a 2 MiB board, which other
		// routes (1 MiB) refuse.
		e := newRESTEnv(t, dsn, nil)
		e.as(e.carol, "POST", "/boards/import", big).want(t, http.StatusCreated)
		e.as(e.carol, "POST", "/boards", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`).want(t, http.StatusRequestEntityTooLarge)

		small := newRESTEnv(t, dbtest.SQLite(t), &httpapi.Options{MaxImportBytes: 1 << 20})
		small.as(small.carol, "POST", "/boards/import", big).wantError(t, http.StatusRequestEntityTooLarge, "Request body too large")
		small.do("POST", "/boards/import", big, bearerHdr(small.carol).with("Idempotency-Key", "k")).want(t, http.StatusRequestEntityTooLarge)
		if n := len(small.as(small.carol, "GET", "/boards", "").want(t, http.StatusOK).object(t)["data"].([]any)); n != 0 {
			t.Errorf("boards after an oversized import: got %d, want 0", n)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
