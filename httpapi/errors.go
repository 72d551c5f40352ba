package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/taskboard/taskboard"
)

// errorBody is the JSON error object: {"error": "<message>"} or, for
// validation errors, {"error": [{"path": [...], "message": "..."}]}.
type errorBody struct {
	Error any `json:"error"`
}

// resetBody is a 410 answer when a resume point needs a reset.
type resetBody struct {
	Error  string `json:"error"`
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// errMalformed and friends are request errors detected by httpapi itself.
var (
	errMalformedJSON = errors.New("Invalid JSON")
	errTooLarge      = errors.New("Request body too large")
	errForbiddenOrig = errors.New("Forbidden: origin not allowed")
)

// writeError answers with the status and body that err maps to. It is the
// one place that turns errors into HTTP statuses.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		verr  *taskboard.ValidationError
		nf    *taskboard.NotFoundError
		reset *taskboard.ResetError
	)
	var limited *rateLimitedError
	switch {
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", retryAfterSeconds(limited.retryAfter))
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "Too Many Requests: " + limited.kind() + " rate exceeded"})
	case errors.Is(err, errTooManyConnections):
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "Too Many Requests: too many open connections"})
	case errors.As(err, &verr):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: verr.Fields})
	case errors.As(err, &nf):
		writeJSON(w, http.StatusNotFound, errorBody{Error: nf.Error()})
	case errors.As(err, &reset):
		writeJSON(w, http.StatusGone, resetBody{Error: "reset", Seq: reset.Seq, Reason: reset.Reason})
	case errors.Is(err, errMalformedJSON):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "Invalid JSON"})
	case errors.Is(err, errTooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: "Request body too large"})
	case errors.Is(err, errUnsupportedMediaType):
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: "Unsupported Media Type: use application/json"})
	case errors.Is(err, errForbiddenOrig), errors.Is(err, taskboard.ErrForbidden):
		writeJSON(w, http.StatusForbidden, errorBody{Error: "Forbidden"})
	case errors.Is(err, ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "Unauthorized"})
	case errors.Is(err, taskboard.ErrPreconditionFailed):
		writeJSON(w, http.StatusPreconditionFailed, errorBody{Error: "Precondition Failed"})
	case errors.Is(err, errIdempotencyMismatch):
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "Idempotency-Key reused with a different request"})
	case errors.Is(err, errIdempotencyInFlight):
		writeJSON(w, http.StatusConflict, errorBody{Error: "A request with this Idempotency-Key is in progress"})
	case errors.Is(err, taskboard.ErrConflict):
		writeJSON(w, http.StatusConflict, errorBody{Error: conflictMessage(err)})
	case errors.Is(err, errShuttingDown) || errors.Is(err, taskboard.ErrClosed):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "Service Unavailable"})
	case errors.Is(err, taskboard.ErrUnavailable):
		h.log(r).Error("database unavailable", "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "Service Unavailable"})
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	default:
		h.log(r).Error("internal error", "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "Internal Server Error"})
	}
}

// conflictMessage is the client-facing text of an ErrConflict.
func conflictMessage(err error) string {
	msg := err.Error()
	const sentinel = "taskboard: conflict: "
	if i := strings.Index(msg, sentinel); i >= 0 {
		return msg[i+len(sentinel):]
	}
	return "Conflict"
}

func notFound(entity string) error { return &taskboard.NotFoundError{Entity: entity} }
