// Package client is a Go client of the taskboard HTTP API (docs/API.md):
// typed calls for every REST route, and Follow, which delivers a board's
// events exactly once and in order over Server-Sent Events or a WebSocket,
// reconnecting with backoff and resuming from the last seq it delivered.
//
// FollowBoards does the same for many boards on one connection: named
// boards, or AllBoards (every board of the caller, and those they join or
// create while following, over every transport). Its position is a Cursor, one seq per
// board, whose string form ("board-1:12,board-2:7") a caller persists and
// parses back with ParseCursor to resume each board exactly. A reset
// concerns one board: the others go on, and a board the caller loses ends
// alone (an EventReset with Reset.Err).
//
// A Client is safe for concurrent use. Every write sends an
// Idempotency-Key, generated per call and reused when the client retries
// that call after a lost connection or a 503, so that a retried write is
// applied once. WithMutationID sets that key from the caller's context: the
// event the write produces carries it as MutationID, so a caller recognises
// its own change when it comes back through Follow.
package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/taskboard/taskboard"
)

// Sentinel errors, testable with errors.Is on the errors of every call.
// Those shared with the root package are the same values, so that
// errors.Is(err, taskboard.ErrNotFound) holds too.
var (
	// ErrNotFound: 404, an unknown row or one the caller cannot see.
	ErrNotFound = taskboard.ErrNotFound
	// ErrForbidden: 403, the caller's role or token scope does not allow it.
	ErrForbidden = taskboard.ErrForbidden
	// ErrConflict: 409, such as removing the last member, or a repeat of a
	// write still in flight.
	ErrConflict = taskboard.ErrConflict
	// ErrPreconditionFailed: 412, an If-Match version that no longer matches.
	ErrPreconditionFailed = taskboard.ErrPreconditionFailed
	// ErrInvalid: 400, a request the server refused as malformed.
	ErrInvalid = taskboard.ErrInvalid
	// ErrUnauthorized: 401, missing, bad, revoked or expired credentials.
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrGone: 410, a polling resume point that needs a reset (Error.Reason
	// says why).
	ErrGone = errors.New("client: resume point needs a reset")
	// ErrTooManyRequests: 429 (Error.RetryAfter says when to try again).
	ErrTooManyRequests = errors.New("client: too many requests")
	// ErrIdempotencyMismatch: 422, an Idempotency-Key reused with another body.
	ErrIdempotencyMismatch = errors.New("client: idempotency key reused with another body")
	// ErrUnavailable: 503, the server or its database is unavailable.
	ErrUnavailable = taskboard.ErrUnavailable
)

// FieldError is one entry of a 400 validation answer.
type FieldError struct {
	Path    []string `json:"path"`
	Message string   `json:"message"`
}

// Error is an answer of the server other than 2xx (and 304).
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message is the server's error text ("Task not found"); for a
	// validation error, the first field's message.
	Message string
	// Fields are the entries of a validation error.
	Fields []FieldError
	// Reason and Seq are set on a 410 reset answer of polling.
	Reason string
	Seq    int64
	// RetryAfter is the Retry-After of a 429 or 503, else zero.
	RetryAfter time.Duration
	// Method and Path name the request.
	Method, Path string
}

func (e *Error) Error() string {
	return fmt.Sprintf("taskboard %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Is maps the status to the package's sentinels.
func (e *Error) Is(target error) bool {
	switch e.Status {
	case http.StatusBadRequest:
		return target == ErrInvalid
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusGone:
		return target == ErrGone
	case http.StatusPreconditionFailed:
		return target == ErrPreconditionFailed
	case http.StatusUnprocessableEntity:
		return target == ErrIdempotencyMismatch
	case http.StatusTooManyRequests:
		return target == ErrTooManyRequests
	case http.StatusServiceUnavailable:
		return target == ErrUnavailable
	}
	return false
}

// Client calls one taskboard server.
type Client struct {
	base    *url.URL
	token   string
	hc      *http.Client
	retries int
	backoff time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithToken authenticates every request with Authorization: Bearer token.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sends requests through hc (default http.DefaultClient).
// Streams are long requests: hc should have no Timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetries sets how many times a call is retried after a transport
// error, a 503 or a 429 (default 2; 0 never retries). Writes are retried
// with the same Idempotency-Key, and also while the server answers that
// the first attempt is still in flight (409).
func WithRetries(n int) Option { return func(c *Client) { c.retries = n } }

// WithBackoff sets the base of the exponential backoff with full jitter
// between retries and reconnects (default 250ms; the wait is at most 30s).
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// New returns a client of the server at baseURL (such as
// "https://board.example.com" or "http://127.0.0.1:3000/api").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host", baseURL)
	}
	c := &Client{base: u, hc: http.DefaultClient, retries: 2, backoff: 250 * time.Millisecond}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

type mutationKey struct{}

// WithMutationID returns a context whose writes send id as their
// Idempotency-Key; the event such a write logs carries it as MutationID.
// Use one id per write: a second write with the same id and body gets the
// first one's answer and changes nothing.
func WithMutationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, mutationKey{}, id)
}

// NewMutationID returns a random id for WithMutationID.
func NewMutationID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// request is one call: its method, path (escaped), query, body and headers.
type request struct {
	method, path string
	query        url.Values
	body         any
	rawBody      []byte
	ifMatch      int64
	noIdem       bool // routes that take no Idempotency-Key
	noAuth       bool
}

// url returns the request's absolute URL.
func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// do sends r, retrying as configured, and decodes a 2xx body into out (when
// not nil). It returns the response's headers.
func (c *Client) do(ctx context.Context, r request, out any) (http.Header, error) {
	body := r.rawBody
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", r.method, r.path, err)
		}
		body = b
	}
	idem := ""
	if r.method != http.MethodGet && !r.noIdem {
		idem, _ = ctx.Value(mutationKey{}).(string)
		if idem == "" {
			idem = NewMutationID()
		}
	}
	for attempt := 0; ; attempt++ {
		h, err := c.once(ctx, r, body, idem, out)
		if err == nil || attempt >= c.retries || ctx.Err() != nil || !retryable(err, r.method == http.MethodGet || idem != "") {
			return h, err
		}
		wait := c.jitter(attempt)
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > wait {
			wait = e.RetryAfter
		}
		if err := sleep(ctx, wait); err != nil {
			return h, err
		}
	}
}

// retryable reports whether a call that failed with err may be sent again.
// A lost connection is retried only when repeating the call is harmless
// (safe): a read, or a write with an Idempotency-Key; 429 and 503 answers
// mean the server did nothing.
func retryable(err error, safe bool) bool {
	var e *Error
	if errors.As(err, &e) {
		// A 409 about the key is the first attempt of this very call,
		// still running after its connection was lost.
		inFlight := e.Status == http.StatusConflict && strings.Contains(e.Message, "Idempotency-Key")
		return inFlight || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests ||
			e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout
	}
	var d *decodeError
	return safe && !errors.As(err, &d)
}

type decodeError struct{ err error }

func (d *decodeError) Error() string { return d.err.Error() }
func (d *decodeError) Unwrap() error { return d.err }

func (c *Client) once(ctx context.Context, r request, body []byte, idem string, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r.path, r.query), rd)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" && !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	if r.ifMatch > 0 {
		req.Header.Set("If-Match", `"`+strconv.FormatInt(r.ifMatch, 10)+`"`)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.Header, fmt.Errorf("client: %s %s: read answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, errorOf(r.method, r.path, resp, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.Header, &decodeError{fmt.Errorf("client: %s %s: decode answer: %w", r.method, r.path, err)}
		}
	}
	return resp.Header, nil
}

// errorOf builds the Error of a non-2xx answer.
func errorOf(method, path string, resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, Method: method, Path: path}
	var body struct {
		Error  json.RawMessage `json:"error"`
		Reason string          `json:"reason"`
		Seq    int64           `json:"seq"`
	}
	if json.Unmarshal(data, &body) == nil && len(body.Error) > 0 {
		if json.Unmarshal(body.Error, &e.Message) != nil {
			if json.Unmarshal(body.Error, &e.Fields) == nil && len(e.Fields) > 0 {
				e.Message = strings.Join(e.Fields[0].Path, ".") + ": " + e.Fields[0].Message
			}
		}
		e.Reason, e.Seq = body.Reason, body.Seq
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// jitter returns a wait drawn uniformly from [0, min(30s, backoff·2^attempt)).
func (c *Client) jitter(attempt int) time.Duration {
	ceil := c.backoff
	for i := 0; i < attempt && ceil < 30*time.Second; i++ {
		ceil *= 2
	}
	ceil = min(ceil, 30*time.Second)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil)))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
