package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/taskboard/taskboard"
)

// join adds a connection to a board's presence and announces the user when
// they became present; origin (the connection's subscription) does not get
// the announcement.
func (rt *realtime) join(ctx context.Context, boardID string, user taskboard.User, connID, origin string) bool {
	joined, err := rt.presence.Join(ctx, boardID, user, connID)
	if err != nil {
		if ctx.Err() == nil && rt.ctx.Err() == nil {
			rt.h.opts.Logger.Warn("presence join", "board", boardID, "user", user.ID, "err", err)
		}
		return false
	}
	if joined {
		rt.broadcast(taskboard.EventUserJoined, boardID, origin,
			userEvent{Type: taskboard.EventUserJoined, BoardID: boardID, User: userRef{ID: user.ID, Name: user.Name}})
	}
	return true
}

// leave removes a connection from a board's presence.
func (rt *realtime) leave(boardID, userID, connID string) {
	ctx, cancel := detached(rt.ctx, 5*time.Second)
	defer cancel()
	if err := rt.presence.Leave(ctx, boardID, userID, connID); err != nil {
		rt.h.opts.Logger.Warn("presence leave", "board", boardID, "user", userID, "err", err)
	}
}

// userLeft announces a user whose grace period passed.
func (rt *realtime) userLeft(boardID string, user taskboard.User) {
	rt.broadcast(taskboard.EventUserLeft, boardID, "",
		userEvent{Type: taskboard.EventUserLeft, BoardID: boardID, User: userRef{ID: user.ID, Name: user.Name}})
}

// servePresence is GET /boards/{boardId}/presence.
func (h *Handler) servePresence(w http.ResponseWriter, r *http.Request, id *Identity) {
	boardID := r.PathValue("boardId")
	if _, err := h.store.BoardInfo(r.Context(), id.actor(), boardID); err != nil {
		h.writeError(w, r, err)
		return
	}
	list, err := h.rt.presence.List(r.Context(), boardID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, dataBody[taskboard.PresenceEntry]{Data: list})
}
