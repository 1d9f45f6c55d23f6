package boot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Fencing, the node's key and map target, and golden checks: what the boot
// path and the operator ask of a node's volume besides changing it.

// refuseHeld fails with ErrBusy when any client has volume vol open.
func (s *Service) refuseHeld(ctx context.Context, mac MAC, vol, op string) error {
	hs, err := s.volumes.Holders(ctx, vol)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("%s %s: %w", op, mac, err)
	}
	if len(hs) > 0 {
		return fmt.Errorf("%s %s: %w: volume %s is in use by %s; power the node off first",
			op, mac, ErrBusy, vol, holderList(hs))
	}
	return nil
}

func holderList(hs []Holder) string {
	var parts []string
	for _, h := range hs {
		p := h.Addr
		if h.Client != "" {
			p = h.Client + " at " + p
		}
		if h.Lock {
			p += " (lock owner)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// CheckFence is called before a node is told to map its volume. It lists
// the clients holding the volume: those at addr, the booting node's own
// address, are its own previous boot, which is over, and are released;
// any other holder fences the node: CheckFence records a failed stage in
// the timeline and returns an error wrapping ErrFenced whose message is for
// the node's console. The operator lifts the fence with Unfence. A node with
// no volume, or bootd with no volume backend, is never fenced.
func (s *Service) CheckFence(ctx context.Context, mac MAC, addr net.IP) error {
	n, err := s.enrolled(ctx, mac)
	if err != nil || s.volumes == nil || n.Volume == "" {
		return err
	}
	hs, err := s.volumes.Holders(ctx, n.Volume)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check fence of %s: %w", mac, err)
	}
	var own, others []Holder
	for _, h := range hs {
		if addr != nil && h.IP().Equal(addr) {
			own = append(own, h)
		} else {
			others = append(others, h)
		}
	}
	if len(others) > 0 {
		msg := fmt.Sprintf("volume %s is in use by another client (%s); if that machine is dead, run: bootd unfence %s",
			n.Volume, holderList(others), mac)
		ev := Event{Stage: StageFailed, Detail: msg}
		if addr != nil {
			ev.Source = addr.String()
		}
		if _, err := s.Record(ctx, mac, ev); err != nil {
			s.log.Warn("recording a fenced boot failed", "mac", mac.String(), "err", err)
		}
		s.log.Warn("boot refused: volume fenced", "mac", mac.String(), "volume", n.Volume, "holders", holderList(others))
		return fmt.Errorf("%w: %s", ErrFenced, msg)
	}
	if len(own) > 0 {
		if err := s.volumes.Release(ctx, n.Volume, own); err != nil {
			return fmt.Errorf("release the previous boot of %s: %w", mac, err)
		}
		s.log.Info("released the node's previous session", "mac", mac.String(), "volume", n.Volume, "holders", holderList(own))
	}
	return nil
}

// Unfence is the operator's override of a fence: it blocklists every client
// holding a node's volume and breaks its lock, so the node can boot. Only
// use it when the holder is dead or must be cut off. It returns the clients
// it released.
func (s *Service) Unfence(ctx context.Context, mac MAC) ([]Holder, error) {
	_, vol, err := s.withVolume(ctx, mac, "unfence")
	if err != nil {
		return nil, err
	}
	hs, err := s.volumes.Holders(ctx, vol)
	if err != nil {
		return nil, fmt.Errorf("unfence %s: %w", mac, err)
	}
	if len(hs) == 0 {
		return []Holder{}, nil
	}
	if err := s.volumes.Release(ctx, vol, hs); err != nil {
		return nil, fmt.Errorf("unfence %s: %w", mac, err)
	}
	s.log.Warn("volume unfenced by the operator", "mac", mac.String(), "volume", vol, "released", holderList(hs))
	return hs, nil
}

// NodeKey returns the Ceph secret key of a node's own user, for the boot
// script's one-time exchange. It is a secret: never log it.
func (s *Service) NodeKey(ctx context.Context, mac MAC) (string, error) {
	_, vol, err := s.withVolume(ctx, mac, "key of")
	if err != nil {
		return "", err
	}
	return s.volumes.Key(ctx, vol)
}

// MapTarget returns what a node's kernel needs to map its volume.
func (s *Service) MapTarget(ctx context.Context, mac MAC) (*MapTarget, error) {
	_, vol, err := s.withVolume(ctx, mac, "map target of")
	if err != nil {
		return nil, err
	}
	return s.volumes.Target(ctx, vol)
}

// Volume describes a node's volume as the backend sees it, with its holders.
func (s *Service) Volume(ctx context.Context, mac MAC) (*Volume, []Holder, error) {
	_, name, err := s.withVolume(ctx, mac, "describe the volume of")
	if err != nil {
		return nil, nil, err
	}
	v, err := s.volumes.Volume(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	hs, err := s.volumes.Holders(ctx, name)
	return v, hs, err
}

// CheckGolden checks an image's golden snapshot: it exists and is
// protected; with protect it protects it.
func (s *Service) CheckGolden(ctx context.Context, image string, protect bool) (*Image, error) {
	img, err := s.catalog.Image(ctx, image)
	if err != nil {
		return nil, err
	}
	if s.volumes == nil {
		return nil, fmt.Errorf("check golden of %s: %w", image, ErrNoVolumes)
	}
	if err := s.volumes.Golden(ctx, img.Golden, protect); err != nil {
		return img, err
	}
	if protect {
		s.log.Info("golden snapshot protected", "image", image, "golden", img.Golden.String())
	}
	return img, nil
}
