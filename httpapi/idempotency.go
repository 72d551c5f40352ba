package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/seam"
	"github.com/uptrace/bun"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 255

// idempotent makes a write route honour Idempotency-Key: a repeat with the
// same body gets the first response verbatim and changes nothing more; with
// a different body it is 422; while the first is in flight, 409. Server
// errors are not kept. The key becomes the mutationId of the write's event.
func (h *Handler) idempotent(fn userHandler) userHandler {
	return h.idempotentUpTo(h.opts.MaxBodyBytes, fn)
}

// idempotentUpTo is idempotent for a route whose bodies may have up to
// limit bytes.
func (h *Handler) idempotentUpTo(limit int64, fn userHandler) userHandler {
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
		body, err := readBody(w, r, limit)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		sum := sha256.Sum256(body)
		k := idempotencyKey{userID: id.User.ID, method: r.Method, path: pathKey(r.URL.Path), key: key,
			requestHash: hex.EncodeToString(sum[:])}
		stored, err := h.idem.begin(r.Context(), k)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if stored != nil {
			h.replay(w, stored)
			return
		}
		// The key is claimed by this process until the request ends.
		st := &idemState{store: h.idem, k: k}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ctx := context.WithValue(taskboard.WithMutationID(r.Context(), key), idemStateKey{}, st)
		r = r.WithContext(ctx)
		rec := &recorder{header: w.Header()}
		func() {
			// A panic must not leave the key claimed.
			defer func() {
				if p := recover(); p != nil {
					h.idem.release(k)
					panic(p)
				}
			}()
			fn(rec, r, id)
		}()
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		// Keep or release the key even when the client has gone: a retry
		// must find the answer, not a claim that stays in flight.
		ctx = context.WithoutCancel(ctx)
		switch {
		case st.taken:
			// Another server answered the key first; this write rolled back.
			h.idem.release(k)
			stored, err := h.idem.lookup(ctx, k)
			if err == nil && stored == nil {
				err = errIdempotencyInFlight
			}
			if err != nil {
				w.Header().Del("ETag")
				h.writeError(w, r, err)
				return
			}
			w.Header().Del("Content-Type")
			h.replay(w, stored)
			return
		case st.stored != nil && status < 400:
			// The response committed with the write: send it as kept.
			h.idem.release(k)
			if st.stored.etag != "" {
				w.Header().Set("ETag", st.stored.etag)
			}
			w.WriteHeader(st.stored.status)
			w.Write(st.stored.body)
			return
		case status >= 500 || status == 499:
			// Not kept: whatever the write did rolled back, or committed
			// with the response, which a retry then gets.
			if err := h.idem.abandon(ctx, k); err != nil {
				h.log(r).Error("release idempotency key", "err", err)
			}
		default:
			// The request wrote nothing (a 4xx answer), or nothing that
			// runs the store's transaction hook.
			if err := h.idem.finish(ctx, k, storedResponse{
				status: status, etag: w.Header().Get("ETag"), body: rec.body.Bytes()}); err != nil {
				h.log(r).Error("store idempotent response", "err", err)
			}
		}
		w.WriteHeader(status)
		w.Write(rec.body.Bytes())
	}
}

// pathKey is what an idempotency record keeps of a request path: its
// SHA-256, so that a record's size does not grow with the path (a path may
// be as long as the request line allows).
func pathKey(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// replay sends a stored response.
func (h *Handler) replay(w http.ResponseWriter, stored *storedResponse) {
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
}

// idemState is the state of a request with an Idempotency-Key, in its
// context for the route's store write.
type idemState struct {
	store *idempotencyStore
	k     idempotencyKey
	// stored is the response the write's transaction stored, when its
	// hook ran (it commits with the write, or the write fails).
	stored *storedResponse
	// taken reports that the key's record was stored by another request
	// before the write's hook could store its own: the write rolled back.
	taken bool
}

type idemStateKey struct{}

// writeContext returns the context for the store write of a route that
// answers with what respond makes of the write's result (the values the
// write hands to seam.SetTxResult). Under an Idempotency-Key, the write
// stores that response in its own transaction, so that the write and the
// key's response commit together: a retry finds the response of every
// write that committed.
func writeContext(r *http.Request, respond func(w http.ResponseWriter, result []any)) context.Context {
	st, _ := r.Context().Value(idemStateKey{}).(*idemState)
	if st == nil {
		return r.Context()
	}
	return seam.WithResultTxHook(r.Context(), func(ctx context.Context, tx bun.Tx, result []any) error {
		st.stored, st.taken = nil, false
		rec := &recorder{header: make(http.Header)}
		respond(rec, result)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		resp := storedResponse{status: status, etag: rec.header.Get("ETag"), body: rec.body.Bytes()}
		if err := st.store.record(ctx, tx, st.k, resp); err != nil {
			st.taken = errors.Is(err, errIdempotencyTaken)
			return err
		}
		st.stored = &resp
		return nil
	})
}

// writeWith is writeContext for a write that returns one value of type T.
func writeWith[T any](r *http.Request, respond func(w http.ResponseWriter, v T)) context.Context {
	return writeContext(r, func(w http.ResponseWriter, result []any) {
		respond(w, resultOf[T](result, 0))
	})
}

// resultOf returns the i-th value of a write's result. A write that hands
// over no such value is a bug of the store, which the panic reports.
func resultOf[T any](result []any, i int) T {
	if i < len(result) {
		if v, ok := result[i].(T); ok {
			return v
		}
	}
	var zero T
	panic(fmt.Sprintf("httpapi: the write handed over %v, not a %T at %d", result, zero, i))
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
