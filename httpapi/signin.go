package httpapi

import (
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
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
