package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/taskboard/taskboard"
)

// webhookRoutes registers the routes of a board's webhooks.
func (h *Handler) webhookRoutes() {
	h.handle("POST /boards/{boardId}/webhooks", h.authed(h.idempotent(h.createWebhook)))
	h.handle("GET /boards/{boardId}/webhooks", h.authed(h.listWebhooks))
	h.handle("GET /webhooks/{id}", h.authed(h.getWebhook))
	h.handle("PATCH /webhooks/{id}", h.authed(h.idempotent(h.updateWebhook)))
	h.handle("DELETE /webhooks/{id}", h.authed(h.idempotent(h.deleteWebhook)))
	h.handle("POST /webhooks/{id}/replay", h.authed(h.idempotent(h.replayWebhook)))
	h.handle("GET /webhooks/{id}/deliveries", h.authed(h.webhookDeliveries))
}

// optEvents is a webhook's event types in a request: absent, null (every
// type) or a list of strings.
type optEvents struct {
	Set   bool
	Value []string // nil for null
	Bad   bool
}

// UnmarshalJSON accepts null or an array of strings.
func (e *optEvents) UnmarshalJSON(b []byte) error {
	e.Set = true
	if string(b) == "null" {
		return nil
	}
	if err := json.Unmarshal(b, &e.Value); err != nil || e.Value == nil {
		e.Bad = true
	}
	return nil
}

func (c *fieldChecks) events(field string, e optEvents) {
	if e.Bad {
		c.add(field, "must be an array of event types, or null for all")
	}
}

// optInt64 is an integer field of a request.
type optInt64 struct {
	Set   bool
	Value int64
	Bad   bool
}

// UnmarshalJSON accepts a JSON integer.
func (n *optInt64) UnmarshalJSON(b []byte) error {
	n.Set = true
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		n.Bad = true
	}
	n.Value = v
	return nil
}

// createWebhook is POST /boards/{boardId}/webhooks.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		URL         reqString `json:"url"`
		Events      optEvents `json:"events"`
		Description reqString `json:"description"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("url", in.URL)
		c.events("events", in.Events)
		c.optional("description", in.Description)
	}) {
		return
	}
	respond := jsonResponse[*taskboard.Webhook](http.StatusCreated)
	hook, err := h.store.CreateWebhook(writeWith(r, respond), id.actor(), r.PathValue("boardId"),
		taskboard.WebhookCreate{URL: in.URL.Value, Events: in.Events.Value, Description: in.Description.Value})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, hook)
}

// listWebhooks is GET /boards/{boardId}/webhooks.
func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request, id *Identity) {
	hooks, err := h.store.Webhooks(r.Context(), id.actor(), r.PathValue("boardId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": hooks})
}

// getWebhook is GET /webhooks/{id}.
func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request, id *Identity) {
	hook, err := h.store.Webhook(r.Context(), id.actor(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hook)
}

// updateWebhook is PATCH /webhooks/{id}.
func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		URL         reqString `json:"url"`
		Events      optEvents `json:"events"`
		Description reqString `json:"description"`
		Status      reqString `json:"status"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.optional("url", in.URL)
		c.events("events", in.Events)
		c.optional("description", in.Description)
		c.optional("status", in.Status)
	}) {
		return
	}
	var up taskboard.WebhookUpdate
	if in.URL.Set {
		up.URL = &in.URL.Value
	}
	if in.Events.Set {
		up.Events = &in.Events.Value
	}
	if in.Description.Set {
		up.Description = &in.Description.Value
	}
	if in.Status.Set {
		up.Status = &in.Status.Value
	}
	respond := jsonResponse[*taskboard.Webhook](http.StatusOK)
	hook, err := h.store.UpdateWebhook(writeWith(r, respond), id.actor(), r.PathValue("id"), up)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, hook)
}

// deleteWebhook is DELETE /webhooks/{id}.
func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, id *Identity) {
	if err := h.store.DeleteWebhook(writeContext(r, noContent), id.actor(), r.PathValue("id")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// replayWebhook is POST /webhooks/{id}/replay.
func (h *Handler) replayWebhook(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		After optInt64 `json:"after"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		switch {
		case !in.After.Set:
			c.add("after", "is required")
		case in.After.Bad || in.After.Value < 0:
			c.add("after", "must be a non-negative integer")
		}
	}) {
		return
	}
	respond := jsonResponse[*taskboard.Webhook](http.StatusAccepted)
	hook, err := h.store.ReplayWebhook(writeWith(r, respond), id.actor(), r.PathValue("id"), in.After.Value)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, hook)
}

// webhookDeliveries is GET /webhooks/{id}/deliveries.
func (h *Handler) webhookDeliveries(w http.ResponseWriter, r *http.Request, id *Identity) {
	limit := taskboard.MaxWebhookAttempts
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			h.writeError(w, r, fieldInvalid("limit", "must be a positive integer"))
			return
		}
		limit = min(n, taskboard.MaxWebhookAttempts)
	}
	attempts, err := h.store.WebhookDeliveries(r.Context(), id.actor(), r.PathValue("id"), limit)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": attempts})
}
