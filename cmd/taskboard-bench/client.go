package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// newTransport returns an HTTP/1.1 transport whose connections take their
// source addresses from sources in turn (the kernel's choice when empty).
// Spreading connections over several 127.0.0.x sources multiplies the
// ephemeral ports available towards one server address.
func newTransport(sources []net.IP, maxIdlePerHost int) *http.Transport {
	var next atomic.Uint64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 15 * time.Second, KeepAlive: -1}
		if len(sources) > 0 {
			ip := sources[next.Add(1)%uint64(len(sources))]
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: maxIdlePerHost,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     4 << 10,
		ReadBufferSize:      4 << 10,
	}
}

// parseSources parses a comma-separated list of IPv4 addresses and ranges
// ("127.0.0.2-127.0.0.9" or "127.0.0.2-9"). Every address must be a
// loopback address.
func parseSources(s string) ([]net.IP, error) {
	var ips []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		from, to, isRange := strings.Cut(part, "-")
		first := net.ParseIP(from).To4()
		if first == nil {
			return nil, fmt.Errorf("source address %q: not an IPv4 address", from)
		}
		last := first
		if isRange {
			if n, err := strconv.Atoi(to); err == nil && n >= 0 && n < 256 {
				last = net.IPv4(first[0], first[1], first[2], byte(n)).To4()
			} else if last = net.ParseIP(to).To4(); last == nil {
				return nil, fmt.Errorf("source range %q: bad end", part)
			}
		}
		lo, hi := ipToInt(first), ipToInt(last)
		if hi < lo || hi-lo > 65535 {
			return nil, fmt.Errorf("source range %q: empty or too large", part)
		}
		for v := lo; v <= hi; v++ {
			ip := net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
			if !ip.IsLoopback() {
				return nil, fmt.Errorf("source address %s: not a loopback address", ip)
			}
			ips = append(ips, ip)
		}
	}
	return ips, nil
}

func ipToInt(ip net.IP) uint32 {
	ip = ip.To4()
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

// checkLoopback refuses a base URL whose host is not a loopback address.
func checkLoopback(ctx context.Context, base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want http://host:port", base)
	}
	host := u.Hostname()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("-url %q: %w", base, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("-url %q resolves to %s, not a loopback address (use -allow-remote to load another host)", base, a.IP)
		}
	}
	return nil
}

// readTokens returns the tokens of a file, one a line; blank lines and
// lines starting with # are skipped.
func readTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var tokens []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			tokens = append(tokens, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: no tokens", path)
	}
	return tokens, nil
}

// backoff is exponential backoff with full jitter.
type backoff struct {
	base, max time.Duration
	n         int
}

// next returns a random wait in [0, min(max, base*2^n)) and doubles the
// window.
func (b *backoff) next() time.Duration {
	d := b.base << min(b.n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func (b *backoff) reset() { b.n = 0 }

// sleepCtx waits for d or until ctx is done, and reports whether the wait
// ran its course.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// statusError is a non-success HTTP answer.
type statusError struct {
	Status     int
	Body       string
	RetryAfter time.Duration
}

// Error returns the status and the start of the body.
func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// newStatusError reads (a bounded part of) a failed response.
func newStatusError(resp *http.Response) *statusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &statusError{Status: resp.StatusCode, Body: strings.TrimSpace(string(b)), RetryAfter: retryAfter(resp.Header)}
}

// api is a small JSON client of the taskboard REST routes.
type api struct {
	client *http.Client
}

// do sends a JSON request and decodes a JSON answer into out (unless nil).
// A status other than 2xx is a *statusError.
func (a *api) do(ctx context.Context, method, base, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return newStatusError(resp)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// snapshotBody is the part of GET /boards/{id} the tool uses.
type snapshotBody struct {
	Lists []struct {
		ID       string `json:"id"`
		Position int    `json:"position"`
	} `json:"lists"`
	Tasks []struct {
		ID     string `json:"id"`
		ListID string `json:"list_id"`
	} `json:"tasks"`
	Seq int64 `json:"seq"`
}

// snapshot returns a board's snapshot.
func (a *api) snapshot(ctx context.Context, base, token, board string) (*snapshotBody, error) {
	var s snapshotBody
	if err := a.do(ctx, http.MethodGet, base, "/boards/"+url.PathEscape(board), token, nil, &s); err != nil {
		return nil, fmt.Errorf("board %s: %w", board, err)
	}
	return &s, nil
}

// isTimeout reports whether err is a network timeout or cancellation.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
