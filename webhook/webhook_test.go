package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/taskboard/taskboard/webhook"
)

// The example of the Standard Webhooks specification's reference
// libraries.
func TestSignStandardExample(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	got, err := webhook.Sign(secret, id, ts, body)
	if err != nil || got != want {
		t.Fatalf("Sign: got %q, %v; want %q", got, err, want)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm9wZQ== "+want)
	if err := webhook.Verify(secret, h, body, ts.Add(time.Minute)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for name, tc := range map[string]struct {
		header, value string
		body          string
		at            time.Time
	}{
		"changed body":      {body: `{"test": 2432232315}`, at: ts},
		"changed id":        {header: "webhook-id", value: "msg_other", at: ts},
		"changed timestamp": {header: "webhook-timestamp", value: "1614265331", at: ts},
		"too old":           {at: ts.Add(webhook.Tolerance + time.Second)},
		"from the future":   {at: ts.Add(-webhook.Tolerance - time.Second)},
		"no signature":      {header: "webhook-signature", value: "", at: ts},
		"another version":   {header: "webhook-signature", value: strings.Replace(want, "v1,", "v2,", 1), at: ts},
		"malformed time":    {header: "webhook-timestamp", value: "soon", at: ts},
	} {
		h := h.Clone()
		if tc.header != "" {
			h.Set(tc.header, tc.value)
		}
		b := body
		if tc.body != "" {
			b = []byte(tc.body)
		}
		if err := webhook.Verify(secret, h, b, tc.at); !errors.Is(err, webhook.ErrVerify) {
			t.Errorf("Verify(%s): got %v, want ErrVerify", name, err)
		}
	}
	if err := webhook.Verify("whsec_!!", h, body, ts); !errors.Is(err, webhook.ErrBadSecret) {
		t.Errorf("Verify(bad secret): got %v", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	key, err := webhook.DecodeSecret(a)
	if a == b || !strings.HasPrefix(a, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("NewSecret: %q, %q (%v)", a, b, err)
	}
}

func TestCheckAddr(t *testing.T) {
	for _, s := range []string{
		"127.0.0.1", "127.9.9.9", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1",
		"100.64.0.1", "100.127.255.254", "169.254.169.254", "169.254.0.1", "0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250", "255.255.255.255",
		"::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::1",
	} {
		if err := webhook.CheckAddr(netip.MustParseAddr(s)); !errors.Is(err, webhook.ErrForbiddenAddress) {
			t.Errorf("CheckAddr(%s): got %v, want ErrForbiddenAddress", s, err)
		}
	}
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"} {
		if err := webhook.CheckAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("CheckAddr(%s): %v, want nil", s, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"http://127.0.0.1/", "http://localhost:8080/", "http://[::1]/", "http://10.1.1.1/",
		"http://169.254.169.254/latest/meta-data/", "ftp://example.com/", "file:///etc/passwd", "http:///nohost", "//x/y"} {
		if err := webhook.CheckURL(ctx, u, false); err == nil {
			t.Errorf("CheckURL(%s): nil, want a refusal", u)
		}
	}
	if err := webhook.CheckURL(ctx, "http://127.0.0.1:9/", true); err != nil {
		t.Errorf("CheckURL(loopback, allowed): %v", err)
	}
	if err := webhook.CheckURL(ctx, "gopher://127.0.0.1/", true); err == nil {
		t.Errorf("CheckURL(gopher, allowed): nil, want a refusal")
	}
}

// The client checks the address it dials: a loopback server is refused
// by address and by a name resolving to it, whatever the proxy settings.
func TestClientRefusesForbiddenAddresses(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	t.Setenv("HTTP_PROXY", srv.URL)
	t.Setenv("http_proxy", srv.URL)
	c := webhook.NewClient(false, time.Second)
	defer c.CloseIdleConnections()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/", "http://[::1]:" + port + "/"} {
		res, err := c.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			res.Body.Close()
			t.Errorf("POST %s: got %d, want a refused dial", u, res.StatusCode)
			continue
		}
		if !errors.Is(err, webhook.ErrForbiddenAddress) {
			t.Errorf("POST %s: got %v, want ErrForbiddenAddress", u, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the server got %d requests", hits)
	}
}

// Redirects are not followed, and no proxy is used.
func TestClientFollowsNoRedirect(t *testing.T) {
	var followed bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed = true
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	c := webhook.NewClient(true, time.Second)
	defer c.CloseIdleConnections()
	res, err := c.Post(srv.URL+"/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect || followed {
		t.Fatalf("got %d (followed %v), want the 307 itself", res.StatusCode, followed)
	}
}
