package httpapi

import (
	"context"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/demo"
)

// errUnsupportedMediaType refuses a sign-in whose body is not declared
// JSON: a cross-site form can send text/plain without a preflight, which
// would sign a victim's browser into the sender's account.
var errUnsupportedMediaType = errors.New("httpapi: the body must be application/json")

// clientKey is the rate-limit key of a request's client address: the
// address itself for IPv4, its /64 network for IPv6 (one client often
// holds a whole /64). A request from a loopback peer, a reverse proxy on
// the same machine, is keyed by the last address of its X-Forwarded-For
// (the one the proxy added), when it has one.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "a:" + host
	}
	addr = addr.Unmap()
	if xff := r.Header.Values("X-Forwarded-For"); addr.IsLoopback() && len(xff) > 0 {
		last := xff[len(xff)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if fwd, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
			addr = fwd.Unmap()
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return "a:" + p.String()
	}
	return "a:" + addr.String()
}

// signInAllowed guards the routes that make sessions: a token bucket per
// client address (Options.SessionRate), an allowed Origin (or none: not a
// browser), and a body declared application/json. It answers the refusal
// and returns false, or returns true.
func (h *Handler) signInAllowed(w http.ResponseWriter, r *http.Request) bool {
	if ok, wait := h.signIns.allow(clientKey(r)); !ok {
		h.writeError(w, r, &rateLimitedError{retryAfter: wait, what: "session"})
		return false
	}
	if !h.originAllowed(r) {
		h.writeError(w, r, errForbiddenOrig)
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.writeError(w, r, errUnsupportedMediaType)
		return false
	}
	return true
}

// tokenSignInAllowed takes a sign-in from the bucket of the token that
// signs in, so that one token cannot make sessions without bound from many
// addresses either.
func (h *Handler) tokenSignInAllowed(w http.ResponseWriter, r *http.Request, tokenID string) bool {
	if ok, wait := h.signIns.allow("t:" + tokenID); !ok {
		h.writeError(w, r, &rateLimitedError{retryAfter: wait, what: "session"})
		return false
	}
	return true
}

// demoUsers are the users POST /sessions/demo signs in as, in the order a
// page offers them.
var demoUsers = []string{demo.Alice, demo.Bob}

// demoOffered reports whether POST /sessions/demo signs in: demo mode is on,
// with the built-in authenticator, over a demo database.
func (h *Handler) demoOffered(ctx context.Context) (bool, error) {
	if !h.opts.Demo || h.creds == nil {
		return false, nil
	}
	return demo.Seeded(ctx, h.store)
}

// signInState is the answer of GET /sessions.
type signInState struct {
	// User is the caller, or nil when the request carries no valid
	// credentials.
	User *taskboard.User `json:"user"`
	// Token reports whether POST /sessions signs in with a token.
	Token bool `json:"token"`
	// Demo reports whether POST /sessions/demo signs in.
	Demo bool `json:"demo"`
	// DemoUsers are the users POST /sessions/demo offers; empty when Demo is
	// false.
	DemoUsers []taskboard.User `json:"demoUsers"`
}

// sessionState is GET /sessions: who the request's credentials belong to
// (null when it has none, or none that are valid) and which sign-ins the
// server offers, so that a page learns both without a request that fails.
// It is public and never 401: a stale cookie is no error here, and it is not
// cleared either (another tab may have just replaced it). Errors of the
// database or of a custom authenticator are answered as on every route.
func (h *Handler) sessionState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx := r.Context()
	out := signInState{Token: h.creds != nil, DemoUsers: []taskboard.User{}}
	id, err := h.authenticate(r)
	switch {
	case err == nil:
		infoOf(r).userID = id.User.ID
		u, err := h.store.User(ctx, id.User.ID)
		if err != nil && !errors.Is(err, taskboard.ErrNotFound) {
			h.writeError(w, r, err)
			return
		}
		// A user gone since the request was authenticated is nobody.
		out.User = u
	case !errors.Is(err, ErrUnauthorized):
		h.writeError(w, r, err)
		return
	}
	if out.Demo, err = h.demoOffered(ctx); err != nil {
		h.writeError(w, r, err)
		return
	}
	if out.Demo {
		for _, uid := range demoUsers {
			u, err := h.store.User(ctx, uid)
			if errors.Is(err, taskboard.ErrNotFound) {
				continue
			}
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			out.DemoUsers = append(out.DemoUsers, *u)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
