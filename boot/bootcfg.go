package boot

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// bootTokenTTL is how long a node has from fetching its boot script to
// fetching its key: firmware, kernel and initramfs take well under this.
const bootTokenTTL = 10 * time.Minute

// IssueBootToken returns a one-time token for mac booting from addr, to be
// put on its kernel command line; the node exchanges it for its Ceph key
// with RedeemBootKey.
func (s *Service) IssueBootToken(mac MAC, addr net.IP) (string, error) {
	a, ok := netip.AddrFromSlice(addr)
	if !ok {
		return "", invalid("boot token: no address for %s", mac)
	}
	return s.tokens.Issue(mac, a)
}

// RedeemBootKey exchanges a boot token for the node's Ceph key, once: the
// token must have been issued to mac at addr and not have expired, and the
// node's volume must not be held by another client (CheckFence). The key is
// a secret: the caller sends it to the node and nowhere else. The exchange
// is recorded as the node's key stage (without the key).
func (s *Service) RedeemBootKey(ctx context.Context, mac MAC, token string, addr net.IP) (string, error) {
	a, _ := netip.AddrFromSlice(addr)
	if err := s.tokens.Redeem(token, mac, a); err != nil {
		s.log.Warn("boot key refused", "mac", mac.String(), "ip", addr.String(), "err", err)
		return "", err
	}
	if err := s.CheckFence(ctx, mac, addr); err != nil {
		return "", err
	}
	key, err := s.NodeKey(ctx, mac)
	if err != nil {
		return "", err
	}
	s.Record(ctx, mac, Event{Stage: StageKey, Source: addr.String(), Detail: "key fetched with a one-time token"})
	return key, nil
}

// nodeStages are the stages a booting node may report itself.
var nodeStages = map[Stage]bool{StageNetwork: true, StageVolume: true, StageRoot: true, StageFailed: true}

// Report records a stage a booting node reports from its initramfs (network
// up, volume mapped, root mounted, or a failure and its message).
func (s *Service) Report(ctx context.Context, mac MAC, stage Stage, detail string, addr net.IP) error {
	if !nodeStages[stage] {
		return invalid("a node cannot report stage %q", stage)
	}
	if len(detail) > 512 {
		detail = detail[:512]
	}
	if _, err := s.enrolled(ctx, mac); err != nil {
		return err
	}
	_, err := s.Record(ctx, mac, Event{Stage: stage, Source: addr.String(), Detail: printable(detail)})
	if err != nil {
		return fmt.Errorf("report %s: %w", stage, err)
	}
	return nil
}

// printable keeps text from a node to one line of printable characters.
func printable(s string) string {
	b := []rune(s)
	for i, r := range b {
		if r < 0x20 || r == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}
