package boot

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// powerOffWait bounds how long ReimageReboot waits for a machine to report
// its power off, asking every powerOffPoll.
const (
	powerOffWait = 30 * time.Second
	powerOffPoll = time.Second
)

// ReimageReboot reimages a node and boots it on the fresh clone through its
// power driver: the power is cut (a hard off), the node's own dead boot is
// released from the volume (a holder at the node's last address; any other
// holder refuses the reimage), the volume reimaged (kept under keep when
// keepOld), the BMC told to boot from the network once (where the driver
// can) and the power turned on. by names the operator for the timeline.
func (s *Service) ReimageReboot(ctx context.Context, mac MAC, keepOld bool, keep, by string) (*Node, error) {
	n, err := s.powered(ctx, mac)
	if err != nil {
		return nil, err
	}
	_, vol, err := s.withVolume(ctx, mac, opReimage)
	if err != nil {
		return nil, err
	}
	if _, err := s.Record(ctx, mac, Event{Stage: StagePower, Detail: "reimage and reboot requested by " + by}); err != nil {
		return nil, err
	}
	if err := s.powerOffAndWait(ctx, n); err != nil {
		return nil, fmt.Errorf("reimage %s --reboot: %w", mac, err)
	}
	if err := s.releaseOwnDeadBoot(ctx, n, vol); err != nil {
		return nil, err
	}
	if keepOld {
		n, err = s.ReimageKeep(ctx, mac, keep)
	} else {
		n, err = s.Reimage(ctx, mac)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.power.Power(ctx, n, PowerNetbootOnce); err != nil && !errors.Is(err, ErrPowerUnsupported) {
		return n, fmt.Errorf("reimaged %s, but the one-time network boot failed: %w", mac, err)
	}
	if _, err := s.power.Power(ctx, n, PowerOn); err != nil {
		return n, fmt.Errorf("reimaged %s, but power on failed: %w", mac, err)
	}
	s.Record(ctx, mac, Event{Stage: StagePower, Detail: "reimaged; powered on to boot the fresh clone"}) //nolint:errcheck // informational
	return n, nil
}

// powerOffAndWait cuts n's power and waits until its driver reports it off
// (or cannot tell).
func (s *Service) powerOffAndWait(ctx context.Context, n *Node) error {
	st, err := s.power.Power(ctx, n, PowerOff)
	deadline := s.now().Add(powerOffWait)
	for err == nil && st == PowerStateOn {
		if s.now().After(deadline) {
			return fmt.Errorf("%w: the machine still reports its power on %s after power off", ErrPower, powerOffWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(powerOffPoll):
		}
		st, err = s.power.Power(ctx, n, PowerStatus)
	}
	return err
}

// releaseOwnDeadBoot releases the holders of vol at n's last address: with
// its power off, they are the node's own boot, dead. Others are left for
// the reimage to refuse.
func (s *Service) releaseOwnDeadBoot(ctx context.Context, n *Node, vol string) error {
	addr, err := netip.ParseAddr(n.Addr)
	if err != nil {
		return nil // never seen on the wire: nothing of its own can hold the volume
	}
	hs, err := s.volumes.Holders(ctx, vol)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("reimage %s --reboot: holders: %w", n.MAC, err)
	}
	var own []Holder
	for _, h := range hs {
		if a, ok := netip.AddrFromSlice(h.IP()); ok && a.Unmap() == addr.Unmap() {
			own = append(own, h)
		}
	}
	if len(own) == 0 {
		return nil
	}
	if err := s.volumes.Release(ctx, vol, own); err != nil {
		return fmt.Errorf("reimage %s --reboot: release its powered-off boot: %w", n.MAC, err)
	}
	s.log.Info("released the powered-off node's boot", "mac", n.MAC.String(), "volume", vol, "holders", HolderList(own))
	return nil
}
