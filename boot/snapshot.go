package boot

import (
	"context"
	"fmt"
	"regexp"
)

// Snapshots of a node's volume, and rollback to one.

var snapshotNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidSnapshotName checks a snapshot name: 1 to 64 letters, digits, dots,
// hyphens and underscores, starting with a letter or digit.
func ValidSnapshotName(name string) error {
	if !snapshotNameRE.MatchString(name) {
		return invalid("bad snapshot name %q: want 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit", name)
	}
	return nil
}

// Snapshot saves the state of a node's volume as snapshot name (a default
// name from the clock when empty).
func (s *Service) Snapshot(ctx context.Context, mac MAC, name string) (*Snapshot, error) {
	if name == "" {
		name = "snap-" + s.now().UTC().Format("20060102-150405")
	}
	if err := ValidSnapshotName(name); err != nil {
		return nil, err
	}
	_, vol, err := s.withVolume(ctx, mac, opSnapshot)
	if err != nil {
		return nil, err
	}
	if err := s.inflight.begin(mac); err != nil {
		return nil, err
	}
	defer s.inflight.end(mac)
	if err := s.snapshotFree(ctx, vol, name); err != nil {
		return nil, err
	}
	snap, err := s.volumes.Snapshot(ctx, vol, name)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", mac, err)
	}
	s.log.Info("snapshot taken", "mac", mac.String(), "volume", vol, "snapshot", name)
	return snap, nil
}

// snapshotFree fails with ErrExists when volume vol has a snapshot or kept volume called name.
func (s *Service) snapshotFree(ctx context.Context, vol, name string) error {
	snaps, err := s.volumes.Snapshots(ctx, vol)
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		if sn.Name == name {
			return fmt.Errorf("%w: volume %s already has a snapshot called %s", ErrExists, vol, name)
		}
	}
	return nil
}

// Snapshots lists a node's snapshots and kept volumes, oldest first.
func (s *Service) Snapshots(ctx context.Context, mac MAC) ([]Snapshot, error) {
	_, vol, err := s.withVolume(ctx, mac, opListSnapshots)
	if err != nil {
		return nil, err
	}
	return s.volumes.Snapshots(ctx, vol)
}

// Rollback returns a node's volume to snapshot snap, discarding what was
// written since; for a kept volume the current root is kept in its turn, as
// "replaced-<time>". The node must be off its volume.
func (s *Service) Rollback(ctx context.Context, mac MAC, snap string) (*Node, error) {
	if err := ValidSnapshotName(snap); err != nil {
		return nil, err
	}
	n, vol, err := s.withVolume(ctx, mac, opRollback)
	if err != nil {
		return nil, err
	}
	if err := s.inflight.begin(mac); err != nil {
		return nil, err
	}
	defer s.inflight.end(mac)
	if err := s.refuseHeld(ctx, mac, vol, opRollback); err != nil {
		return nil, err
	}
	replaced := "replaced-" + s.now().UTC().Format("20060102-150405")
	if err := s.volumes.Rollback(ctx, vol, snap, replaced); err != nil {
		return nil, fmt.Errorf("roll back %s to %s: %w", mac, snap, err)
	}
	s.log.Info("volume rolled back", "mac", mac.String(), "volume", vol, "snapshot", snap)
	return n, nil
}
