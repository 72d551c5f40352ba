package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"github.com/taskboard/taskboard"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 255

// idempotent makes a write route honour Idempotency-Key: a repeat with the
// same body gets the first response verbatim and changes nothing more; with
// a different body it is 422; while the first is in flight, 409. Server
// errors are not kept. The key becomes the mutationId of the write's event.
func (h *Handler) idempotent(fn userHandler) userHandler {
	return func(w http.ResponseWriter, r *http.Request, id *Identity) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || strings.IndexByte(r.URL.Path, 0) >= 0 {
			// A path holding NUL names nothing: the route answers 404 and
			// changes nothing, so there is nothing to remember.
			fn(w, r, id)
			return
		}
		if len(key) > maxIdempotencyKey {
			h.writeError(w, r, &taskboard.ValidationError{Fields: []taskboard.FieldError{{
				Path: []string{"Idempotency-Key"}, Message: "must be at most 255 characters"}}})
			return
		}
		body, err := readBody(w, r, h.opts.MaxBodyBytes)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		sum := sha256.Sum256(body)
		k := idempotencyKey{userID: id.User.ID, method: r.Method, path: r.URL.Path, key: key,
			requestHash: hex.EncodeToString(sum[:])}
		stored, err := h.idem.begin(r.Context(), k)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if stored != nil {
			if stored.etag != "" {
				w.Header().Set("ETag", stored.etag)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			if len(stored.body) == 0 {
				// A bodiless answer (204) had no Content-Type either.
				w.WriteHeader(stored.status)
				return
			}
			writeRaw(w, stored.status, bytes.TrimSuffix(stored.body, []byte("\n")))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r = r.WithContext(taskboard.WithMutationID(r.Context(), key))
		rec := &recorder{header: w.Header()}
		fn(rec, r, id)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		// Keep or release the key even when the client has gone: a retry
		// must find the answer, not a claim that stays in flight.
		ctx := context.WithoutCancel(r.Context())
		if status >= 500 || status == 499 {
			if err := h.idem.abandon(ctx, k); err != nil {
				h.log(r).Error("release idempotency key", "err", err)
			}
		} else if err := h.idem.finish(ctx, k, storedResponse{
			status: status, etag: w.Header().Get("ETag"), body: rec.body.Bytes()}); err != nil {
			h.log(r).Error("store idempotent response", "err", err)
		}
		w.WriteHeader(status)
		w.Write(rec.body.Bytes())
	}
}

// recorder buffers a response so that it can be kept before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
