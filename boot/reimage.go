package boot

import (
	"context"
	"errors"
	"fmt"
)

// Reimage: a fresh clone of the node's image replaces its volume, under an
// intent (intent.go) so that a crash halfway is finished at the next start.

// Reimage gives an enrolled node a fresh clone of its image, deleting the
// old volume and its snapshots (ReimageKeep keeps it). It needs a volume
// backend, and the node must be off its volume.
func (s *Service) Reimage(ctx context.Context, mac MAC) (*Node, error) {
	return s.reimage(ctx, mac, "")
}

// ReimageKeep is Reimage keeping the old volume, whole, as a kept volume
// called keep (a default name from the clock when empty), listed by
// Snapshots: Rollback to it swaps it back in.
func (s *Service) ReimageKeep(ctx context.Context, mac MAC, keep string) (*Node, error) {
	if keep == "" {
		keep = "reimage-" + s.now().UTC().Format("20060102-150405")
	}
	if err := ValidSnapshotName(keep); err != nil {
		return nil, err
	}
	return s.reimage(ctx, mac, keep)
}

func (s *Service) reimage(ctx context.Context, mac MAC, keep string) (*Node, error) {
	n, name, err := s.withVolume(ctx, mac, opReimage)
	if err != nil {
		return nil, err
	}
	img, err := s.catalog.Image(ctx, n.Image)
	if err != nil {
		return nil, err
	}
	if err := s.volumes.Golden(ctx, img.Golden, false); err != nil {
		return nil, fmt.Errorf("reimage %s: %w", mac, err)
	}
	if err := s.inflight.begin(mac); err != nil {
		return nil, err
	}
	defer s.inflight.end(mac)
	if err := s.refuseHeld(ctx, mac, name, opReimage); err != nil {
		return nil, err
	}
	in := Intent{Op: IntentReimage, MAC: mac, Keep: keep, Started: s.now(),
		Volume: VolumeRequest{Name: name, Node: mac, Golden: img.Golden, SizeBytes: n.SizeBytes}}
	switch old, err := s.volumes.Volume(ctx, name); {
	case err == nil:
		in.OldID = old.ID
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("reimage %s: %w", mac, err)
	}
	if keep != "" {
		if err := s.snapshotFree(ctx, name, keep); err != nil {
			return nil, err
		}
	}
	if err := s.store.PutIntent(ctx, in); err != nil {
		return nil, fmt.Errorf("reimage %s: %w", mac, err)
	}
	s.step("reimage:intent")
	n, err = s.finishReimage(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("reimage %s: %w (bootd reconcile --repair finishes it)", mac, err)
	}
	s.log.Info("node reimaged", "mac", mac.String(), "image", n.Image, "volume", n.Volume, "kept", keep)
	return n, nil
}

// finishReimage does what is left of a reimage: it takes the old root out
// of use (if it is still there), creates the fresh root (if it is not there
// yet), stores the node and deletes the intent. It is also how Recover
// finishes an interrupted reimage.
func (s *Service) finishReimage(ctx context.Context, in Intent) (*Node, error) {
	name := in.Volume.Name
	cur, err := s.volumes.Volume(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err == nil && in.OldID != "" && cur.ID == in.OldID {
		if err := s.volumes.Discard(ctx, name, in.Keep); err != nil {
			return nil, fmt.Errorf("take old volume out of use: %w", err)
		}
		s.step("reimage:discarded")
		cur = nil
	}
	if cur == nil {
		if _, err := s.volumes.Create(ctx, in.Volume); err != nil {
			return nil, fmt.Errorf("create fresh volume: %w", err)
		}
	}
	n, err := s.updateEnrolled(ctx, in.MAC, func(n *Node) error {
		n.Volume, n.State = name, StateEnrolled
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.step("reimage:node")
	s.endIntent(ctx, in.MAC)
	return n, nil
}
