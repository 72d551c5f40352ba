package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/taskboard/taskboard"
)

// p escapes one path segment.
func p(s string) string { return url.PathEscape(s) }

type dataOf[T any] struct {
	Data []T `json:"data"`
}

// Health calls GET /health; nil means the server is alive.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/health", noAuth: true}, nil)
	return err
}

// Ready calls GET /ready; nil means the database is reachable.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/ready", noAuth: true}, nil)
	return err
}

// Me returns the caller (GET /users/me).
func (c *Client) Me(ctx context.Context) (*taskboard.User, error) {
	var u taskboard.User
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/users/me"}, &u)
	return ret(&u, err)
}

func ret[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Boards returns the caller's boards (GET /boards).
func (c *Client) Boards(ctx context.Context) ([]taskboard.BoardInfo, error) {
	var out dataOf[taskboard.BoardInfo]
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards"}, &out)
	return out.Data, err
}

// CreateBoard creates a board owned by the caller (POST /boards).
func (c *Client) CreateBoard(ctx context.Context, name string) (*taskboard.BoardInfo, error) {
	var b taskboard.BoardInfo
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/boards", body: map[string]string{"name": name}}, &b)
	return ret(&b, err)
}

// Snapshot returns a board with its lists, tasks and members, consistent as
// of its Seq (GET /boards/{boardId}).
func (c *Client) Snapshot(ctx context.Context, boardID string) (*taskboard.Snapshot, error) {
	var s taskboard.Snapshot
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID)}, &s)
	return ret(&s, err)
}

// RenameBoard renames a board (PATCH /boards/{boardId}).
func (c *Client) RenameBoard(ctx context.Context, boardID, name string) (*taskboard.BoardInfo, error) {
	var b taskboard.BoardInfo
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/boards/" + p(boardID), body: map[string]string{"name": name}}, &b)
	return ret(&b, err)
}

// DeleteBoard deletes a board with its lists, tasks and log.
func (c *Client) DeleteBoard(ctx context.Context, boardID string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/boards/" + p(boardID)}, nil)
	return err
}

// Tasks returns a board's tasks by list position, then task position
// (GET /boards/{boardId}/tasks).
func (c *Client) Tasks(ctx context.Context, boardID string) ([]taskboard.Task, error) {
	var out dataOf[taskboard.Task]
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID) + "/tasks"}, &out)
	return out.Data, err
}

// MemberAdd names the user to add, by UserID or Email, and their role
// (empty: editor).
type MemberAdd struct {
	UserID string         `json:"userId,omitempty"`
	Email  string         `json:"email,omitempty"`
	Role   taskboard.Role `json:"role,omitempty"`
}

// AddMember adds a member to a board (POST /boards/{boardId}/members). A
// user who is a member already keeps their role.
func (c *Client) AddMember(ctx context.Context, boardID string, m MemberAdd) (*taskboard.Member, error) {
	var out taskboard.Member
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/boards/" + p(boardID) + "/members", body: m}, &out)
	return ret(&out, err)
}

// SetRole changes a member's role (PATCH /boards/{boardId}/members/{userId}).
func (c *Client) SetRole(ctx context.Context, boardID, userID string, role taskboard.Role) (*taskboard.Member, error) {
	var out taskboard.Member
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/boards/" + p(boardID) + "/members/" + p(userID),
		body: map[string]taskboard.Role{"role": role}}, &out)
	return ret(&out, err)
}

// RemoveMember removes a member, the caller included
// (DELETE /boards/{boardId}/members/{userId}).
func (c *Client) RemoveMember(ctx context.Context, boardID, userID string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/boards/" + p(boardID) + "/members/" + p(userID)}, nil)
	return err
}

// Presence returns who is present on a board (GET /boards/{boardId}/presence).
func (c *Client) Presence(ctx context.Context, boardID string) ([]taskboard.PresenceEntry, error) {
	var out dataOf[taskboard.PresenceEntry]
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID) + "/presence"}, &out)
	return out.Data, err
}

// CreateList adds a list to a board (POST /boards/{boardId}/lists). A nil
// position means last.
func (c *Client) CreateList(ctx context.Context, boardID, name string, position *int) (*taskboard.List, error) {
	var l taskboard.List
	body := struct {
		Name     string `json:"name"`
		Position *int   `json:"position,omitempty"`
	}{name, position}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/boards/" + p(boardID) + "/lists", body: body}, &l)
	return ret(&l, err)
}

// RenameList renames a list (PATCH /lists/{id}). A version above zero is
// sent as If-Match: a list changed since is ErrPreconditionFailed.
func (c *Client) RenameList(ctx context.Context, listID, name string, version int64) (*taskboard.List, error) {
	var l taskboard.List
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/lists/" + p(listID), body: map[string]string{"name": name}, ifMatch: version}, &l)
	return ret(&l, err)
}

// MoveList moves a list among its board's lists (PATCH /lists/{id}/move);
// version as for RenameList.
func (c *Client) MoveList(ctx context.Context, listID string, position int, version int64) (*taskboard.List, error) {
	var l taskboard.List
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/lists/" + p(listID) + "/move", body: map[string]int{"position": position}, ifMatch: version}, &l)
	return ret(&l, err)
}

// DeleteList deletes a list and its tasks (DELETE /lists/{id}); version as
// for RenameList.
func (c *Client) DeleteList(ctx context.Context, listID string, version int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/lists/" + p(listID), ifMatch: version}, nil)
	return err
}

// TaskCreate is a new task. A nil Position means the end of the list.
type TaskCreate struct {
	Title       string  `json:"title"`
	Description *string `json:"description,omitempty"`
	ListID      string  `json:"listId"`
	AssigneeID  *string `json:"assigneeId,omitempty"`
	Position    *int    `json:"position,omitempty"`
}

// CreateTask creates a task (POST /tasks).
func (c *Client) CreateTask(ctx context.Context, t TaskCreate) (*taskboard.Task, error) {
	var out taskboard.Task
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/tasks", body: t}, &out)
	return ret(&out, err)
}

// Task returns a task (GET /tasks/{id}).
func (c *Client) Task(ctx context.Context, taskID string) (*taskboard.Task, error) {
	var out taskboard.Task
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/tasks/" + p(taskID)}, &out)
	return ret(&out, err)
}

// TaskUpdate is a partial update of a task: nil fields stay as they are;
// ClearDescription and ClearAssignee set those to null.
type TaskUpdate struct {
	Title            *string
	Description      *string
	ClearDescription bool
	AssigneeID       *string
	ClearAssignee    bool
	// Version, above zero, is sent as If-Match: a task changed since is
	// ErrPreconditionFailed and stays as it is.
	Version int64
}

// MarshalJSON encodes the fields that are set, null for the cleared ones.
func (u TaskUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.Title != nil {
		m["title"] = *u.Title
	}
	if u.ClearDescription {
		m["description"] = nil
	} else if u.Description != nil {
		m["description"] = *u.Description
	}
	if u.ClearAssignee {
		m["assigneeId"] = nil
	} else if u.AssigneeID != nil {
		m["assigneeId"] = *u.AssigneeID
	}
	return json.Marshal(m)
}

// UpdateTask changes a task's fields (PATCH /tasks/{id}).
func (c *Client) UpdateTask(ctx context.Context, taskID string, u TaskUpdate) (*taskboard.Task, error) {
	var out taskboard.Task
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/tasks/" + p(taskID), body: u, ifMatch: u.Version}, &out)
	return ret(&out, err)
}

// MoveTask moves a task to position in listID, in its list or another of
// its board (PATCH /tasks/{id}/move). version as for TaskUpdate.Version.
func (c *Client) MoveTask(ctx context.Context, taskID, listID string, position int, version int64) (*taskboard.Task, error) {
	var out taskboard.Task
	body := struct {
		ListID   string `json:"listId"`
		Position int    `json:"position"`
	}{listID, position}
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/tasks/" + p(taskID) + "/move", body: body, ifMatch: version}, &out)
	return ret(&out, err)
}

// DeleteTask deletes a task (DELETE /tasks/{id}); version as for
// TaskUpdate.Version.
func (c *Client) DeleteTask(ctx context.Context, taskID string, version int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/tasks/" + p(taskID), ifMatch: version}, nil)
	return err
}

// Page is a batch of a board's logged events from polling. Seq is the seq
// of the last one, or the resume point when there are none; More says that
// further events are waiting; Timeout that a long poll ended empty.
type Page struct {
	Data    []taskboard.Envelope `json:"data"`
	Seq     int64                `json:"seq"`
	More    bool                 `json:"more"`
	Timeout bool                 `json:"timeout"`
}

// Updates returns up to limit (0: the server's default) logged events after
// seq after: short polling (GET /boards/{boardId}/updates?after=). A resume
// point that needs a reset is an *Error with ErrGone, its Reason and Seq.
func (c *Client) Updates(ctx context.Context, boardID string, after int64, limit int) (*Page, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out Page
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID) + "/updates", query: q}, &out)
	return ret(&out, err)
}

// Changes is the answer of short polling by time.
type Changes struct {
	Data      []taskboard.Task `json:"data"`
	Deleted   []string         `json:"deleted"`
	Timestamp time.Time        `json:"timestamp"`
}

// UpdatesSince returns the tasks changed and deleted after since (zero: all
// tasks), the course's short polling; use Timestamp as the next since.
func (c *Client) UpdatesSince(ctx context.Context, boardID string, since time.Time) (*Changes, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	var out Changes
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID) + "/updates", query: q}, &out)
	return ret(&out, err)
}

// Poll waits up to timeout (1..60s; 0: the server's 30s) for events after
// seq after: long polling (GET /boards/{boardId}/poll). Errors as Updates.
func (c *Client) Poll(ctx context.Context, boardID string, after int64, timeout time.Duration) (*Page, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}}
	if timeout > 0 {
		q.Set("timeout", strconv.Itoa(int((timeout+time.Second-1)/time.Second)))
	}
	var out Page
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID) + "/poll", query: q}, &out)
	return ret(&out, err)
}

// Ticket is a single-use credential of the streaming routes, valid 60 s.
type Ticket struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateTicket returns a new ticket (POST /realtime/tickets).
func (c *Client) CreateTicket(ctx context.Context) (*Ticket, error) {
	var out Ticket
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/realtime/tickets", rawBody: []byte("{}"), noIdem: true}, &out)
	return ret(&out, err)
}

// Token is an API token of the caller. Secret is set only in the answer
// of CreateToken: it is shown once.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Secret     string     `json:"token,omitempty"`
}

// TokenCreate is a new token: Scope "read" or "write" (empty: the caller's
// credential's), ExpiresIn at least a minute (zero: when the caller's
// credential expires, or never).
type TokenCreate struct {
	Name      string
	Scope     string
	ExpiresIn time.Duration
}

// Tokens lists the caller's tokens that are not revoked (GET /tokens).
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var out dataOf[Token]
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/tokens"}, &out)
	return out.Data, err
}

// CreateToken creates a token of the caller (POST /tokens).
func (c *Client) CreateToken(ctx context.Context, t TokenCreate) (*Token, error) {
	body := struct {
		Name      string `json:"name"`
		Scope     string `json:"scope,omitempty"`
		ExpiresIn int64  `json:"expiresIn,omitempty"`
	}{t.Name, t.Scope, int64(t.ExpiresIn / time.Second)}
	var out Token
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/tokens", body: body, noIdem: true}, &out)
	return ret(&out, err)
}

// RevokeToken revokes one of the caller's tokens and ends its streams
// (DELETE /tokens/{id}).
func (c *Client) RevokeToken(ctx context.Context, tokenID string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/tokens/" + p(tokenID)}, nil)
	return err
}

// WebhookCreate is a new webhook; nil Events means every logged type.
type WebhookCreate struct {
	URL         string   `json:"url"`
	Events      []string `json:"events,omitempty"`
	Description string   `json:"description,omitempty"`
}

// WebhookUpdate is a partial update of a webhook; nil fields stay as they
// are. AllEvents restores delivery of every logged type. Status is "active"
// or "paused".
type WebhookUpdate struct {
	URL         *string
	Events      []string
	AllEvents   bool
	Description *string
	Status      *string
}

// MarshalJSON encodes the fields that are set.
func (u WebhookUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.URL != nil {
		m["url"] = *u.URL
	}
	if u.AllEvents {
		m["events"] = nil
	} else if u.Events != nil {
		m["events"] = u.Events
	}
	if u.Description != nil {
		m["description"] = *u.Description
	}
	if u.Status != nil {
		m["status"] = *u.Status
	}
	return json.Marshal(m)
}

// CreateWebhook adds a webhook to a board (POST /boards/{boardId}/webhooks);
// the answer's Secret is shown once.
func (c *Client) CreateWebhook(ctx context.Context, boardID string, w WebhookCreate) (*taskboard.Webhook, error) {
	var out taskboard.Webhook
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/boards/" + p(boardID) + "/webhooks", body: w}, &out)
	return ret(&out, err)
}

// Webhooks lists a board's webhooks, without secrets.
func (c *Client) Webhooks(ctx context.Context, boardID string) ([]taskboard.Webhook, error) {
	var out dataOf[taskboard.Webhook]
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID) + "/webhooks"}, &out)
	return out.Data, err
}

// Webhook returns a webhook (GET /webhooks/{id}).
func (c *Client) Webhook(ctx context.Context, id string) (*taskboard.Webhook, error) {
	var out taskboard.Webhook
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/webhooks/" + p(id)}, &out)
	return ret(&out, err)
}

// UpdateWebhook changes a webhook (PATCH /webhooks/{id}).
func (c *Client) UpdateWebhook(ctx context.Context, id string, u WebhookUpdate) (*taskboard.Webhook, error) {
	var out taskboard.Webhook
	_, err := c.do(ctx, request{method: http.MethodPatch, path: "/webhooks/" + p(id), body: u}, &out)
	return ret(&out, err)
}

// DeleteWebhook deletes a webhook (DELETE /webhooks/{id}).
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/webhooks/" + p(id)}, nil)
	return err
}

// ReplayWebhook restarts a webhook's deliveries after seq after
// (POST /webhooks/{id}/replay).
func (c *Client) ReplayWebhook(ctx context.Context, id string, after int64) (*taskboard.Webhook, error) {
	var out taskboard.Webhook
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/webhooks/" + p(id) + "/replay", body: map[string]int64{"after": after}}, &out)
	return ret(&out, err)
}

// WebhookDeliveries returns a webhook's latest delivery attempts, newest
// first, at most limit (0: 100).
func (c *Client) WebhookDeliveries(ctx context.Context, id string, limit int) ([]taskboard.WebhookAttempt, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out dataOf[taskboard.WebhookAttempt]
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/webhooks/" + p(id) + "/deliveries", query: q}, &out)
	return out.Data, err
}

// Export returns a board as a document (GET /boards/{boardId}/export).
func (c *Client) Export(ctx context.Context, boardID string) (*taskboard.Export, error) {
	var out taskboard.Export
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/boards/" + p(boardID) + "/export"}, &out)
	return ret(&out, err)
}

// Import creates a board from a document: an Export's JSON or a Trello
// board export (POST /boards/import). It returns the new board's snapshot.
func (c *Client) Import(ctx context.Context, document []byte) (*taskboard.Snapshot, error) {
	var out taskboard.Snapshot
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/boards/import", rawBody: document}, &out)
	return ret(&out, err)
}

// Connections are the open real-time connections of one instance
// (GET /admin/connections).
type Connections struct {
	Total     int            `json:"total"`
	SSE       int            `json:"sse"`
	WebSocket int            `json:"websocket"`
	LongPoll  int            `json:"longPoll"`
	ByBoard   map[string]int `json:"byBoard"`
}

// AdminConnections returns the server's connection counts; the client's
// token must be the server's admin token.
func (c *Client) AdminConnections(ctx context.Context) (*Connections, error) {
	var out Connections
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/admin/connections"}, &out)
	return ret(&out, err)
}

// SessionState is who a client's credentials belong to, and the sign-ins
// the server offers (GET /sessions).
type SessionState struct {
	// User is the caller; nil when the client's token, or else its cookie,
	// is missing or not valid.
	User *taskboard.User `json:"user"`
	// Token reports whether SignIn signs in with a token.
	Token bool `json:"token"`
	// Demo reports whether SignInDemo signs in (a demo server).
	Demo bool `json:"demo"`
	// DemoUsers are the users SignInDemo accepts; empty when Demo is false.
	DemoUsers []taskboard.User `json:"demoUsers"`
}

// Session returns who the client's token, or else its cookie, belongs to,
// and which sign-ins the server offers (GET /sessions). Credentials that
// are not valid are no error: User is nil.
func (c *Client) Session(ctx context.Context) (*SessionState, error) {
	var out SessionState
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/sessions"}, &out)
	return ret(&out, err)
}

// SignIn exchanges token for a session cookie (POST /sessions). The cookie
// is kept only by an http.Client with a Jar (WithHTTPClient); requests then
// authenticate by it when the client has no token of its own.
func (c *Client) SignIn(ctx context.Context, token string) (*taskboard.User, error) {
	var out struct {
		User taskboard.User `json:"user"`
	}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/sessions", body: map[string]string{"token": token}, noIdem: true, noAuth: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out.User, nil
}

// SignInDemo signs in as a demo user on a demo server (POST /sessions/demo),
// as SignIn does with a token.
func (c *Client) SignInDemo(ctx context.Context, userID string) (*taskboard.User, error) {
	var out struct {
		User taskboard.User `json:"user"`
	}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/sessions/demo", body: map[string]string{"userId": userID}, noIdem: true, noAuth: true}, &out)
	if err != nil {
		return nil, err
	}
	return &out.User, nil
}

// SignOut ends the session of the cookie (DELETE /sessions).
func (c *Client) SignOut(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/sessions", rawBody: []byte("{}"), noIdem: true, noAuth: true}, nil)
	return err
}
