package httpapi

import (
	"context"
	"encoding/json"
	"math"
	"time"

	"github.com/taskboard/taskboard"
)

// typingState is the task a connection types in on a board.
type typingState struct {
	taskID string
	timer  *time.Timer
}

// clientMessage is a decoded client message.
type clientMessage struct {
	Type    string
	BoardID string
	TaskID  string
	After   int64 // -1 when absent
	// NoPresence is a join's "presence": false: the connection follows
	// the board without counting its user present.
	NoPresence bool
	// Cursor is a join of *'s "after": the composite cursor, nil when
	// absent. PresenceBoard is its "presence": the board where the
	// connection counts its user present, "" for none.
	Cursor        map[string]int64
	PresenceBoard string
}

// parseClientMessage decodes a client message. It returns the text of the
// error object to answer with when the message is invalid.
func parseClientMessage(data []byte) (clientMessage, string) {
	m := clientMessage{After: -1}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return m, "Invalid JSON"
	}
	str := func(field string) (string, string) {
		v, ok := raw[field]
		if !ok || string(v) == "null" {
			return "", "Missing field: " + field
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", "Invalid field: " + field + " must be a string"
		}
		if s == "" {
			return "", "Missing field: " + field
		}
		return s, ""
	}
	var problem string
	if m.Type, problem = str("type"); problem != "" {
		return m, problem
	}
	switch m.Type {
	case "ping":
		return m, ""
	case "join", "leave", "typing", "stop_typing":
	default:
		t := []rune(m.Type)
		if len(t) > wsMaxEcho {
			t = append(t[:wsMaxEcho], '…')
		}
		return m, "Unknown message type: " + string(t)
	}
	if m.BoardID, problem = str("boardId"); problem != "" {
		return m, problem
	}
	switch {
	case m.Type == "join" && m.BoardID == wsAllBoards:
		if v, ok := raw["after"]; ok && string(v) != "null" {
			var text string
			if err := json.Unmarshal(v, &text); err != nil {
				return m, "Invalid field: after must be a composite cursor (board:seq pairs, comma-separated) with *"
			}
			c, err := parseCursor("after", text)
			if err != nil {
				return m, "Invalid field: " + err.Error()
			}
			if len(c) > 0 {
				m.Cursor = c
			}
		}
		if v, ok := raw["presence"]; ok && string(v) != "null" && string(v) != "false" {
			var board string
			if err := json.Unmarshal(v, &board); err != nil || board == "" {
				return m, "Invalid field: presence must be a board id (or false) with *"
			}
			m.PresenceBoard = board
		}
	case m.Type == "join":
		if v, ok := raw["after"]; ok && string(v) != "null" {
			n, ok := nonNegativeInt(v)
			if !ok {
				return m, "Invalid field: after must be a non-negative integer"
			}
			m.After = n
		}
		if v, ok := raw["presence"]; ok && string(v) != "null" {
			var present bool
			if err := json.Unmarshal(v, &present); err != nil {
				return m, "Invalid field: presence must be a boolean"
			}
			m.NoPresence = !present
		}
	case m.Type == "typing" || m.Type == "stop_typing":
		if m.TaskID, problem = str("taskId"); problem != "" {
			return m, problem
		}
		if len(m.TaskID) > wsMaxTaskID {
			m.TaskID = ""
			return m, "Invalid field: taskId is too long"
		}
	}
	return m, ""
}

// nonNegativeInt decodes a JSON number that is a non-negative integer.
func nonNegativeInt(v json.RawMessage) (int64, bool) {
	var num json.Number
	if len(v) == 0 || v[0] == '"' {
		return 0, false // json.Number would take a numeric string
	}
	if err := json.Unmarshal(v, &num); err != nil {
		return 0, false
	}
	if n, err := num.Int64(); err == nil {
		return n, n >= 0
	}
	f, err := num.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
		return 0, false
	}
	return int64(f), true
}

// handle handles one client message.
func (c *wsConn) handle(data []byte) {
	m, problem := parseClientMessage(data)
	if problem != "" {
		c.reply(wsError{Type: "error", Error: problem, BoardID: m.BoardID})
		return
	}
	if m.Type != "ping" && !c.msgLimit.Allow() {
		c.reply(wsError{Type: "error", Error: "Too many messages", BoardID: m.BoardID})
		return
	}
	switch m.Type {
	case "ping":
		c.reply(wsPong{Type: "pong"})
	case "join":
		if m.BoardID == wsAllBoards {
			c.joinAll(m.Cursor, m.PresenceBoard)
			return
		}
		c.join(m.BoardID, m.After, !m.NoPresence)
	case "leave":
		if m.BoardID == wsAllBoards {
			c.leaveAll()
			return
		}
		c.leave(m.BoardID)
	case "typing":
		c.typing(m.BoardID, m.TaskID, true)
	case "stop_typing":
		c.typing(m.BoardID, m.TaskID, false)
	}
}

// typing relays typing (start) or stop_typing to the board's other
// connections; typing lapses by itself after TypingTimeout. A board counts
// as joined for typing once its subscription started.
func (c *wsConn) typing(boardID, taskID string, start bool) {
	if c.id.ReadOnly {
		// A read credential's typing is refused like a write.
		c.reply(wsError{Type: "error", Error: "Forbidden", BoardID: boardID})
		return
	}
	c.mu.Lock()
	b := c.boards[boardID]
	if b == nil || b.gone || b.sub == nil {
		c.mu.Unlock()
		c.reply(wsError{Type: "error", Error: "Not joined", BoardID: boardID})
		return
	}
	// Typing is a write: a viewer's, or a read-only credential's, is
	// refused, by the role the member has now.
	if err := b.sub.MayWrite(); err != nil {
		c.mu.Unlock()
		c.reply(wsError{Type: "error", Error: "Forbidden", BoardID: boardID})
		return
	}
	same := b.typing != nil && b.typing.taskID == taskID
	c.mu.Unlock()
	if start && !same && !c.taskOnBoard(boardID, taskID) {
		c.reply(wsError{Type: "error", Error: "Task not found", BoardID: boardID})
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.gone || c.boards[boardID] != b {
		c.reply(wsError{Type: "error", Error: "Not joined", BoardID: boardID})
		return
	}
	// Typing is a write: a viewer's, or a read-only credential's, is
	// refused, by the role the member has now.
	if err := b.sub.MayWrite(); err != nil {
		c.reply(wsError{Type: "error", Error: "Forbidden", BoardID: boardID})
		return
	}
	t := b.typing
	if t != nil && (start || t.taskID == taskID) {
		t.timer.Stop()
		b.typing = nil
		b.typingGen++
		if start && t.taskID != taskID {
			c.broadcastTyping(b, taskboard.EventUserStoppedTyping, t.taskID)
		}
	}
	if !start {
		c.broadcastTyping(b, taskboard.EventUserStoppedTyping, taskID)
		return
	}
	b.typingGen++
	gen := b.typingGen
	b.typing = &typingState{taskID: taskID, timer: time.AfterFunc(c.h.opts.TypingTimeout, func() { c.typingLapsed(b, gen) })}
	c.broadcastTyping(b, taskboard.EventUserTyping, taskID)
}

// taskOnBoard reports whether taskID names a task of boardID that the
// connection's user may see: typing is relayed only for those.
func (c *wsConn) taskOnBoard(boardID, taskID string) bool {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	t, err := c.h.store.Task(ctx, c.id.actor(), taskID)
	return err == nil && t.BoardID == boardID
}

// typingLapsed ends a typing indicator that was not renewed in time.
func (c *wsConn) typingLapsed(b *wsBoard, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || b.gone || b.typing == nil || b.typingGen != gen {
		return
	}
	task := b.typing.taskID
	b.typing = nil
	c.broadcastTyping(b, taskboard.EventUserStoppedTyping, task)
}

// broadcastTyping sends user_typing or user_stopped_typing to the board's
// other connections; called with c.mu held, so that a connection's typing
// events go out in order.
func (c *wsConn) broadcastTyping(b *wsBoard, typ, taskID string) {
	c.h.rt.broadcast(typ, b.id, b.subID, typingEvent{
		Type: typ, BoardID: b.id, TaskID: taskID, User: userRef{ID: c.id.User.ID, Name: c.id.User.Name}})
}
