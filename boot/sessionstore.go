package boot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// A Session is one boot of one node, as the bootd instances sharing a store
// saw it (session.go says how it binds the key to the boot). It holds no
// secret in clear: tokens and the report secret are kept as their SHA-256,
// so that whoever reads the store cannot present them.
type Session struct {
	// ID names this boot; a new boot of the MAC gets a new one.
	ID string `json:"id"`
	// Addrs are the addresses bootd saw the MAC take, at most sessionAddrs.
	Addrs []netip.Addr `json:"addrs,omitempty"`
	// Last is the newest DHCP exchange of this boot.
	Last time.Time `json:"last"`
	// Tokens are the tokens issued in this boot, oldest first.
	Tokens []Grant `json:"tokens,omitempty"`
	// Released is set once the key went out (or while its release is under
	// way): to ReleasedTo, with Secret (a hash) for the boot's reports.
	Released   bool       `json:"released,omitempty"`
	ReleasedTo netip.Addr `json:"released_to,omitzero"`
	Secret     string     `json:"secret,omitempty"`
	// Releasing, when not zero, says the release is with Ceph, at an
	// instance that holds it until then: the same token from the same
	// address is told to retry meanwhile, not taken for a second key. A
	// release still under way at Releasing died with its instance (or
	// overran its budget), and the boot may ask again.
	Releasing time.Time `json:"releasing,omitzero"`
	// Inventoried is set once the boot reported its hardware.
	Inventoried bool `json:"inventoried,omitempty"`
}

// A Grant is a token issued in a boot: its hash and the address it went to.
type Grant struct {
	Token string     `json:"token"` // hashSecret of the token
	Addr  netip.Addr `json:"addr"`
}

// SessionStore keeps each node's current boot. A store shared by several
// bootd instances (RADOS) implements it, so that a machine may take its
// lease from one instance and its script and key from another; without one
// the Service keeps sessions in memory.
type SessionStore interface {
	// Session returns a copy of mac's session, nil when it has none.
	Session(ctx context.Context, mac MAC) (*Session, error)
	// UpdateSession runs fn on a copy of mac's session (nil when it has
	// none) and stores the session fn returns, or deletes mac's session
	// when fn returns nil. An error from fn aborts the change and is
	// returned as is. fn may run more than once.
	UpdateSession(ctx context.Context, mac MAC, fn func(cur *Session) (*Session, error)) error
}

// errKeep, from a session change's fn, leaves the session as it was.
var errKeep = errors.New("session kept")

// hashSecret returns what a store keeps of a token or secret.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// secretIs reports, in constant time, whether secret hashes to hash.
func secretIs(hash, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(hashSecret(secret))) == 1
}

// Clone returns a deep copy of s (nil for nil).
func (s *Session) Clone() *Session {
	if s == nil {
		return nil
	}
	c := *s
	c.Addrs, c.Tokens = slices.Clone(s.Addrs), slices.Clone(s.Tokens)
	return &c
}

func (s *Session) has(a netip.Addr) bool { return slices.Contains(s.Addrs, a) }

// open reports whether s is a boot under way at now: its key not yet out,
// its newest DHCP exchange within window. A nil session is not open.
func (s *Session) open(now time.Time, window time.Duration) bool {
	return s != nil && !s.Released && now.Sub(s.Last) <= window
}

// token returns the grant of tok in this boot.
func (s *Session) token(tok string) (Grant, bool) {
	for _, g := range s.Tokens {
		if secretIs(g.Token, tok) {
			return g, true
		}
	}
	return Grant{}, false
}

// releasing reports whether the key's release is under way at now.
func (s *Session) releasing(now time.Time) bool {
	return s.Released && !s.Releasing.IsZero() && now.Before(s.Releasing)
}

// unrelease takes the key's release back: nothing went out.
func (s *Session) unrelease() {
	s.Released, s.Releasing, s.ReleasedTo, s.Secret = false, time.Time{}, netip.Addr{}, ""
}

// memSessions is the SessionStore of a Service whose store keeps none: a
// restart of bootd ends every boot under way, whose node then boots again.
// Only enrolled MACs get a session, so they are bounded by the nodes
// enrolled; sessions of a day ago and more are dropped.
type memSessions struct {
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]*Session // canonical MAC -> current boot
	pruned time.Time           // when stale sessions were last dropped
}

func newMemSessions(now func() time.Time) *memSessions {
	return &memSessions{now: now, m: map[string]*Session{}}
}

func (m *memSessions) Session(_ context.Context, mac MAC) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[mac.String()].Clone(), nil
}

func (m *memSessions) UpdateSession(_ context.Context, mac MAC, fn func(cur *Session) (*Session, error)) error {
	key := mac.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	next, err := fn(m.m[key].Clone())
	if err != nil {
		return err
	}
	if next == nil {
		delete(m.m, key)
		return nil
	}
	m.m[key] = next.Clone()
	if now := m.now(); now.Sub(m.pruned) >= time.Hour {
		m.pruned = now
		for k, c := range m.m {
			if now.Sub(c.Last) > 24*time.Hour {
				delete(m.m, k)
			}
		}
	}
	return nil
}

// len returns how many sessions are kept, for tests.
func (m *memSessions) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}
