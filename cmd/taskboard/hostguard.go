package main

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// isLoopbackListener reports whether a listens on a loopback address only.
func isLoopbackListener(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// loopbackHost reports whether a request's Host names this machine:
// localhost (or a name under .localhost) or a loopback address, with any
// port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// hostGuard answers 421 to a request whose Host is not this machine's,
// before anything else, except for /health and /ready: a server on a
// loopback address without a public URL is a developer's, and a page on
// another site that rebinds its own name to 127.0.0.1 must not reach it.
func hostGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) && r.URL.Path != "/health" && r.URL.Path != "/ready" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			w.Write([]byte(`{"error":"Misdirected Request"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
