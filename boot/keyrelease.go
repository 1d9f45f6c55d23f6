package boot

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ErrCephUnavailable reports a key request of a node's own boot (its token,
// from its address, in its window) that met Ceph unable to take it: the
// last probe failed, or a call of the release did. Nothing was released and
// the token is not spent: the node may ask again within its boot window.
var ErrCephUnavailable = errors.New("ceph unavailable, retry")

// A KeyGrant is what a node gets at its key release. Both are secrets.
type KeyGrant struct {
	Key    string // the node user's Ceph key, base64
	Report string // the secret its later reports of this boot carry
}

// RedeemBootKey releases a node's Ceph key for the boot it is in: token must
// have been issued in mac's current boot to addr, addr must be an address
// bootd saw mac take in that boot, within the boot window, and (as the
// site's key release rule says) the node armed; the key of a boot goes out
// once. A second request with a token of a boot whose key went out is
// refused, recorded on the node's timeline as a warning, counted and logged
// with both addresses.
//
// Once the request passed, the volume's holders are checked: one at addr is
// the node's own previous boot (the machine booting at addr now cannot also
// be running from its volume), which is released (blocklisted, its lock
// broken) and recorded; any other fences the node, which gets an error
// wrapping ErrFenced with a message for its console, and its timeline the
// holders. The node user's key is then confined to addr (Volumes.Confine).
//
// A request that passed but meets Ceph down (the last probe failed: Ceph is
// not asked at all; or a Ceph call of the release fails) gets an error
// wrapping ErrCephUnavailable and spends nothing: the boot's token stays
// good for another request within its window, the boot stays in flight, and
// its timeline says it waits for Ceph once a minute at most.
func (s *Service) RedeemBootKey(ctx context.Context, mac MAC, token string, addr netip.Addr) (*KeyGrant, error) {
	addr = addr.Unmap()
	n, vol, err := s.withVolume(ctx, mac, opKey)
	if err != nil {
		return nil, err
	}
	secret, second, prev, err := s.claim(mac, token, addr, n)
	if second {
		s.trust.SecondKeys.Add(1)
		msg := fmt.Sprintf("second key request in one boot from %s refused: the key went to %s", addr, prev)
		s.log.Warn("boot: second key request refused", "mac", mac.String(), "ip", addr.String(), "released_to", prev.String())
		if _, rerr := s.Record(ctx, mac, Event{Stage: StageWarning, Source: addr.String(), Detail: msg}); rerr != nil {
			s.log.Warn("recording a warning failed", "mac", mac.String(), "err", rerr)
		}
	}
	if errors.Is(err, ErrCephUnavailable) { // its first request is still with Ceph
		return nil, err
	}
	if err != nil {
		s.trust.KeysRefused.Add(1)
		if !second {
			s.log.Warn("boot key refused", "mac", mac.String(), "ip", addr.String(), "err", err)
		}
		return nil, err
	}
	if h := s.CephHealth(); !h.OK {
		return nil, s.deferKey(mac, secret, addr, fmt.Errorf("%w: %s", ErrCephUnavailable, h.Reason))
	}
	rctx, cancel := context.WithTimeout(ctx, keyReleaseBudget)
	key, err := s.releaseKey(rctx, mac, vol, addr)
	cancel()
	if err != nil && !errors.Is(err, ErrFenced) && !errors.Is(err, ErrNotFound) {
		return nil, s.deferKey(mac, secret, addr, fmt.Errorf("%w: %w", ErrCephUnavailable, err))
	}
	if err != nil {
		s.unclaim(mac, secret, true)
		s.trust.KeysRefused.Add(1)
		return nil, err
	}
	if !s.keyOut(mac, secret) {
		// The release overran its hold and another request of the boot took
		// it over (or the boot ended): that one gives the key, not this one.
		return nil, fmt.Errorf("%w: this release overran its time; the boot may ask again", ErrCephUnavailable)
	}
	if armed(n, s.now()) {
		if _, err := s.disarm(ctx, mac); err != nil {
			s.log.Warn("disarming after the key release failed", "mac", mac.String(), "err", err)
		}
	}
	s.trust.KeysReleased.Add(1)
	s.log.Info("boot key released", "mac", mac.String(), "ip", addr.String())
	s.Record(ctx, mac, Event{Stage: StageKey, Source: addr.String(), Detail: "key released to " + addr.String() + ", bound to this boot"})
	return &KeyGrant{Key: key, Report: secret}, nil
}

// keyReleaseBudget bounds the Ceph calls of one key release (those that
// take a context: monitor commands), below bootd-init's 15 s per request,
// so that a slow cluster answers 503 and the node asks again rather than
// timing out.
const keyReleaseBudget = 10 * time.Second

// deferKey takes back a key release that met Ceph down (err wraps
// ErrCephUnavailable), keeping the boot's token, and notes the wait. A
// release Ceph refused bootd's own user (ErrDenied) is deferred too, since
// the node's boot goes on once the caps are put right, but logged as the
// error it is and said so on the timeline: waiting for Ceph would not end
// it.
func (s *Service) deferKey(mac MAC, secret string, addr netip.Addr, err error) error {
	s.unclaim(mac, secret, false)
	s.trust.KeysDeferred.Add(1)
	if errors.Is(err, ErrDenied) {
		s.log.Error("boot key deferred: Ceph refused bootd's own user; give it the caps of docs/ceph.md", "mac", mac.String(), "ip", addr.String(), "err", err)
		s.noteWait(mac, WaitCeph, "Ceph refused bootd's own user at the key: its caps lack something docs/ceph.md gives it; the node asks again ("+err.Error()+")")
		return err
	}
	s.log.Warn("boot key deferred: Ceph cannot take it; the node may ask again", "mac", mac.String(), "ip", addr.String(), "err", err)
	s.noteWait(mac, WaitCeph, "waiting for Ceph at the key, the node asks again ("+err.Error()+")")
	return err
}

// releaseKey frees the volume for the node at addr, confines its user to
// addr and returns its key.
func (s *Service) releaseKey(ctx context.Context, mac MAC, vol string, addr netip.Addr) (string, error) {
	hs, err := s.volumes.Holders(ctx, vol)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("key of %s: holders: %w", mac, err)
	}
	var own, others []Holder
	for _, h := range hs {
		if a, ok := netip.AddrFromSlice(h.IP()); ok && a.Unmap() == addr {
			own = append(own, h)
		} else {
			others = append(others, h)
		}
	}
	if len(others) > 0 {
		s.Record(ctx, mac, Event{Stage: StageFailed, Source: addr.String(),
			Detail: fmt.Sprintf("volume %s is in use by another client (%s); if that machine is dead, run: bootd unfence %s",
				vol, HolderList(others), mac)})
		s.log.Warn("boot refused: volume fenced", "mac", mac.String(), "volume", vol, "holders", HolderList(others))
		return "", fmt.Errorf("%w: volume %s is in use by another machine; if that machine is dead, run: bootd unfence %s",
			ErrFenced, vol, mac)
	}
	if len(own) > 0 {
		if err := s.volumes.Release(ctx, vol, own); err != nil {
			return "", fmt.Errorf("release the previous boot of %s: %w", mac, err)
		}
		s.trust.StaleReleased.Add(1)
		s.log.Info("released the node's previous session", "mac", mac.String(), "volume", vol, "holders", HolderList(own))
		s.Record(ctx, mac, Event{Stage: StageKey, Source: addr.String(),
			Detail: "released this machine's previous boot, which still held its volume: " + HolderList(own)})
	}
	if err := s.volumes.Confine(ctx, vol, addr); err != nil {
		return "", fmt.Errorf("confine the key of %s to %s: %w", mac, addr, err)
	}
	return s.volumes.Key(ctx, vol)
}

// ErrReportRefused reports a boot report that does not come from the
// node's current boot.
var ErrReportRefused = errors.New("boot report refused")

// nodeStages are the stages a booting node may report itself.
var nodeStages = map[Stage]bool{StageNetwork: true, StageVolume: true, StageRoot: true, StageFailed: true}

// Report records a stage a booting node reports from its initramfs (network
// up, volume mapped, root mounted, or a failure and its message). auth is
// the boot's report secret (after the key release) or its token (before);
// a report without either, or from another address, is refused with
// ErrReportRefused and counted.
func (s *Service) Report(ctx context.Context, mac MAC, stage Stage, detail, auth string, addr netip.Addr) error {
	if !nodeStages[stage] {
		return invalid("a node cannot report stage %q", stage)
	}
	if len(detail) > 512 {
		detail = detail[:512]
	}
	if _, err := s.enrolled(ctx, mac); err != nil {
		return err
	}
	addr = addr.Unmap()
	if !s.reportAllowed(mac, auth, addr) {
		s.trust.ReportsRefused.Add(1)
		s.log.Debug("boot report refused", "mac", mac.String(), "ip", addr.String(), "stage", string(stage))
		return ErrReportRefused
	}
	_, err := s.Record(ctx, mac, Event{Stage: stage, Source: addr.String(), Detail: Printable(detail)})
	if err != nil {
		return fmt.Errorf("report %s: %w", stage, err)
	}
	return nil
}

// Arm arms a node for one boot: netboot on, and its key may be released
// (under a key release rule with "armed") to its next boot within window
// (0: DefaultArmWindow). The key release disarms it.
func (s *Service) Arm(ctx context.Context, mac MAC, window time.Duration) (*Node, error) {
	if window <= 0 {
		window = DefaultArmWindow
	}
	n, err := s.updateEnrolled(ctx, mac, func(n *Node) error {
		n.Netboot, n.ArmedUntil = true, s.now().Add(window)
		return nil
	})
	if err == nil {
		s.log.Info("node armed for one boot", "mac", n.MAC.String(), "until", n.ArmedUntil)
	}
	return n, err
}

func (s *Service) disarm(ctx context.Context, mac MAC) (*Node, error) {
	return s.updateEnrolled(ctx, mac, func(n *Node) error {
		n.ArmedUntil = time.Time{}
		return nil
	})
}

// KeyRelease returns the site's key release rule and boot window.
func (s *Service) KeyRelease() (KeyRelease, time.Duration) { return s.keyRelease, s.window }

// The release in the boot's session: claimed before Ceph is asked, taken
// back when it cannot finish, marked gone out when it did.

// releaseHold is how long a key release holds its boot (Session.Releasing)
// before another request of the boot may take it over: the release's
// budget, and a margin.
const releaseHold = keyReleaseBudget + 5*time.Second

// claim checks a key request of mac from addr with token against its boot
// and, when it passes, marks the key released (under way) and returns the
// secret for its reports. A second request in a boot whose key went out,
// with a token of that boot, is reported as such (second true).
func (s *Service) claim(mac MAC, token string, addr netip.Addr, n *Node) (secret string, second bool, prev netip.Addr, err error) {
	now := s.now()
	secret, err = newSecret()
	if err != nil {
		return "", false, prev, err
	}
	err = s.changeSession(mac, func(cur *Session) (*Session, error) {
		second, prev = false, netip.Addr{}
		if cur == nil {
			return nil, fmt.Errorf("%w: no boot of %s seen", ErrTokenRefused, mac)
		}
		if cur.Released && !cur.Releasing.IsZero() && !cur.releasing(now) {
			// A release that did not finish in its hold died with the
			// instance that made it: nothing went out.
			cur.unrelease()
		}
		g, ok := cur.token(token)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: not a token of this boot", ErrTokenRefused)
		case cur.releasing(now) && g.Addr == addr && addr == cur.ReleasedTo:
			// The same request again while the first is still with Ceph (a
			// hung cluster outlasts bootd-init's timeout): not a second key.
			return nil, fmt.Errorf("%w: the release of this boot's key is under way", ErrCephUnavailable)
		case cur.Released:
			second, prev = true, cur.ReleasedTo
			return nil, fmt.Errorf("%w: the key of this boot went out already", ErrTokenRefused)
		case now.Sub(cur.Last) > s.window:
			return nil, fmt.Errorf("%w: the boot window closed", ErrTokenRefused)
		case g.Addr != addr:
			return nil, fmt.Errorf("%w: token issued to %s", ErrTokenRefused, g.Addr)
		case s.keyRelease.lease() && !cur.has(addr):
			return nil, fmt.Errorf("%w: %s is not an address bootd saw this machine take", ErrTokenRefused, addr)
		case s.keyRelease.armed() && !armed(n, now):
			return nil, fmt.Errorf("%w: the node is not armed", ErrTokenRefused)
		}
		cur.Released, cur.Releasing, cur.ReleasedTo, cur.Secret = true, now.Add(releaseHold), addr, hashSecret(secret)
		return cur, nil
	})
	if err != nil {
		return "", second, prev, err
	}
	return secret, false, prev, nil
}

// unclaim takes back a release that could not finish. With spend (a fenced
// volume, a volume gone), the boot's tokens are spent and it is no longer in
// flight: the node's next boot tries again. Without (Ceph unavailable), the
// boot keeps its tokens and its place, and may ask again within its window:
// nothing went out.
func (s *Service) unclaim(mac MAC, secret string, spend bool) {
	var id string
	err := s.changeSession(mac, func(cur *Session) (*Session, error) {
		if cur == nil || !cur.Released || !secretIs(cur.Secret, secret) {
			return nil, errKeep
		}
		cur.unrelease()
		if spend {
			cur.Tokens, id = nil, cur.ID
		}
		return cur, nil
	})
	if err != nil {
		s.log.Warn("boot: taking back a key release failed", "mac", mac.String(), "err", err)
	}
	if id != "" {
		s.landed(mac.String(), id)
	}
}

// keyOut marks mac's key, whose release with secret passed, as gone out,
// and takes the boot out of flight. It reports false when the release no
// longer holds the boot (it overran its hold and another request took the
// boot over, or the boot ended): its key must then not go out.
func (s *Service) keyOut(mac MAC, secret string) bool {
	var id string
	err := s.changeSession(mac, func(cur *Session) (*Session, error) {
		id = ""
		if cur == nil || !cur.Released || !secretIs(cur.Secret, secret) {
			return nil, errKeep
		}
		cur.Releasing, id = time.Time{}, cur.ID
		return cur, nil
	})
	if err != nil {
		s.log.Warn("boot: marking the key released failed", "mac", mac.String(), "err", err)
		return false
	}
	if id == "" {
		return false
	}
	s.landed(mac.String(), id)
	return true
}
