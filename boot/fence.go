package boot

import (
	"context"
	"errors"
	"fmt"
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

// CheckNodeKey checks that the Ceph key of a node's own user can be had
// (for bootd explain); the key itself stays inside the Service.
func (s *Service) CheckNodeKey(ctx context.Context, mac MAC) error {
	_, vol, err := s.withVolume(ctx, mac, "key of")
	if err != nil {
		return err
	}
	_, err = s.volumes.Key(ctx, vol)
	return err
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
