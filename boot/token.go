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
//
// A node has at most tokensPerNode tokens outstanding: a new one retires its
// oldest. Scripts are served to anyone who asks, so this keeps a client that
// fetches a node's script in a loop from filling memory, and from crowding
// out other nodes' tokens: the tokens held are bounded by the enrolled nodes.
// It is safe for concurrent use.
type BootTokens struct {
	mu    sync.Mutex
	m     map[string]tokenGrant // token -> grant
	byMAC map[string][]string   // MAC -> its outstanding tokens, oldest first
	ttl   time.Duration
	now   func() time.Time
}

// tokensPerNode is how many tokens one node may have outstanding: a boot
// uses the one in the script it booted, and iPXE may fetch the script again
// (a retry) before the kernel redeems it.
const tokensPerNode = 4

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
	return &BootTokens{m: map[string]tokenGrant{}, byMAC: map[string][]string{}, ttl: ttl, now: now}
}

// Issue returns a new token for mac booting from addr, retiring mac's
// oldest when it has tokensPerNode outstanding.
func (t *BootTokens) Issue(mac MAC, addr netip.Addr) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	key := mac.String()
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	held := t.pruneLocked(key, now)
	if len(held) >= tokensPerNode {
		delete(t.m, held[0])
		held = held[1:]
	}
	t.m[tok] = tokenGrant{mac: key, addr: addr.Unmap(), expires: now.Add(t.ttl)}
	t.byMAC[key] = append(held, tok)
	return tok, nil
}

// Outstanding returns how many tokens are held, for all nodes.
func (t *BootTokens) Outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
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
	t.pruneLocked(g.mac, t.now())
	if t.now().After(g.expires) ||
		subtle.ConstantTimeCompare([]byte(g.mac), []byte(mac.String())) != 1 || g.addr != addr.Unmap() {
		return ErrTokenRefused
	}
	return nil
}

// pruneLocked drops mac's used and expired tokens and returns the rest,
// oldest first.
func (t *BootTokens) pruneLocked(mac string, now time.Time) []string {
	held := t.byMAC[mac][:0]
	for _, tok := range t.byMAC[mac] {
		if g, ok := t.m[tok]; ok && !now.After(g.expires) {
			held = append(held, tok)
		} else {
			delete(t.m, tok)
		}
	}
	if len(held) == 0 {
		delete(t.byMAC, mac)
		return nil
	}
	t.byMAC[mac] = held
	return held
}
