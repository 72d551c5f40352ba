package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/taskboard/taskboard"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "session"

// Identity is an authenticated caller.
type Identity struct {
	User taskboard.User
	// CredentialID names the token or session that authenticated the
	// request; streams it opens end when it is revoked. Empty for
	// authenticators without revocable credentials.
	CredentialID string
	// Cookie reports authentication by a cookie: such writes and WebSocket
	// upgrades must come from an allowed origin.
	Cookie bool
}

// Authenticator turns a request into its caller. It returns an error
// matching taskboard.ErrUnauthorized when the request carries no valid
// credentials; other errors are answered as server errors.
type Authenticator interface {
	Authenticate(r *http.Request) (*Identity, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*Identity, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Identity, error) { return f(r) }

// builtinAuth reads a bearer token, else the session cookie, else (on the
// streaming routes) a single-use ticket.
type builtinAuth struct {
	store *taskboard.Board
}

func (a *builtinAuth) Authenticate(r *http.Request) (*Identity, error) {
	ctx := r.Context()
	if hdr := r.Header.Get("Authorization"); hdr != "" {
		secret, ok := strings.CutPrefix(hdr, "Bearer ")
		if !ok {
			return nil, taskboard.ErrUnauthorized
		}
		p, err := a.store.AuthenticateToken(ctx, strings.TrimSpace(secret))
		if err != nil {
			return nil, err
		}
		return &Identity{User: p.User, CredentialID: p.CredentialID}, nil
	}
	if ticket := r.URL.Query().Get("ticket"); ticket != "" && acceptsTicket(r) {
		p, err := a.store.RedeemTicket(ctx, ticket)
		if err != nil {
			return nil, err
		}
		return &Identity{User: p.User, CredentialID: p.CredentialID}, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		p, err := a.store.AuthenticateSession(ctx, c.Value)
		if err != nil {
			return nil, err
		}
		return &Identity{User: p.User, CredentialID: p.CredentialID, Cookie: true}, nil
	}
	return nil, taskboard.ErrUnauthorized
}

// acceptsTicket reports whether r is a streaming route, the only ones that
// take ?ticket=.
func acceptsTicket(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/ws" || strings.HasSuffix(r.URL.Path, "/events"))
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// setSessionCookie sets or, with an empty value, clears the session cookie.
func (h *Handler) setSessionCookie(w http.ResponseWriter, value string) {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   strings.HasPrefix(h.opts.PublicURL, "https://"),
		MaxAge:   int(taskboard.SessionIdleTTL / time.Second),
	}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

type sessionResponse struct {
	User taskboard.User `json:"user"`
}

// createSession is POST /sessions: exchange a token for the session cookie.
func (h *Handler) createSession(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token reqString `json:"token"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("token", in.Token)
	}) {
		return
	}
	p, err := h.store.AuthenticateToken(r.Context(), in.Token.Value)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.startSession(w, r, p.User, p.CredentialID)
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, user taskboard.User, tokenID string) {
	_, cookie, err := h.store.CreateSession(r.Context(), user.ID, tokenID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	infoOf(r).userID = user.ID
	h.setSessionCookie(w, cookie)
	writeJSON(w, http.StatusCreated, sessionResponse{User: user})
}

// createDemoSession is POST /sessions/demo: sign in as a demo user, only on
// a demo database with demo mode on.
func (h *Handler) createDemoSession(w http.ResponseWriter, r *http.Request) {
	demo := false
	if h.opts.Demo {
		var err error
		if demo, err = h.store.IsDemo(r.Context()); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if !demo {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "Not Found"})
		return
	}
	var in struct {
		UserID reqString `json:"userId"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("userId", in.UserID)
	}) {
		return
	}
	if in.UserID.Value != taskboard.DemoAlice && in.UserID.Value != taskboard.DemoBob {
		h.writeError(w, r, notFound("User"))
		return
	}
	user, err := h.store.User(r.Context(), in.UserID.Value)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.startSession(w, r, *user, "")
}

// deleteSession is DELETE /sessions: end the cookie's session and the
// streams it opened.
func (h *Handler) deleteSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if !h.originAllowed(r) {
			h.writeError(w, r, errForbiddenOrig)
			return
		}
		id, err := h.store.EndSession(r.Context(), c.Value)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.credentialRevoked(id)
	}
	h.setSessionCookie(w, "")
	w.WriteHeader(http.StatusNoContent)
}

type ticketResponse struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createTicket is POST /realtime/tickets.
func (h *Handler) createTicket(w http.ResponseWriter, r *http.Request, id *Identity) {
	ticket, exp, err := h.store.CreateTicket(r.Context(), &taskboard.Principal{User: id.User, CredentialID: id.CredentialID})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ticketResponse{Ticket: ticket, ExpiresAt: exp})
}

// actor is the store's view of the caller.
func (id *Identity) actor() taskboard.Actor {
	return taskboard.Actor{UserID: id.User.ID}
}
