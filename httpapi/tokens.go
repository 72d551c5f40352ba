package httpapi

import (
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/taskboard/taskboard/auth"
)

// Bounds of POST /tokens.
const (
	minTokenLifetime = 60
	maxTokenLifetime = 31_536_000
	maxTokenName     = 200
)

// tokenView is a token as the token routes show it: never its secret,
// except once, in Token, when it is made.
type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Token      string     `json:"token,omitempty"`
}

func viewToken(t *auth.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scope: t.Scope, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}

// principal is the credential behind an identity, for what is made with
// it: the built-in one's token or session, or for another authenticator
// its user and scope.
func principal(id *Identity) *auth.Principal {
	p := &auth.Principal{User: id.User, ReadOnly: id.ReadOnly}
	if id.creds != nil {
		p.CredentialID = id.CredentialID
	}
	return p
}

// listTokens is GET /tokens: the caller's tokens.
func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, id *Identity) {
	list, err := h.creds.Tokens(r.Context(), id.User.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]tokenView, 0, len(list))
	for i := range list {
		out = append(out, viewToken(&list[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// createToken is POST /tokens: a token of the caller, no wider in scope and
// ending no later than the credential that asks. It takes no
// Idempotency-Key: the secret is kept nowhere in plain text.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, id *Identity) {
	var in struct {
		Name      reqString       `json:"name"`
		Scope     reqString       `json:"scope"`
		ExpiresIn json.RawMessage `json:"expiresIn"`
	}
	var lifetime int64 = -1
	if !h.decode(w, r, &in, func(c *fieldChecks) {
		c.required("name", in.Name)
		if n := utf8.RuneCountInString(in.Name.Value); in.Name.Set && !in.Name.Bad && (n < 1 || n > maxTokenName) {
			c.add("name", "must be 1 to 200 characters")
		}
		c.optional("scope", in.Scope)
		if in.Scope.Set && !in.Scope.Bad && in.Scope.Value != auth.ScopeRead && in.Scope.Value != auth.ScopeWrite {
			c.add("scope", "must be read or write")
		}
		if len(in.ExpiresIn) > 0 && string(in.ExpiresIn) != "null" {
			n, ok := nonNegativeInt(in.ExpiresIn)
			if !ok || n < minTokenLifetime || n > maxTokenLifetime {
				c.add("expiresIn", "must be an integer number of seconds from 60 to 31536000")
			}
			lifetime = n
		}
	}) {
		return
	}
	spec := auth.TokenSpec{Name: in.Name.Value, Scope: in.Scope.Value, By: principal(id)}
	if lifetime > 0 {
		exp := time.Now().Add(time.Duration(lifetime) * time.Second)
		spec.ExpiresAt = &exp
	}
	tok, secret, err := h.creds.IssueToken(r.Context(), id.User.ID, spec)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	v := viewToken(tok)
	v.Token = secret
	writeJSON(w, http.StatusCreated, v)
}

// deleteToken is DELETE /tokens/{id}: revoke one of the caller's tokens,
// with the sessions made from it, and end the streams they opened.
func (h *Handler) deleteToken(w http.ResponseWriter, r *http.Request, id *Identity) {
	rev, err := h.creds.RevokeUserToken(r.Context(), id.User.ID, r.PathValue("id"), id.ReadOnly)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.credentialRevoked(rev.Token.ID)
	for _, s := range rev.Sessions {
		h.credentialRevoked(s)
	}
	w.WriteHeader(http.StatusNoContent)
}
