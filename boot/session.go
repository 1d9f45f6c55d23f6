package boot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
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
// Sessions live in the store when it keeps them (SessionStore: RADOS,
// shared by every instance, so that a boot may move between instances and
// its key still goes out once); else in memory, and a restart of bootd ends
// every boot under way, whose node then boots again.

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

// sessions holds each node's current boot (in its SessionStore) and, in
// this instance's memory, the boots it let in flight (admission.go).
type sessions struct {
	store SessionStore
	mu    sync.Mutex
	// flight holds the boots this instance admitted: MAC -> its session's
	// ID and newest exchange. An entry goes when its boot lands, when its
	// MAC's session is replaced or dropped here, or when its window closes.
	flight map[string]flight
}

type flight struct {
	id   string
	last time.Time
}

// sessionTimeout bounds one change of a session in its store.
const sessionTimeout = 10 * time.Second

// changeSession runs fn on mac's session in the store (see SessionStore);
// fn returning errKeep leaves it as it was, with no error.
func (s *Service) changeSession(mac MAC, fn func(cur *Session) (*Session, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	err := s.sess.store.UpdateSession(ctx, mac, fn)
	if errors.Is(err, errKeep) {
		return nil
	}
	return err
}

// session reads mac's session; nil when it has none or the store failed
// (logged): a boot the store cannot show is no boot.
func (s *Service) session(mac MAC) *Session {
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	cur, err := s.sess.store.Session(ctx, mac)
	if err != nil {
		s.log.Warn("boot: reading a boot session failed", "mac", mac.String(), "err", err)
		return nil
	}
	return cur
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
// with sessions in memory it never blocks on I/O; with a shared store it
// writes the session before the server's answer leaves, so that another
// instance serves the rest of the boot.
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
	var conflict netip.Addr
	var id string
	var replaced bool
	err := s.changeSession(mac, func(cur *Session) (*Session, error) {
		conflict, replaced = netip.Addr{}, false
		switch {
		case cur.open(now, s.window):
		case pxe:
			nid, err := newSecret()
			if err != nil {
				return nil, err
			}
			cur, replaced = &Session{ID: nid[:16], Last: now}, true
		default:
			return nil, errKeep // an operating system's renewal: not a boot
		}
		switch {
		case cur.has(addr):
		case proxy && len(cur.Addrs) > 0:
			// Nobody vouches for a proxy client's address but the client: the
			// first claim of a boot stands, later ones are logged, not trusted.
			conflict = cur.Addrs[0]
			return nil, errKeep
		default:
			if len(cur.Addrs) == sessionAddrs {
				cur.Addrs = cur.Addrs[1:]
			}
			cur.Addrs = append(cur.Addrs, addr)
		}
		cur.Last, id = now, cur.ID
		return cur, nil
	})
	switch {
	case err != nil:
		s.log.Warn("boot: recording a boot session failed", "mac", key, "ip", addr.String(), "err", err)
		return
	case conflict.IsValid():
		s.trust.ProxyConflicting.Add(1)
		s.log.Warn("boot: another address claimed for a boot under way; ignored", "mac", key,
			"ip", addr.String(), "bound", conflict.String())
		return
	case id == "":
		return
	}
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	if f, ok := s.sess.flight[key]; ok {
		if replaced || f.id != id {
			delete(s.sess.flight, key)
		} else {
			s.sess.flight[key] = flight{id: id, last: now}
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
	var tok string
	err := s.changeSession(mac, func(cur *Session) (*Session, error) {
		switch {
		case s.keyRelease.lease():
			if !cur.open(now, s.window) || !cur.has(addr) {
				return nil, ErrNotBound
			}
		case !cur.open(now, s.window):
			id, err := newSecret()
			if err != nil {
				return nil, err
			}
			cur = &Session{ID: id[:16], Last: now}
		default:
			cur.Last = now
		}
		if err := s.admit(mac.String(), cur, now, capped); err != nil {
			return nil, err
		}
		t, err := newSecret()
		if err != nil {
			return nil, err
		}
		if len(cur.Tokens) == sessionTokens {
			cur.Tokens = cur.Tokens[1:]
		}
		cur.Tokens = append(cur.Tokens, Grant{Token: hashSecret(t), Addr: addr})
		tok = t
		return cur, nil
	})
	if err != nil {
		return "", err
	}
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

// dropSession ends mac's boot under way, if any: its tokens and its key
// release are gone, and its reports are refused. A replace calls it for the
// machine replaced.
func (s *Service) dropSession(mac MAC) {
	if err := s.changeSession(mac, func(*Session) (*Session, error) { return nil, nil }); err != nil {
		s.log.Warn("boot: ending a boot session failed", "mac", mac.String(), "err", err)
	}
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	delete(s.sess.flight, mac.String())
}

// reportAllowed checks a node's report: from an address of its current
// boot, with that boot's secret once the key went out, or with one of its
// tokens before.
func (s *Service) reportAllowed(mac MAC, auth string, addr netip.Addr) bool {
	if auth == "" {
		return false
	}
	cur := s.session(mac)
	if cur == nil {
		return false
	}
	if cur.Released {
		return addr == cur.ReleasedTo && secretIs(cur.Secret, auth)
	}
	g, ok := cur.token(auth)
	return ok && g.Addr == addr
}

// bound reports whether addr is an address of mac's current boot (for
// recording fetch events): the boot is open, or its key went out to addr.
func (s *Service) bound(mac MAC, addr netip.Addr) bool {
	cur := s.session(mac)
	if cur == nil {
		return false
	}
	if cur.Released {
		return addr == cur.ReleasedTo
	}
	return cur.open(s.now(), s.window) && (cur.has(addr) || !s.keyRelease.lease())
}
