package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/taskboard/taskboard"
)

// routes registers every route of the API.
func (h *Handler) routes() {
	// Public.
	h.handle("GET /health", h.health)
	h.handle("GET /ready", h.ready)
	h.handle("GET /openapi.json", h.openAPI)
	h.handle("GET /sessions", h.sessionState)
	if h.creds != nil {
		// The built-in authenticator's credentials.
		h.handle("POST /sessions", h.createSession)
		h.handle("DELETE /sessions", h.deleteSession)
		h.handle("POST /sessions/demo", h.createDemoSession)
	} else {
		// Without them the other methods of /sessions are 404, as the
		// routes that are not served, rather than 405 for GET's sake.
		h.mux.HandleFunc("/sessions", func(w http.ResponseWriter, r *http.Request) {
			infoOf(r).pattern = "unmatched"
			writeJSON(w, http.StatusNotFound, errorBody{Error: "Not Found"})
		})
	}

	// The course's routes.
	h.handle("GET /boards/{boardId}/tasks", h.authed(h.listTasks))
	h.handle("POST /tasks", h.authed(h.idempotent(h.createTask)))
	h.handle("PATCH /tasks/{id}/move", h.authed(h.idempotent(h.moveTask)))
	h.handle("DELETE /tasks/{id}", h.authed(h.idempotent(h.deleteTask)))

	h.handle("GET /tasks/{id}", h.authed(h.getTask))
	h.handle("PATCH /tasks/{id}", h.authed(h.idempotent(h.updateTask)))
	h.handle("GET /users/me", h.authed(h.me))
	h.handle("GET /boards", h.authed(h.listBoards))
	h.handle("POST /boards", h.authed(h.idempotent(h.createBoard)))
	h.handle("GET /boards/{boardId}", h.authed(h.snapshot))
	h.handle("PATCH /boards/{boardId}", h.authed(h.idempotent(h.updateBoard)))
	h.handle("DELETE /boards/{boardId}", h.authed(h.idempotent(h.deleteBoard)))
	h.handle("POST /boards/{boardId}/members", h.authed(h.idempotent(h.addMember)))
	h.handle("PATCH /boards/{boardId}/members/{userId}", h.authed(h.idempotent(h.updateMember)))
	h.handle("DELETE /boards/{boardId}/members/{userId}", h.authed(h.idempotent(h.removeMember)))
	h.handle("GET /boards/{boardId}/export", h.authed(h.exportBoard))
	h.handle("POST /boards/import", h.authed(h.idempotentUpTo(h.opts.MaxImportBytes, h.importBoard)))
	h.handle("POST /boards/{boardId}/lists", h.authed(h.idempotent(h.createList)))
	h.handle("PATCH /lists/{id}", h.authed(h.idempotent(h.updateList)))
	h.handle("PATCH /lists/{id}/move", h.authed(h.idempotent(h.moveList)))
	h.handle("DELETE /lists/{id}", h.authed(h.idempotent(h.deleteList)))
	if h.creds != nil {
		h.handle("POST /realtime/tickets", h.authed(h.createTicket))
		h.handle("GET /tokens", h.authed(h.listTokens))
		h.handle("POST /tokens", h.authed(h.createToken))
		h.handle("DELETE /tokens/{id}", h.authed(h.deleteToken))
	}

	h.realtimeRoutes()
	h.webhookRoutes()

	// Operational.
	h.handle("GET /metrics", h.admin(h.metrics.serve))

	// Anything else is a JSON 405 or 404.
	h.mux.HandleFunc("/", h.unmatched)
}

// unmatched answers a request no route takes: 405 with Allow when the path
// exists for other methods, else 404.
func (h *Handler) unmatched(w http.ResponseWriter, r *http.Request) {
	infoOf(r).pattern = "unmatched"
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "Method Not Allowed"})
		return
	}
	writeJSON(w, http.StatusNotFound, errorBody{Error: "Not Found"})
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readJSON reads and decodes a request body.
func (h *Handler) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r, h.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	return decodeBody(body, v)
}

// decode reads and decodes a request body into v and runs check on it. On
// a malformed body or a broken rule it answers the error and returns false.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any, check func(c *fieldChecks)) bool {
	if err := h.readJSON(w, r, v); err != nil {
		h.writeError(w, r, err)
		return false
	}
	var c fieldChecks
	check(&c)
	if err := c.err(); err != nil {
		h.writeError(w, r, err)
		return false
	}
	return true
}

// etag formats a version or seq as an entity tag.
func etag(n int64) string { return `"` + strconv.FormatInt(n, 10) + `"` }

// ifMatch returns the version an If-Match header requires: 0 when absent or
// "*", -1 when it names no version (which then never matches).
func ifMatch(r *http.Request) int64 {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0
	}
	v = strings.TrimPrefix(v, "W/")
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if err != nil || n <= 0 {
		return -1
	}
	return n
}

// notModified reports whether If-None-Match names the current tag.
func notModified(r *http.Request, tag string) bool {
	for _, v := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == tag || v == "*" {
			return true
		}
	}
	return false
}

// listTasks is GET /boards/{boardId}/tasks (the course's route).
func (h *Handler) listTasks(w http.ResponseWriter, r *http.Request, id *Identity) {
	boardID := r.PathValue("boardId")
	// A board's tasks at a seq never change: the answer for the current seq
	// may come from the cache, after one cheap query for the seq (which
	// also checks membership).
	seq, err := h.store.BoardSeq(r.Context(), id.actor(), boardID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tag := etag(seq)
	if notModified(r, tag) {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if body, ok := h.tasksCache.get(boardID, seq); ok {
		w.Header().Set("ETag", tag)
		writeRaw(w, http.StatusOK, body)
		return
	}
	tasks, seq, err := h.store.Tasks(r.Context(), id.actor(), boardID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := json.Marshal(dataBody[taskboard.Task]{Data: tasks})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.tasksCache.put(boardID, seq, body)
	w.Header().Set("ETag", etag(seq))
	writeRaw(w, http.StatusOK, body)
}

// seqCache keeps, per board, one answer valid at one seq of the board.
type seqCache struct {
	mu      sync.Mutex
	entries map[string]seqEntry
}

type seqEntry struct {
	seq  int64
	body []byte
}

// maxSeqCache bounds the boards kept; the cache is emptied when full.
const maxSeqCache = 1024

func (c *seqCache) get(boardID string, seq int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[boardID]
	return e.body, ok && e.seq == seq
}

func (c *seqCache) put(boardID string, seq int64, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxSeqCache {
		c.entries = make(map[string]seqEntry)
	}
	if e, ok := c.entries[boardID]; !ok || e.seq <= seq {
		c.entries[boardID] = seqEntry{seq: seq, body: body}
	}
}

type dataBody[T any] struct {
	Data []T `json:"data"`
}

func writeTask(w http.ResponseWriter, status int, t *taskboard.Task) {
	w.Header().Set("ETag", etag(t.Version))
	writeJSON(w, status, t)
}

func writeList(w http.ResponseWriter, status int, l *taskboard.List) {
	w.Header().Set("ETag", etag(l.Version))
	writeJSON(w, status, l)
}

// The responses of the write routes, from what their writes return; each
// route answers with one, and under an Idempotency-Key stores it with the
// write (writeContext).

func taskResponse(status int) func(w http.ResponseWriter, t *taskboard.Task) {
	return func(w http.ResponseWriter, t *taskboard.Task) { writeTask(w, status, t) }
}

func listResponse(status int) func(w http.ResponseWriter, l *taskboard.List) {
	return func(w http.ResponseWriter, l *taskboard.List) { writeList(w, status, l) }
}

func jsonResponse[T any](status int) func(w http.ResponseWriter, v T) {
	return func(w http.ResponseWriter, v T) { writeJSON(w, status, v) }
}

func noContent(w http.ResponseWriter, _ []any) { w.WriteHeader(http.StatusNoContent) }

// createTask is POST /tasks.
func (h *Handler) createTask(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Title       reqString   `json:"title"`
		Description optString   `json:"description"`
		ListID      reqString   `json:"listId"`
		AssigneeID  optString   `json:"assigneeId"`
		Position    optPosition `json:"position"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("title", in.Title)
		c.nullable("description", in.Description)
		c.required("listId", in.ListID)
		c.nullable("assigneeId", in.AssigneeID)
		c.position("position", in.Position, false)
	}) {
		return
	}
	respond := taskResponse(http.StatusCreated)
	t, err := h.store.CreateTask(writeWith(r, respond), id.actor(), taskboard.TaskCreate{
		ListID: in.ListID.Value, Title: in.Title.Value, Description: in.Description.Value,
		AssigneeID: in.AssigneeID.Value, Position: in.Position.ptr(),
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, t)
}

// getTask is GET /tasks/{id}.
func (h *Handler) getTask(w http.ResponseWriter, r *http.Request, id *Identity) {
	t, err := h.store.Task(r.Context(), id.actor(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tag := etag(t.Version)
	if notModified(r, tag) {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeTask(w, http.StatusOK, t)
}

// updateTask is PATCH /tasks/{id}.
func (h *Handler) updateTask(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Title       reqString `json:"title"`
		Description optString `json:"description"`
		AssigneeID  optString `json:"assigneeId"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.optional("title", in.Title)
		c.nullable("description", in.Description)
		c.nullable("assigneeId", in.AssigneeID)
	}) {
		return
	}
	u := taskboard.TaskUpdate{
		Description: taskboard.Nullable[string]{Set: in.Description.Set, Value: in.Description.Value},
		AssigneeID:  taskboard.Nullable[string]{Set: in.AssigneeID.Set, Value: in.AssigneeID.Value},
		IfVersion:   ifMatch(r),
	}
	if in.Title.Set {
		u.Title = &in.Title.Value
	}
	respond := taskResponse(http.StatusOK)
	t, err := h.store.UpdateTask(writeWith(r, respond), id.actor(), r.PathValue("id"), u)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, t)
}

// moveTask is PATCH /tasks/{id}/move (the course's route).
func (h *Handler) moveTask(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		ListID   reqString   `json:"listId"`
		Position optPosition `json:"position"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("listId", in.ListID)
		c.position("position", in.Position, true)
	}) {
		return
	}
	respond := taskResponse(http.StatusOK)
	t, err := h.store.MoveTask(writeWith(r, respond), id.actor(), r.PathValue("id"), taskboard.TaskMove{
		ListID: in.ListID.Value, Position: &in.Position.Value, IfVersion: ifMatch(r),
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, t)
}

// deleteTask is DELETE /tasks/{id} (the course's route).
func (h *Handler) deleteTask(w http.ResponseWriter, r *http.Request, id *Identity) {
	if err := h.store.DeleteTask(writeContext(r, noContent), id.actor(), r.PathValue("id"), taskboard.TaskDelete{IfVersion: ifMatch(r)}); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// me is GET /users/me. The user comes from the store, as every route sees
// it, not from the identity, whose name or email may differ.
func (h *Handler) me(w http.ResponseWriter, r *http.Request, id *Identity) {
	u, err := h.store.User(r.Context(), id.User.ID)
	if errors.Is(err, taskboard.ErrNotFound) {
		// Gone since the request was authenticated.
		err = fmt.Errorf("%w: user %q is not in the store", ErrUnauthorized, id.User.ID)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// listBoards is GET /boards.
func (h *Handler) listBoards(w http.ResponseWriter, r *http.Request, id *Identity) {
	boards, err := h.store.Boards(r.Context(), id.actor())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dataBody[taskboard.BoardInfo]{Data: boards})
}

// createBoard is POST /boards.
func (h *Handler) createBoard(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Name reqString `json:"name"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("name", in.Name)
	}) {
		return
	}
	respond := jsonResponse[*taskboard.BoardInfo](http.StatusCreated)
	board, err := h.store.CreateBoard(writeWith(r, respond), id.actor(), in.Name.Value)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, board)
}

// snapshot is GET /boards/{boardId}.
func (h *Handler) snapshot(w http.ResponseWriter, r *http.Request, id *Identity) {
	s, err := h.store.Snapshot(r.Context(), id.actor(), r.PathValue("boardId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tag := etag(s.Seq)
	w.Header().Set("ETag", tag)
	if notModified(r, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// updateBoard is PATCH /boards/{boardId}.
func (h *Handler) updateBoard(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Name reqString `json:"name"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.optional("name", in.Name)
	}) {
		return
	}
	var u taskboard.BoardUpdate
	if in.Name.Set {
		u.Name = &in.Name.Value
	}
	respond := jsonResponse[*taskboard.BoardInfo](http.StatusOK)
	board, err := h.store.UpdateBoard(writeWith(r, respond), id.actor(), r.PathValue("boardId"), u)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, board)
}

// deleteBoard is DELETE /boards/{boardId}.
func (h *Handler) deleteBoard(w http.ResponseWriter, r *http.Request, id *Identity) {
	if err := h.store.DeleteBoard(writeContext(r, noContent), id.actor(), r.PathValue("boardId")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// addMember is POST /boards/{boardId}/members.
func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		UserID reqString `json:"userId"`
		Email  reqString `json:"email"`
		Role   reqString `json:"role"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.optional("userId", in.UserID)
		c.optional("email", in.Email)
		if !in.UserID.Set && !in.Email.Set {
			c.add("userId", "userId or email is required")
		}
		if in.Role.Set {
			c.role("role", in.Role)
		}
	}) {
		return
	}
	ctx := writeContext(r, func(w http.ResponseWriter, result []any) {
		writeMember(w, resultOf[*taskboard.Member](result, 0), *resultOf[*bool](result, 1))
	})
	m, added, err := h.store.AddMember(ctx, id.actor(), r.PathValue("boardId"),
		taskboard.MemberRef{UserID: in.UserID.Value, Email: in.Email.Value, Role: taskboard.Role(in.Role.Value)})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, m, added)
}

// writeMember answers an added member: 201, or 200 when the user was a
// member already.
func writeMember(w http.ResponseWriter, m *taskboard.Member, added bool) {
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	writeJSON(w, status, m)
}

// updateMember is PATCH /boards/{boardId}/members/{userId}.
func (h *Handler) updateMember(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Role reqString `json:"role"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) { c.role("role", in.Role) }) {
		return
	}
	respond := jsonResponse[*taskboard.Member](http.StatusOK)
	m, err := h.store.UpdateMember(writeWith(r, respond), id.actor(), r.PathValue("boardId"), r.PathValue("userId"), taskboard.Role(in.Role.Value))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, m)
}

// removeMember is DELETE /boards/{boardId}/members/{userId}.
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, id *Identity) {
	if err := h.store.RemoveMember(writeContext(r, noContent), id.actor(), r.PathValue("boardId"), r.PathValue("userId")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// createList is POST /boards/{boardId}/lists.
func (h *Handler) createList(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Name     reqString   `json:"name"`
		Position optPosition `json:"position"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("name", in.Name)
		c.position("position", in.Position, false)
	}) {
		return
	}
	respond := listResponse(http.StatusCreated)
	l, err := h.store.CreateList(writeWith(r, respond), id.actor(), r.PathValue("boardId"),
		taskboard.ListCreate{Name: in.Name.Value, Position: in.Position.ptr()})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, l)
}

// updateList is PATCH /lists/{id}.
func (h *Handler) updateList(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Name reqString `json:"name"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.optional("name", in.Name)
	}) {
		return
	}
	u := taskboard.ListUpdate{IfVersion: ifMatch(r)}
	if in.Name.Set {
		u.Name = &in.Name.Value
	}
	respond := listResponse(http.StatusOK)
	l, err := h.store.UpdateList(writeWith(r, respond), id.actor(), r.PathValue("id"), u)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, l)
}

// moveList is PATCH /lists/{id}/move.
func (h *Handler) moveList(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Position optPosition `json:"position"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.position("position", in.Position, true)
	}) {
		return
	}
	respond := listResponse(http.StatusOK)
	l, err := h.store.MoveList(writeWith(r, respond), id.actor(), r.PathValue("id"), taskboard.ListMove{Position: &in.Position.Value, IfVersion: ifMatch(r)})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, l)
}

// deleteList is DELETE /lists/{id}.
func (h *Handler) deleteList(w http.ResponseWriter, r *http.Request, id *Identity) {
	if err := h.store.DeleteList(writeContext(r, noContent), id.actor(), r.PathValue("id"), taskboard.ListDelete{IfVersion: ifMatch(r)}); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
