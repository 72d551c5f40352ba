package httpapi

import (
	"net/http"
	"testing"
)

func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"192.0.2.7:5000", "", "a:192.0.2.7"},
		{"192.0.2.7:5000", "198.51.100.1", "a:192.0.2.7"}, // not from a local proxy: ignored
		{"127.0.0.1:5000", "", "a:127.0.0.1"},
		{"127.0.0.1:5000", "203.0.113.9, 198.51.100.1", "a:198.51.100.1"},
		{"[::1]:5000", "2001:db8:1:2:3:4:5:6", "a:2001:db8:1:2::/64"},
		{"[2001:db8:a:b:c:d:e:f]:5000", "", "a:2001:db8:a:b::/64"},
		{"[::ffff:192.0.2.7]:5000", "", "a:192.0.2.7"},
		{"127.0.0.1:5000", "not-an-address", "a:127.0.0.1"},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientKey(r); got != tc.want {
			t.Errorf("clientKey(%s, X-Forwarded-For %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}
