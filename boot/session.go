package boot

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The trust chain: a node's Ceph key goes to that node, in its own boot, and
// to nobody else. bootd binds each boot to what it saw itself:
//
//   - A boot session opens when bootd's DHCP server hands a network-booting
//     MAC an address (full mode: the address bootd leased it; proxy mode:
//     the address its own PXE exchange with bootd showed). It holds the
//     addresses bootd saw that MAC take in this boot and lasts a boot
//     window from the latest of those exchanges.
//   - Boot scripts are served to anyone, but a one-time token is put in them
//     only for a request from an address of the MAC's open session, and kept
//     in that session: nobody else can make bootd issue, or evict, a token
//     of that boot.
//   - The key is released once per session, to a token of that session
//     presented from an address of that session, within the window (and,
//     as the site's KeyRelease says, to a node the operator armed).
//   - Reports from the node carry the token (before the key) or a secret
//     handed out with the key (after it); others are refused.
//
// Sessions live in memory: a restart of bootd ends every boot under way,
// whose node then boots again.

// KeyRelease is a site's rule for releasing a node's Ceph key.
type KeyRelease string

// The key release rules.
const (
	// KeyReleaseLease releases the key to the address bootd's DHCP saw the
	// node take in this boot, within the boot window.
	KeyReleaseLease KeyRelease = "lease"
	// KeyReleaseArmed releases the key to the first node's boot after an
	// operator armed it (bootd netboot <mac> once), from any address.
	KeyReleaseArmed KeyRelease = "armed"
	// KeyReleaseLeaseArmed needs both.
	KeyReleaseLeaseArmed KeyRelease = "lease+armed"
)

// ParseKeyRelease checks a key release rule; empty means KeyReleaseLease.
func ParseKeyRelease(s string) (KeyRelease, error) {
	switch k := KeyRelease(s); k {
	case "":
		return KeyReleaseLease, nil
	case KeyReleaseLease, KeyReleaseArmed, KeyReleaseLeaseArmed:
		return k, nil
	}
	return "", invalid("bad key release rule %q: want lease, armed or lease+armed", s)
}

func (k KeyRelease) lease() bool { return k != KeyReleaseArmed }
func (k KeyRelease) armed() bool { return k != KeyReleaseLease }

// DefaultBootWindow is how long after bootd saw a machine's DHCP exchange
// its key may be released: firmware, kernel and initramfs take well under it.
const DefaultBootWindow = 5 * time.Minute

// DefaultArmWindow is how long an operator's arming of a node lasts.
const DefaultArmWindow = time.Hour

// Limits of one session: a boot asks DHCP two or three times (firmware,
// iPXE, the initramfs) and fetches its script once or twice.
const (
	sessionAddrs  = 4
	sessionTokens = 4
)

// ErrTokenRefused reports a key or report request that does not belong to
// a node's current boot. The message says no more, so a prober learns nothing.
var ErrTokenRefused = errors.New("boot token refused")

// ErrNotBound reports a request from an address that bootd did not see the
// node take in its current boot: such a request gets no token.
var ErrNotBound = errors.New("not this machine's boot")

// A session is one boot of one node, as bootd saw it.
type session struct {
	addrs  []netip.Addr // the addresses bootd saw the MAC take, at most sessionAddrs
	last   time.Time    // the newest DHCP exchange of this boot
	tokens []grant      // issued in this boot, oldest first
	// released is set once the key went out: to whom, and the
	// secret the node's later reports carry.
	released   bool
	releasedTo netip.Addr
	// releasing is set while the release is with Ceph: the same token from
	// the same address is then told to retry, not taken for a second key.
	releasing bool
	secret    string
	// inventoried is set once the boot reported its hardware.
	inventoried bool
}

type grant struct {
	token string
	addr  netip.Addr
}

func (s *session) has(a netip.Addr) bool { return slices.Contains(s.addrs, a) }

// open reports whether s is a boot under way at now: its key not yet out,
// its newest DHCP exchange within window. A nil session is not open.
func (s *session) open(now time.Time, window time.Duration) bool {
	return s != nil && !s.released && now.Sub(s.last) <= window
}

// token returns the grant of tok in this boot.
func (s *session) token(tok string) (grant, bool) {
	for _, g := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(g.token), []byte(tok)) == 1 {
			return g, true
		}
	}
	return grant{}, false
}

// sessions holds each node's current boot. Only enrolled MACs get one, so
// they are bounded by the nodes enrolled.
type sessions struct {
	mu     sync.Mutex
	m      map[string]*session // canonical MAC -> current boot
	pruned time.Time           // when stale sessions were last dropped
	// flight holds the boots in flight (admission.go): a subset of m (an
	// entry goes when its MAC's session does), so never more entries than
	// sessions, and no more than the cap once expired ones are dropped.
	flight map[string]*session
}

// TrustCounters counts what the trust chain refused, for metrics.
type TrustCounters struct {
	KeysReleased     atomic.Int64
	KeysRefused      atomic.Int64
	KeysDeferred     atomic.Int64 // Ceph unavailable: the node may ask again
	SecondKeys       atomic.Int64 // a second key request in one boot
	ReportsRefused   atomic.Int64
	FetchesUnbound   atomic.Int64 // fetch events of addresses outside the node's boot, not recorded
	StaleReleased    atomic.Int64 // the node's own previous session released at a key release
	ProxyConflicting atomic.Int64 // proxy mode: another address claimed for an open boot
}

// Trust returns the trust chain's counters.
func (s *Service) Trust() *TrustCounters { return &s.trust }

// SawLease tells the Service that bootd's DHCP server saw mac take addr:
// full mode's ACK of a lease (proxy false), or in proxy mode the address a
// network-booting client's own exchange showed (its ciaddr or requested
// address). pxe marks a firmware or iPXE client (a boot starts); an
// operating system's DHCP client only adds its address to a boot under way
// whose key is not yet out. It is called on the DHCP server's packet path:
// it never blocks on I/O (the node comes from the store's cache).
func (s *Service) SawLease(mac MAC, addr netip.Addr, pxe, proxy bool) {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsUnspecified() || len(mac) != 6 {
		return
	}
	if _, err := s.enrolled(context.Background(), mac); err != nil {
		return
	}
	now := s.now()
	key := mac.String()
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	cur := s.sess.m[key]
	switch {
	case cur.open(now, s.window):
	case pxe:
		cur = &session{last: now}
		s.sess.m[key] = cur
		s.pruneSessionsLocked(now)
	default:
		return // an operating system's renewal: not a boot
	}
	switch {
	case cur.has(addr):
	case proxy && len(cur.addrs) > 0:
		// Nobody vouches for a proxy client's address but the client: the
		// first claim of a boot stands, later ones are logged, not trusted.
		s.trust.ProxyConflicting.Add(1)
		s.log.Warn("boot: another address claimed for a boot under way; ignored", "mac", key,
			"ip", addr.String(), "bound", cur.addrs[0].String())
		return
	default:
		if len(cur.addrs) == sessionAddrs {
			cur.addrs = cur.addrs[1:]
		}
		cur.addrs = append(cur.addrs, addr)
	}
	cur.last = now
}

// pruneSessionsLocked drops sessions of a day ago and more, at most once an hour.
func (s *Service) pruneSessionsLocked(now time.Time) {
	if now.Sub(s.sess.pruned) < time.Hour {
		return
	}
	s.sess.pruned = now
	for k, c := range s.sess.m {
		if now.Sub(c.last) > 24*time.Hour {
			delete(s.sess.m, k)
			delete(s.sess.flight, k)
		}
	}
}

// IssueBootToken returns a one-time token for mac's boot script fetched
// from addr, to be put on its kernel command line. With the lease rule, a
// token is issued only to an address of mac's open boot (ErrNotBound
// otherwise); with the armed rule alone, to anyone while the node is armed.
// The boot is then in flight (admission.go), but never refused for the cap:
// a Raspberry Pi's cmdline.txt asks here, iPXE scripts ask AdmitBoot.
func (s *Service) IssueBootToken(mac MAC, addr netip.Addr) (string, error) {
	return s.issueToken(mac, addr, false)
}

// issueToken is IssueBootToken, under the cap on boots in flight when capped.
func (s *Service) issueToken(mac MAC, addr netip.Addr, capped bool) (string, error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return "", invalid("boot token: no address for %s", mac)
	}
	now := s.now()
	if !s.keyRelease.lease() { // armed alone: whoever asks while the node is armed
		n, err := s.enrolled(context.Background(), mac)
		if err != nil {
			return "", err
		}
		if !armed(n, now) {
			return "", ErrNotBound
		}
	}
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	cur := s.sess.m[mac.String()]
	switch {
	case s.keyRelease.lease():
		if !cur.open(now, s.window) || !cur.has(addr) {
			return "", ErrNotBound
		}
	case !cur.open(now, s.window):
		cur = &session{last: now}
		s.sess.m[mac.String()] = cur
	default:
		cur.last = now
	}
	if err := s.admitLocked(mac.String(), cur, now, capped); err != nil {
		return "", err
	}
	tok, err := newSecret()
	if err != nil {
		return "", err
	}
	if len(cur.tokens) == sessionTokens {
		cur.tokens = cur.tokens[1:]
	}
	cur.tokens = append(cur.tokens, grant{token: tok, addr: addr})
	return tok, nil
}

func armed(n *Node, now time.Time) bool { return now.Before(n.ArmedUntil) }

func newSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// claim checks a key request of mac from addr with token against its boot
// and, when it passes, marks the key released and returns the secret for
// its reports. A second request in a boot whose key went out, with a token
// of that boot, is reported as such (second true).
func (s *Service) claim(mac MAC, token string, addr netip.Addr, n *Node) (secret string, second bool, prev netip.Addr, err error) {
	now := s.now()
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	cur := s.sess.m[mac.String()]
	if cur == nil {
		return "", false, prev, fmt.Errorf("%w: no boot of %s seen", ErrTokenRefused, mac)
	}
	g, ok := cur.token(token)
	switch {
	case !ok:
		return "", false, prev, fmt.Errorf("%w: not a token of this boot", ErrTokenRefused)
	case cur.released && cur.releasing && g.addr == addr && addr == cur.releasedTo:
		// The same request again while the first is still with Ceph (a
		// hung cluster outlasts bootd-init's timeout): not a second key.
		return "", false, prev, fmt.Errorf("%w: the release of this boot's key is under way", ErrCephUnavailable)
	case cur.released:
		return "", true, cur.releasedTo, fmt.Errorf("%w: the key of this boot went out already", ErrTokenRefused)
	case now.Sub(cur.last) > s.window:
		return "", false, prev, fmt.Errorf("%w: the boot window closed", ErrTokenRefused)
	case g.addr != addr:
		return "", false, prev, fmt.Errorf("%w: token issued to %s", ErrTokenRefused, g.addr)
	case s.keyRelease.lease() && !cur.has(addr):
		return "", false, prev, fmt.Errorf("%w: %s is not an address bootd saw this machine take", ErrTokenRefused, addr)
	case s.keyRelease.armed() && !armed(n, now):
		return "", false, prev, fmt.Errorf("%w: the node is not armed", ErrTokenRefused)
	}
	secret, err = newSecret()
	if err != nil {
		return "", false, prev, err
	}
	cur.released, cur.releasing, cur.releasedTo, cur.secret = true, true, addr, secret
	return secret, false, prev, nil
}

// dropSession ends mac's boot under way, if any: its tokens and its key
// release are gone, and its reports are refused. A replace calls it for the
// machine replaced.
func (s *Service) dropSession(mac MAC) {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	delete(s.sess.m, mac.String())
	delete(s.sess.flight, mac.String())
}

// unclaim takes back a release that could not finish. With spend (a fenced
// volume, a volume gone), the boot's tokens are spent and it is no longer in
// flight: the node's next boot tries again. Without (Ceph unavailable), the
// boot keeps its tokens and its place, and may ask again within its window:
// nothing went out.
func (s *Service) unclaim(mac MAC, secret string, spend bool) {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	if cur := s.sess.m[mac.String()]; cur != nil && cur.secret == secret {
		cur.released, cur.releasing, cur.releasedTo, cur.secret = false, false, netip.Addr{}, ""
		if spend {
			cur.tokens = nil
			s.landedLocked(mac.String(), cur)
		}
	}
}

// keyOut takes mac's boot, whose key went out with secret, out of flight.
func (s *Service) keyOut(mac MAC, secret string) {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	if cur := s.sess.m[mac.String()]; cur != nil && cur.secret == secret {
		cur.releasing = false
		s.landedLocked(mac.String(), cur)
	}
}

// reportAllowed checks a node's report: from an address of its current
// boot, with that boot's secret once the key went out, or with one of its
// tokens before.
func (s *Service) reportAllowed(mac MAC, auth string, addr netip.Addr) bool {
	if auth == "" {
		return false
	}
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	cur := s.sess.m[mac.String()]
	if cur == nil {
		return false
	}
	if cur.released {
		return addr == cur.releasedTo && subtle.ConstantTimeCompare([]byte(cur.secret), []byte(auth)) == 1
	}
	g, ok := cur.token(auth)
	return ok && g.addr == addr
}

// bound reports whether addr is an address of mac's current boot (for
// recording fetch events): the boot is open, or its key went out to addr.
func (s *Service) bound(mac MAC, addr netip.Addr) bool {
	now := s.now()
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	cur := s.sess.m[mac.String()]
	if cur == nil {
		return false
	}
	if cur.released {
		return addr == cur.releasedTo
	}
	return cur.open(now, s.window) && (cur.has(addr) || !s.keyRelease.lease())
}
