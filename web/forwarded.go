package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a reverse proxy, the admin listener's peer is the proxy: the
// client's address and whether it used TLS come in X-Forwarded-For and
// X-Forwarded-Proto. Those headers are believed only from the proxies the
// operator named (Config.TrustedProxies); from anyone else they are ignored,
// since any client can send them.

type forwardedKey struct{}

// forwarded rewrites r.RemoteAddr to the client's address and notes the
// client's scheme when the peer is a trusted proxy. The client is the
// right-most address of X-Forwarded-For that is not itself a trusted proxy
// (each proxy appends the address it saw; the left-most entries are the
// client's to write).
func forwarded(trusted []netip.Prefix) func(http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		if len(trusted) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, err := netip.ParseAddrPort(r.RemoteAddr)
			if err != nil || !isTrusted(peer.Addr()) {
				next.ServeHTTP(w, r)
				return
			}
			var hops []string
			for _, h := range r.Header.Values("X-Forwarded-For") {
				hops = append(hops, strings.Split(h, ",")...)
			}
			client := netip.Addr{}
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break // a garbled entry: believe nothing to its left
				}
				client = a
				if !isTrusted(a) {
					break
				}
			}
			r2 := r.Clone(r.Context())
			if client.IsValid() {
				r2.RemoteAddr = net.JoinHostPort(client.Unmap().String(), "0")
			}
			proto := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")))
			r2 = r2.WithContext(context.WithValue(r2.Context(), forwardedKey{}, proto == "https"))
			next.ServeHTTP(w, r2)
		})
	}
}

// overTLS reports whether the client reached the admin listener over TLS:
// directly, or through a trusted proxy that says so.
func overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	v, _ := r.Context().Value(forwardedKey{}).(bool)
	return v
}

// clientAddr is the client's address: the peer's, or the one a trusted
// proxy forwarded.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
