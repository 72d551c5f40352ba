package taskboard

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// ExportFormat names the format of the documents Export writes and Import
// reads.
const ExportFormat = "taskboard/1"

// Export is a board as a document: everything it holds, in order, as of
// Seq. Lists are by position, tasks by list position then task position,
// members are users with their role on the board.
type Export struct {
	Format     string       `json:"format"`
	ExportedAt time.Time    `json:"exported_at"`
	Seq        int64        `json:"seq"`
	Board      BoardInfo    `json:"board"`
	Lists      []List       `json:"lists"`
	Tasks      []Task       `json:"tasks"`
	Members    []MemberUser `json:"members"`
}

// ImportCounts is what an imported board holds; its board_imported event
// carries it.
type ImportCounts struct {
	Lists   int `json:"lists"`
	Tasks   int `json:"tasks"`
	Members int `json:"members"`
}

// Export returns a board as a document that Import reads back. It returns
// ErrNotFound unless the actor is a member (any role).
func (b *Board) Export(ctx context.Context, actor Actor, boardID string) (*Export, error) {
	s, err := b.Snapshot(ctx, actor, boardID)
	if err != nil {
		return nil, fmt.Errorf("taskboard: export: %w", err)
	}
	return &Export{Format: ExportFormat, ExportedAt: now(), Seq: s.Seq, Board: s.Board,
		Lists: s.Lists, Tasks: s.Tasks, Members: s.Members}, nil
}

// OperatorExport is Export for the operator, who needs no membership (the
// command line's export). It returns ErrNotFound for a board that does not
// exist or whose import is not complete.
func (b *Board) OperatorExport(ctx context.Context, boardID string) (*Export, error) {
	if hasNUL(boardID) {
		return nil, fmt.Errorf("taskboard: export: %w", notFound("Board"))
	}
	s, err := b.snapshot(ctx, boardID, func(tx bun.Tx) (*BoardInfo, error) {
		var board BoardInfo
		err := tx.NewSelect().Model(&board).Where("id = ?", boardID).
			Where("EXISTS (SELECT 1 FROM board_members AS m WHERE m.board_id = board_info.id)").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("Board")
		}
		return &board, err
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: export: %w", err)
	}
	return &Export{Format: ExportFormat, ExportedAt: now(), Seq: s.Seq, Board: s.Board,
		Lists: s.Lists, Tasks: s.Tasks, Members: s.Members}, nil
}

// ParseImport reads a document to import: an Export (format
// "taskboard/1") or a Trello board as Trello's "Export as JSON" writes it.
// A Trello board becomes its name, its open lists and their open cards in
// Trello's pos order (ties by id), with card names as titles and
// descriptions (an empty one becomes null); texts over the limits are cut
// to them, and labels, checklists, comments, attachments, members, due
// dates and closed lists and cards are left out. A document that is
// neither, or is malformed, is ErrInvalid naming the problem.
func ParseImport(data []byte) (*Export, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a byte order mark some editors write
	var head struct {
		Format *string          `json:"format"`
		Cards  *json.RawMessage `json:"cards"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, invalid("document", "must be a JSON object: %s", jsonProblem(err))
	}
	switch {
	case head.Format != nil:
		if *head.Format != ExportFormat {
			return nil, invalid("format", "must be %q", ExportFormat)
		}
		var doc Export
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&doc); err != nil {
			return nil, invalid("document", "malformed: %s", jsonProblem(err))
		}
		return &doc, nil
	case head.Cards != nil:
		return parseTrello(data)
	}
	return nil, invalid("format", "must be %q, or the document a Trello board export", ExportFormat)
}

// jsonProblem describes a decoding error without echoing the document.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return typeErr.Field + " must be " + typeErr.Type.String()
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("syntax error at byte %d", syntaxErr.Offset)
	}
	return "not valid JSON"
}

// trelloBoard is the part of Trello's board export that imports.
type trelloBoard struct {
	Name  string `json:"name"`
	Lists []struct {
		ID     string  `json:"id"`
		Name   string  `json:"name"`
		Closed bool    `json:"closed"`
		Pos    float64 `json:"pos"`
	} `json:"lists"`
	Cards []struct {
		ID     string  `json:"id"`
		Name   string  `json:"name"`
		Desc   string  `json:"desc"`
		IDList string  `json:"idList"`
		Closed bool    `json:"closed"`
		Pos    float64 `json:"pos"`
	} `json:"cards"`
}

func parseTrello(data []byte) (*Export, error) {
	var tb trelloBoard
	if err := json.Unmarshal(data, &tb); err != nil {
		return nil, invalid("document", "malformed Trello board: %s", jsonProblem(err))
	}
	type item struct {
		pos float64
		id  string
		idx int
	}
	byPos := func(a, b item) int {
		return cmp.Or(cmp.Compare(a.pos, b.pos), strings.Compare(a.id, b.id))
	}
	doc := &Export{Format: ExportFormat, Board: BoardInfo{Name: fitText(tb.Name, MaxNameLength, "Trello board")}}
	var lists []item
	for i, l := range tb.Lists {
		if !l.Closed {
			lists = append(lists, item{l.Pos, l.ID, i})
		}
	}
	slices.SortStableFunc(lists, byPos)
	open := map[string]bool{}
	for _, it := range lists {
		l := tb.Lists[it.idx]
		if open[l.ID] {
			continue
		}
		open[l.ID] = true
		doc.Lists = append(doc.Lists, List{ID: l.ID, Name: fitText(l.Name, MaxNameLength, "Untitled list"), Position: len(doc.Lists)})
	}
	var cards []item
	for i, c := range tb.Cards {
		if !c.Closed && open[c.IDList] {
			cards = append(cards, item{c.Pos, c.ID, i})
		}
	}
	slices.SortStableFunc(cards, byPos)
	n := map[string]int{}
	for _, it := range cards {
		c := tb.Cards[it.idx]
		t := Task{ID: c.ID, ListID: c.IDList, Title: fitText(c.Name, MaxTitleLength, "Untitled card"), Position: n[c.IDList]}
		n[c.IDList]++
		if d := fitText(c.Desc, MaxDescriptionLength, ""); d != "" {
			t.Description = &d
		}
		doc.Tasks = append(doc.Tasks, t)
	}
	return doc, nil
}

// fitText makes s storable: without NUL characters and invalid UTF-8, cut
// to max code points; an empty result becomes def.
func fitText(s string, max int, def string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// importChunk is the number of rows one transaction of an import writes.
// Each such transaction holds SQLite's write lock for a few milliseconds,
// so the writes of other boards interleave with a large import.
var importChunk = 250

// importStale is how long an unfinished import may go without writing a
// chunk before another import treats it as abandoned and removes it.
const importStale = 10 * time.Minute

// maxImportMembers bounds the members of an imported document, each of
// which is looked up.
const maxImportMembers = 1000

// importMarker is the settings key that marks a board being imported.
func importMarker(boardID string) string { return "import:" + boardID }

// Import makes a new board from a document (see ParseImport), owned by the
// actor, and returns its snapshot. Lists and tasks keep their names,
// descriptions and order and get new IDs; the document's members who are
// users here (by ID, else by email) become members with their roles, and an
// assignee who is not then a member is dropped. The board's log starts with
// one board_imported event at seq 1. A document that breaks a rule is
// ErrInvalid naming the field, and nothing is created.
//
// The rows are written in transactions of a few hundred, so that a large
// import never holds the database's write lock for long. Until the last
// transaction adds the members and the board_imported event, the board has
// no member: no one can see, change or follow it, and its log is empty. An
// import that fails removes what it wrote; one whose process died leaves a
// board no one can see, which the next import removes once it has not
// advanced for ten minutes.
func (b *Board) Import(ctx context.Context, actor Actor, doc *Export) (*Snapshot, error) {
	if err := actor.mayWrite(); err != nil {
		return nil, fmt.Errorf("taskboard: import: %w", err)
	}
	if hasNUL(actor.UserID) {
		return nil, fmt.Errorf("taskboard: import: %w", notFound("User"))
	}
	plan, err := planImport(doc)
	if err != nil {
		return nil, err
	}
	b.sweepImports(ctx)
	if err := b.resolveMembers(ctx, actor, doc, plan); err != nil {
		return nil, fmt.Errorf("taskboard: import: %w", err)
	}
	// The new board's snapshot is what the plan holds: no one else can
	// change the board before it is complete.
	s := plan.snapshot()
	seam.SetTxResult(ctx, s)
	if err := b.writeImport(ctx, actor, plan); err != nil {
		return nil, fmt.Errorf("taskboard: import: %w", err)
	}
	b.feed.member(plan.board.ID, "", 0)
	return s, nil
}

// snapshot returns the snapshot of the planned board once complete.
func (p *importPlan) snapshot() *Snapshot {
	s := &Snapshot{Board: p.board, Lists: slices.Clone(p.lists), Tasks: slices.Clone(p.tasks), Members: p.users, Seq: 1}
	s.Board.Seq = 1
	numberLists(s.Lists)
	numberTasks(s.Tasks)
	return s
}

// importPlan is a validated document, in order, with its new rows.
type importPlan struct {
	board   BoardInfo
	lists   []List
	tasks   []Task
	members []Member
	users   []MemberUser // the members as the snapshot lists them
	// assignees maps each new task's index to the document's assignee ID.
	assignees map[int]string
}

// planImport validates doc and lays out the rows it makes, in order.
func planImport(doc *Export) (*importPlan, error) {
	if doc == nil {
		return nil, invalid("document", "is required")
	}
	var v validator
	if doc.Format != ExportFormat {
		v.add("format", "must be "+strconv.Quote(ExportFormat))
	}
	v.length("board.name", doc.Board.Name, 1, MaxNameLength)
	at := now()
	p := &importPlan{board: BoardInfo{ID: newID(), Name: doc.Board.Name, CreatedAt: at}, assignees: map[int]string{}}

	type ordered struct {
		pos, idx int
	}
	byPos := func(a, b ordered) int { return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(a.idx, b.idx)) }
	lists := make([]ordered, 0, len(doc.Lists))
	newList := map[string]string{}
	for i, l := range doc.Lists {
		field := "lists." + strconv.Itoa(i)
		switch {
		case l.ID == "":
			v.add(field+".id", "is required")
		case newList[l.ID] != "":
			v.add(field+".id", "appears twice")
		}
		v.length(field+".name", l.Name, 1, MaxNameLength)
		if l.Position < 0 {
			v.add(field+".position", "must be a non-negative integer")
		}
		newList[l.ID] = newID()
		lists = append(lists, ordered{l.Position, i})
	}
	slices.SortStableFunc(lists, byPos)
	for _, o := range lists {
		l := doc.Lists[o.idx]
		p.lists = append(p.lists, List{ID: newList[l.ID], BoardID: p.board.ID, Name: l.Name, Version: 1})
	}

	tasks := map[string][]ordered{}
	seen := map[string]bool{}
	for i, t := range doc.Tasks {
		field := "tasks." + strconv.Itoa(i)
		switch {
		case t.ID == "":
			v.add(field+".id", "is required")
		case seen[t.ID]:
			v.add(field+".id", "appears twice")
		}
		seen[t.ID] = true
		if _, ok := newList[t.ListID]; !ok {
			v.add(field+".list_id", "must name a list of the document")
		}
		v.length(field+".title", t.Title, 1, MaxTitleLength)
		if t.Description != nil {
			v.length(field+".description", *t.Description, 0, MaxDescriptionLength)
		}
		if t.Position < 0 {
			v.add(field+".position", "must be a non-negative integer")
		}
		tasks[t.ListID] = append(tasks[t.ListID], ordered{t.Position, i})
	}
	if len(doc.Members) > maxImportMembers {
		v.add("members", "must have at most "+strconv.Itoa(maxImportMembers)+" entries")
	}
	for i, m := range doc.Members {
		field := "members." + strconv.Itoa(i)
		if m.ID == "" && m.Email == "" {
			v.add(field+".id", "is required")
		}
		if m.Role != "" && !m.Role.Valid() {
			v.add(field+".role", "must be owner, editor or viewer")
		}
	}
	if len(v.fields) > 20 {
		v.fields = v.fields[:20]
	}
	for i := range v.fields {
		// "tasks.3.title" is the path ["tasks", "3", "title"].
		v.fields[i].Path = strings.Split(v.fields[i].Path[0], ".")
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	for _, lo := range lists {
		old := doc.Lists[lo.idx].ID
		ts := tasks[old]
		slices.SortStableFunc(ts, byPos)
		for _, o := range ts {
			t := doc.Tasks[o.idx]
			if t.AssigneeID != nil {
				p.assignees[len(p.tasks)] = *t.AssigneeID
			}
			p.tasks = append(p.tasks, Task{ID: newID(), ListID: newList[old], BoardID: p.board.ID,
				Title: t.Title, Description: t.Description, Version: 1, CreatedAt: at, UpdatedAt: at})
		}
	}
	if err := rankRows(p); err != nil {
		return nil, err
	}
	return p, nil
}

// rankRows gives the planned lists and the tasks of each list order keys
// in their order.
func rankRows(p *importPlan) error {
	keys, err := ranksBetween("", "", len(p.lists))
	if err != nil {
		return fmt.Errorf("order keys: %w", err)
	}
	for i := range p.lists {
		p.lists[i].Rank = keys[i]
	}
	for i := 0; i < len(p.tasks); {
		j := i
		for j < len(p.tasks) && p.tasks[j].ListID == p.tasks[i].ListID {
			j++
		}
		keys, err := ranksBetween("", "", j-i)
		if err != nil {
			return fmt.Errorf("order keys: %w", err)
		}
		for k := i; k < j; k++ {
			p.tasks[k].Rank = keys[k-i]
		}
		i = j
	}
	return nil
}

// resolveMembers finds the users here of the document's members (by ID,
// else by email), makes the actor the owner, and keeps the assignees who
// are then members.
func (b *Board) resolveMembers(ctx context.Context, actor Actor, doc *Export, p *importPlan) error {
	var me User
	if err := b.db.NewSelect().Model(&me).Where("id = ?", actor.UserID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("User")
		}
		return wrapDBError(fmt.Errorf("find user %s: %w", actor.UserID, err))
	}
	local := map[string]string{actor.UserID: actor.UserID} // document user ID → user ID here
	roles := map[string]Role{actor.UserID: RoleOwner}
	users := map[string]User{me.ID: me}
	order := []string{actor.UserID}
	for _, m := range doc.Members {
		if hasNUL(m.ID, m.Email) {
			continue
		}
		var u User
		err := b.db.NewSelect().Model(&u).Where("id = ?", m.ID).WhereOr("email = ? AND ? <> ''", m.Email, m.Email).
			OrderExpr("CASE WHEN id = ? THEN 0 ELSE 1 END", m.ID).Limit(1).Scan(ctx)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			return wrapDBError(fmt.Errorf("find member %s: %w", m.ID, err))
		}
		local[m.ID] = u.ID
		users[u.ID] = u
		if _, ok := roles[u.ID]; !ok {
			roles[u.ID] = cmp.Or(m.Role, RoleEditor)
			order = append(order, u.ID)
		}
	}
	at := p.board.CreatedAt
	for _, id := range order {
		p.members = append(p.members, Member{BoardID: p.board.ID, UserID: id, Role: roles[id], CreatedAt: at})
		p.users = append(p.users, MemberUser{User: users[id], Role: roles[id]})
	}
	slices.SortFunc(p.users, func(a, b MemberUser) int {
		// As selectMembers orders them.
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	for i, a := range p.assignees {
		if id, ok := local[a]; ok {
			p.tasks[i].AssigneeID = &id
		}
	}
	return nil
}

// writeImport writes a planned board in chunks and completes it; on
// failure it removes what it wrote.
func (b *Board) writeImport(ctx context.Context, actor Actor, p *importPlan) error {
	boardID := p.board.ID
	// The context's transaction hook belongs to the write as a whole: it
	// runs in the last transaction, which completes the board, alone.
	final := ctx
	ctx = seam.WithTxHook(ctx, nil)
	fail := func(err error) error {
		// The board has no member yet: no one has seen it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := b.dropImport(cctx, boardID); derr != nil {
			b.opts.Logger.Warn("taskboard: remove a failed import", "board", boardID, "err", derr)
		}
		return err
	}
	if err := b.writeImportRows(ctx, p); err != nil {
		return fail(err)
	}
	counts := &ImportCounts{Lists: len(p.lists), Tasks: len(p.tasks), Members: len(p.members)}
	err := b.changeOf(final, actor, target{boardID: boardID, operator: true}, "Board", func(c *change) error {
		if c.board.Seq != 0 {
			return fmt.Errorf("imported board %s already complete", boardID)
		}
		if _, err := c.tx.NewInsert().Model(&p.members).Exec(ctx); err != nil {
			return fmt.Errorf("insert members: %w", err)
		}
		if _, err := c.tx.NewRaw("DELETE FROM settings WHERE key = ?", importMarker(boardID)).Exec(ctx); err != nil {
			return fmt.Errorf("complete import: %w", err)
		}
		return c.emit(ctx, Envelope{Type: EventBoardImported, Counts: counts})
	})
	if err != nil {
		// Should the commit have happened all the same, dropImport leaves
		// the board alone: it has members.
		return fail(err)
	}
	return nil
}

// writeImportRows writes the planned board, lists and tasks, a chunk per
// transaction, with the marker of an unfinished import.
func (b *Board) writeImportRows(ctx context.Context, p *importPlan) error {
	marker := importMarker(p.board.ID)
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&p.board).Exec(ctx); err != nil {
			return fmt.Errorf("insert board: %w", err)
		}
		_, err := tx.NewRaw("INSERT INTO settings (key, value) VALUES (?, ?)", marker, now().Format(time.RFC3339Nano)).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	chunk := func(insert func(tx bun.Tx) error) error {
		return b.plainTx(ctx, func(tx bun.Tx) error {
			if err := insert(tx); err != nil {
				return err
			}
			_, err := tx.NewRaw("UPDATE settings SET value = ? WHERE key = ?", now().Format(time.RFC3339Nano), marker).Exec(ctx)
			return err
		})
	}
	for i := 0; i < len(p.lists); i += importChunk {
		rows := p.lists[i:min(i+importChunk, len(p.lists))]
		if err := chunk(func(tx bun.Tx) error {
			_, err := tx.NewInsert().Model(&rows).Exec(ctx)
			return err
		}); err != nil {
			return fmt.Errorf("insert lists: %w", err)
		}
	}
	for i := 0; i < len(p.tasks); i += importChunk {
		rows := p.tasks[i:min(i+importChunk, len(p.tasks))]
		if err := chunk(func(tx bun.Tx) error {
			_, err := tx.NewInsert().Model(&rows).Exec(ctx)
			return err
		}); err != nil {
			return fmt.Errorf("insert tasks: %w", err)
		}
	}
	return nil
}

// dropImport removes an unfinished import, a chunk at a time. A board
// that has members is complete and stays.
func (b *Board) dropImport(ctx context.Context, boardID string) error {
	for _, table := range []string{"tasks", "lists"} {
		for {
			var n int64
			err := b.plainTx(ctx, func(tx bun.Tx) error {
				res, err := tx.NewRaw("DELETE FROM "+table+" WHERE id IN (SELECT id FROM "+table+" WHERE board_id = ? LIMIT ?) "+
					"AND NOT EXISTS (SELECT 1 FROM board_members WHERE board_id = ?)", boardID, importChunk, boardID).Exec(ctx)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return fmt.Errorf("delete %s: %w", table, err)
			}
			if n == 0 {
				break
			}
		}
	}
	return b.plainTx(ctx, func(tx bun.Tx) error {
		// Only a board that never completed: it has no members.
		if _, err := tx.NewRaw("DELETE FROM boards WHERE id = ? AND NOT EXISTS (SELECT 1 FROM board_members WHERE board_id = ?)", boardID, boardID).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewRaw("DELETE FROM settings WHERE key = ?", importMarker(boardID)).Exec(ctx)
		return err
	})
}

// sweepImports removes the imports that stopped advancing more than
// importStale ago (their process died).
func (b *Board) sweepImports(ctx context.Context) {
	var rows []struct {
		Key   string `bun:"key"`
		Value string `bun:"value"`
	}
	if err := b.db.NewRaw("SELECT key, value FROM settings WHERE key LIKE 'import:%'").Scan(ctx, &rows); err != nil {
		b.opts.Logger.Warn("taskboard: look for abandoned imports", "err", err)
		return
	}
	for _, r := range rows {
		at, err := time.Parse(time.RFC3339Nano, r.Value)
		if err == nil && time.Since(at) < importStale {
			continue
		}
		id := strings.TrimPrefix(r.Key, "import:")
		if err := b.dropImport(ctx, id); err != nil {
			b.opts.Logger.Warn("taskboard: remove an abandoned import", "board", id, "err", err)
		}
	}
}
