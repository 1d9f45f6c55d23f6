package boot

import (
	"context"
	"errors"
	"fmt"
)

// Fencing: a volume that a client holds is not reimaged, retired or rolled
// back (refuseHeld), and its key is not released to another machine
// (keyrelease.go); the operator's override is Unfence.

// refuseHeld fails with ErrBusy when any client has volume vol open.
func (s *Service) refuseHeld(ctx context.Context, mac MAC, vol string, op volumeOp) error {
	hs, err := s.volumes.Holders(ctx, vol)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("%s %s: %w", op, mac, err)
	}
	if len(hs) > 0 {
		return fmt.Errorf("%s %s: %w: volume %s is in use by %s; power the node off first",
			op, mac, ErrBusy, vol, HolderList(hs))
	}
	return nil
}

// Unfence is the operator's override of a fence: it blocklists every client
// holding a node's volume and breaks its lock, so the node can boot. Only
// use it when the holder is dead or must be cut off. It returns the clients
// it released.
func (s *Service) Unfence(ctx context.Context, mac MAC) ([]Holder, error) {
	_, vol, err := s.withVolume(ctx, mac, opUnfence)
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
	s.log.Warn("volume unfenced by the operator", "mac", mac.String(), "volume", vol, "released", HolderList(hs))
	return hs, nil
}
