package taskboard

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/taskboard/taskboard/internal/seam"
)

// Logged event types: each is appended to its board's log with a seq.
const (
	EventTaskCreated   = "task_created"
	EventTaskUpdated   = "task_updated"
	EventTaskMoved     = "task_moved"
	EventTaskDeleted   = "task_deleted"
	EventListCreated   = "list_created"
	EventListUpdated   = "list_updated"
	EventListMoved     = "list_moved"
	EventListDeleted   = "list_deleted"
	EventBoardUpdated  = "board_updated"
	EventBoardDeleted  = "board_deleted"
	EventMemberAdded   = "member_added"
	EventMemberRemoved = "member_removed"
	EventMemberUpdated = "member_updated"
	// EventBoardImported starts the log of a board made by Import.
	EventBoardImported = "board_imported"
)

// Ephemeral event types: delivered to live subscribers, never logged.
const (
	EventUserJoined        = "user_joined"
	EventUserLeft          = "user_left"
	EventUserTyping        = "user_typing"
	EventUserStoppedTyping = "user_stopped_typing"
	EventPresence          = "presence"
)

// Envelope is the JSON form of a logged event, as stored and sent. The
// fields after MutationID are present only for the types that carry them.
type Envelope struct {
	Type       string    `json:"type"`
	Seq        int64     `json:"seq"`
	BoardID    string    `json:"boardId"`
	ActorID    string    `json:"actorId"`
	At         time.Time `json:"at"`
	MutationID *string   `json:"mutationId"`

	Task    *Task      `json:"task,omitempty"`
	TaskID  string     `json:"taskId,omitempty"`
	From    *From      `json:"from,omitempty"`
	List    *List      `json:"list,omitempty"`
	TaskIDs []string   `json:"taskIds,omitzero"`
	Board   *BoardInfo `json:"board,omitempty"`
	UserID  string     `json:"userId,omitempty"`
	Role    Role       `json:"role,omitempty"`
	User    *User      `json:"user,omitempty"`
	// Counts is what an imported board holds (board_imported).
	Counts *ImportCounts `json:"counts,omitempty"`
}

// Event is one event of a board's feed. Logged events have Seq >= 1;
// ephemeral ones (presence, typing) have Seq 0. Data is the JSON object sent
// to clients.
type Event struct {
	Seq     int64
	Type    string
	BoardID string
	Data    json.RawMessage
	// origin, on an ephemeral event, is the ID of the subscription that
	// caused it; that subscription never receives it.
	origin string
	// subject is the user a member_removed event removes, or whose role a
	// member_updated event changes to role.
	subject string
	role    Role
}

func init() {
	seam.SetOriginMarker(func(ev Event, origin string) Event {
		ev.origin = origin
		return ev
	})
}

// Envelope decodes a logged event's Data.
func (e Event) Envelope() (Envelope, error) {
	var env Envelope
	err := json.Unmarshal(e.Data, &env)
	return env, err
}

func newLoggedEvent(env Envelope) (Event, error) {
	data, err := json.Marshal(env)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", env.Type, err)
	}
	ev := Event{Seq: env.Seq, Type: env.Type, BoardID: env.BoardID, Data: data}
	if env.Type == EventMemberRemoved || env.Type == EventMemberUpdated {
		ev.subject, ev.role = env.UserID, env.Role
	}
	return ev, nil
}

// eventFromRecord rebuilds a feed event from a log row.
func eventFromRecord(r *eventRecord) Event {
	ev := Event{Seq: r.Seq, Type: r.Type, BoardID: r.BoardID, Data: json.RawMessage(r.Data)}
	if r.Type == EventMemberRemoved || r.Type == EventMemberUpdated {
		var env struct {
			UserID string `json:"userId"`
			Role   Role   `json:"role"`
		}
		if json.Unmarshal(ev.Data, &env) == nil {
			ev.subject, ev.role = env.UserID, env.Role
		}
	}
	return ev
}
