package httpapi

import (
	"context"
	_ "embed"
	"net/http"
	"time"
)

//go:embed openapi.json
var openAPIDocument []byte

// openAPI is GET /openapi.json: the OpenAPI 3.1 document of the JSON routes.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeRaw(w, http.StatusOK, openAPIDocument)
}

// ReadinessChecker is implemented by notifiers that can tell whether they
// are connected (on PostgreSQL: the LISTEN connection).
type ReadinessChecker interface {
	Ready(ctx context.Context) error
}

// ready is GET /ready: 200 when the database answers (and, with a
// cross-instance notifier, its listener is connected), else 503.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		h.log(r).Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database unreachable"})
		return
	}
	if rc, ok := h.store.Notifier().(ReadinessChecker); ok {
		if err := rc.Ready(ctx); err != nil {
			h.log(r).Warn("not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "listener disconnected"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
