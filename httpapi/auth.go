package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "session"

// ErrUnauthorized is what an Authenticator returns (or wraps) when a
// request carries no valid credentials. It is auth.ErrUnauthorized.
var ErrUnauthorized = auth.ErrUnauthorized

// Identity is an authenticated caller.
type Identity struct {
	// User is the caller. Unless Options.ProvisionUsers is set, a user with
	// this ID must exist in the store.
	User taskboard.User
	// CredentialID names the token or session of the built-in
	// authenticator that authenticated the request; the streams it opens
	// end when it is revoked. Other authenticators leave it empty, or set
	// an ID of their own, which the Handler does not check.
	CredentialID string
	// SentByBrowser reports a credential that the browser sent on its own,
	// like a cookie: writes and WebSocket upgrades authenticated by it must
	// come from an allowed origin.
	SentByBrowser bool
	// ReadOnly limits the caller to reads: its writes are answered 403
	// (taskboard.Actor.ReadOnly), and so is its WebSocket typing. The
	// built-in authenticator sets it for read tokens and what was made
	// with them; the tickets and tokens the caller gets carry it on.
	ReadOnly bool

	// creds is the store that issued CredentialID (set by Builtin only).
	creds *auth.Store
}

// actor is the store's view of the caller.
func (id *Identity) actor() taskboard.Actor {
	return taskboard.Actor{UserID: id.User.ID, ReadOnly: id.ReadOnly}
}

// Authenticator turns a request into its caller. It returns an error
// matching ErrUnauthorized when the request carries no valid credentials;
// other errors are answered as server errors. Unless
// Options.ProvisionUsers is set, the identity's user must exist in the
// store (created with taskboard.Board.CreateUser, with the program's own
// user IDs); requests of an unknown user are answered 401.
type Authenticator interface {
	Authenticate(r *http.Request) (*Identity, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*Identity, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Identity, error) { return f(r) }

// builtinHolder is an Authenticator that is, or includes, the built-in one.
type builtinHolder interface {
	builtin() *Builtin
}

// builtinOf returns the built-in authenticator that a is or includes, or
// nil.
func builtinOf(a Authenticator) *Builtin {
	if bh, ok := a.(builtinHolder); ok {
		return bh.builtin()
	}
	return nil
}

// Builtin is the built-in authenticator: it reads a bearer token, else the
// session cookie, else (on the streaming routes only) a single-use ticket,
// all kept by an auth.Store. A Handler whose authenticator is, or
// includes (FirstOf), a Builtin serves the routes that make these
// credentials: POST and DELETE /sessions, POST /sessions/demo and POST
// /realtime/tickets.
type Builtin struct {
	creds *auth.Store
}

// NewBuiltin returns the built-in authenticator over creds. Revocations
// made through creds take effect at once on the Handlers that use it.
func NewBuiltin(creds *auth.Store) *Builtin {
	return &Builtin{creds: creds}
}

func (b *Builtin) builtin() *Builtin { return b }

// Authenticate returns the caller of a bearer token, else of the session
// cookie, else, on the streaming routes, of a ticket.
func (b *Builtin) Authenticate(r *http.Request) (*Identity, error) {
	ctx := r.Context()
	if hdr := r.Header.Get("Authorization"); hdr != "" {
		secret, ok := strings.CutPrefix(hdr, "Bearer ")
		if !ok {
			return nil, ErrUnauthorized
		}
		p, err := b.creds.AuthenticateToken(ctx, strings.TrimSpace(secret))
		if err != nil {
			return nil, err
		}
		return &Identity{User: p.User, CredentialID: p.CredentialID, ReadOnly: p.ReadOnly, creds: b.creds}, nil
	}
	if ticket := r.URL.Query().Get("ticket"); ticket != "" && acceptsTicket(r) {
		p, err := b.creds.RedeemTicket(ctx, ticket)
		if err != nil {
			return nil, err
		}
		return &Identity{User: p.User, CredentialID: p.CredentialID, ReadOnly: p.ReadOnly, creds: b.creds}, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		p, err := b.creds.AuthenticateSession(ctx, c.Value)
		if err != nil {
			return nil, err
		}
		return &Identity{User: p.User, CredentialID: p.CredentialID, ReadOnly: p.ReadOnly, SentByBrowser: true, creds: b.creds}, nil
	}
	return nil, ErrUnauthorized
}

// FirstOf returns an authenticator that asks each of authenticators in
// turn: the first answer that does not match ErrUnauthorized (an identity,
// or another error) is its answer; when all of them answer ErrUnauthorized,
// so does it. With a Builtin among them, the Handler serves the routes of
// the built-in credentials, and a user authenticated by another one can get
// a ticket for the streaming routes, which the Builtin redeems.
func FirstOf(authenticators ...Authenticator) Authenticator {
	return firstOf(authenticators)
}

type firstOf []Authenticator

func (f firstOf) Authenticate(r *http.Request) (*Identity, error) {
	err := ErrUnauthorized
	for _, a := range f {
		var id *Identity
		id, err = a.Authenticate(r)
		if err == nil || !errors.Is(err, ErrUnauthorized) {
			return id, err
		}
	}
	return nil, err
}

func (f firstOf) builtin() *Builtin {
	for _, a := range f {
		if b := builtinOf(a); b != nil {
			return b
		}
	}
	return nil
}

// acceptsTicket reports whether r is a streaming route, the only ones that
// take ?ticket=.
func acceptsTicket(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/ws" || strings.HasSuffix(r.URL.Path, "/events"))
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// authenticate returns the caller of r, with its user in the store: an
// unknown user is created (Options.ProvisionUsers) or refused as
// ErrUnauthorized.
func (h *Handler) authenticate(r *http.Request) (*Identity, error) {
	id, err := h.auth.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, errors.New("httpapi: the authenticator returned neither an identity nor an error")
	}
	if id.creds != nil || h.users.has(id.User.ID) {
		// The built-in credentials name users of the store.
		return id, nil
	}
	if err := h.requireUser(r.Context(), id); err != nil {
		return nil, err
	}
	h.users.add(id.User.ID)
	return id, nil
}

// requireUser checks that the user of an identity exists in the store, or
// creates it with Options.ProvisionUsers.
func (h *Handler) requireUser(ctx context.Context, id *Identity) error {
	if h.opts.ProvisionUsers {
		_, err := h.store.ProvisionUser(ctx, id.User)
		if errors.Is(err, taskboard.ErrInvalid) || errors.Is(err, taskboard.ErrConflict) {
			// The authenticator's user cannot be mirrored: a server-side
			// problem, not the client's.
			return fmt.Errorf("httpapi: provision user %q: %v", id.User.ID, err)
		}
		return err
	}
	_, err := h.store.User(ctx, id.User.ID)
	if errors.Is(err, taskboard.ErrNotFound) {
		return fmt.Errorf("%w: user %q is not in the store", ErrUnauthorized, id.User.ID)
	}
	return err
}

// knownUsers remembers the IDs of users known to exist in the store, so
// that steady-state requests cost no query.
type knownUsers struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// maxKnownUsers bounds knownUsers; it is emptied when full.
const maxKnownUsers = 10000

func (k *knownUsers) has(id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.ids[id]
	return ok
}

func (k *knownUsers) add(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ids == nil || len(k.ids) >= maxKnownUsers {
		k.ids = make(map[string]struct{})
	}
	k.ids[id] = struct{}{}
}

// setSessionCookie sets or, with an empty value, clears the session cookie,
// which the browser keeps for maxAge at most (zero: auth.SessionIdleTTL).
func (h *Handler) setSessionCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     h.opts.CookiePath,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   strings.HasPrefix(h.opts.PublicURL, "https://"),
		MaxAge:   int(auth.SessionIdleTTL / time.Second),
	}
	if maxAge > 0 && maxAge < auth.SessionIdleTTL {
		c.MaxAge = max(int(maxAge/time.Second), 1)
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
	if !h.signInAllowed(w, r) {
		return
	}
	var in struct {
		Token reqString `json:"token"`
	}
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("token", in.Token)
	}) {
		return
	}
	p, err := h.creds.AuthenticateToken(r.Context(), in.Token.Value)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !h.tokenSignInAllowed(w, r, p.CredentialID) {
		return
	}
	h.startSession(w, r, p.User, p.CredentialID)
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, user taskboard.User, tokenID string) {
	sess, cookie, err := h.creds.CreateSession(r.Context(), user.ID, tokenID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	infoOf(r).userID = user.ID
	h.setSessionCookie(w, cookie, sess.ExpiresAt.Sub(sess.CreatedAt))
	writeJSON(w, http.StatusCreated, sessionResponse{User: user})
}

// createDemoSession is POST /sessions/demo: sign in as a demo user, only on
// a demo database with demo mode on.
func (h *Handler) createDemoSession(w http.ResponseWriter, r *http.Request) {
	if !h.signInAllowed(w, r) {
		return
	}
	isDemo, err := h.demoOffered(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !isDemo {
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
	if !slices.Contains(demoUsers, in.UserID.Value) {
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
		id, err := h.creds.EndSession(r.Context(), c.Value)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.credentialRevoked(id)
	}
	h.setSessionCookie(w, "", 0)
	w.WriteHeader(http.StatusNoContent)
}

type ticketResponse struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createTicket is POST /realtime/tickets. A ticket of a caller that the
// built-in authenticator vouches for has the scope of its token or session,
// ends no later and dies with it; one of a caller authenticated otherwise
// stands on its own for its 60 s, read-only when the caller is. Tickets
// take no Idempotency-Key: a ticket is kept nowhere in plain text, and
// never handed out twice.
func (h *Handler) createTicket(w http.ResponseWriter, r *http.Request, id *Identity) {
	p := auth.Principal{User: id.User, ReadOnly: id.ReadOnly}
	if id.creds != nil {
		p.CredentialID = id.CredentialID
	}
	ticket, exp, err := h.creds.CreateTicket(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ticketResponse{Ticket: ticket, ExpiresAt: exp})
}
