package boot

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/netip"
	"sync"
	"time"
)

// ErrTokenRefused reports a boot token that is unknown, used, expired, or
// presented by another machine or address. The message says no more, so a
// prober learns nothing.
var ErrTokenRefused = errors.New("boot token refused")

// BootTokens hands out one-time tokens that a booting node exchanges for its
// Ceph key. The token rides on the kernel command line, which is readable by
// anyone on the node; so it is good once, for a short time, and only for the
// MAC and address it was issued to. Tokens live in memory: a restart of
// bootd invalidates them, and the node's next boot gets a new one.
// It is safe for concurrent use.
type BootTokens struct {
	mu  sync.Mutex
	m   map[string]tokenGrant
	ttl time.Duration
	max int
	now func() time.Time
}

type tokenGrant struct {
	mac     string
	addr    netip.Addr
	expires time.Time
}

// NewBootTokens returns tokens valid for ttl; now is the clock (nil: time.Now).
func NewBootTokens(ttl time.Duration, now func() time.Time) *BootTokens {
	if now == nil {
		now = time.Now
	}
	return &BootTokens{m: map[string]tokenGrant{}, ttl: ttl, max: 100000, now: now}
}

// Issue returns a new token for mac booting from addr.
func (t *BootTokens) Issue(mac MAC, addr netip.Addr) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.m) >= t.max {
		t.pruneLocked(now)
		if len(t.m) >= t.max {
			return "", errors.New("too many boot tokens outstanding")
		}
	}
	t.m[tok] = tokenGrant{mac: mac.String(), addr: addr.Unmap(), expires: now.Add(t.ttl)}
	return tok, nil
}

// Redeem uses up token if it was issued to mac at addr and has not expired.
// A token presented by the wrong machine is burnt too: whoever saw it once
// cannot try again.
func (t *BootTokens) Redeem(token string, mac MAC, addr netip.Addr) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.m[token]
	if !ok {
		return ErrTokenRefused
	}
	delete(t.m, token)
	if t.now().After(g.expires) ||
		subtle.ConstantTimeCompare([]byte(g.mac), []byte(mac.String())) != 1 || g.addr != addr.Unmap() {
		return ErrTokenRefused
	}
	return nil
}

func (t *BootTokens) pruneLocked(now time.Time) {
	for k, g := range t.m {
		if now.After(g.expires) {
			delete(t.m, k)
		}
	}
}
