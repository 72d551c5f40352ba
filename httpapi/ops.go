package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"time"

	"github.com/taskboard/taskboard"
)

//go:embed openapi.json
var openAPIDocument []byte

// openAPI is GET /openapi.json: the OpenAPI 3.1 document of the JSON routes.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeRaw(w, http.StatusOK, openAPIDocument)
}

// ready is GET /ready: 200 when the store is ready (the database answers
// and, on PostgreSQL, its listener for other instances is connected), else
// 503.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.store.Ready(ctx); err != nil {
		h.log(r).Warn("not ready", "err", err)
		reason := "database unreachable"
		if errors.Is(err, taskboard.ErrListenerDown) {
			reason = "listener disconnected"
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": reason})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
