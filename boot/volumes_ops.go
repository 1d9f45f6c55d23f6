package boot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
)

// Crash safety. Enroll, Reimage and Retire change a node and its volume in
// several steps. Each first stores an Intent, then does its steps, then
// stores the node and deletes the intent. After a crash, Recover (at start)
// undoes an interrupted enroll and finishes an interrupted reimage or
// retire. The steps call the Config.Checkpoint hook by these names, in order:
//
//	enroll:  enroll:intent, (the backend's steps), enroll:node
//	reimage: reimage:intent, reimage:discarded, (the backend's steps), reimage:node
//	retire:  retire:intent, (the backend's steps), retire:node

// inflight is the set of nodes with an operation running in this process.
// It keeps two operations off one node, and keeps Reconcile away from
// intents whose operation is still running.
type inflight struct {
	mu   sync.Mutex
	macs map[string]bool
}

// begin marks mac busy, or fails with ErrBusy when it is already.
func (f *inflight) begin(mac MAC) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.macs[mac.String()] {
		return fmt.Errorf("%w: another operation on %s is under way", ErrBusy, mac)
	}
	if f.macs == nil {
		f.macs = map[string]bool{}
	}
	f.macs[mac.String()] = true
	return nil
}

func (f *inflight) end(mac MAC) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.macs, mac.String())
}

func (f *inflight) has(mac MAC) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.macs[mac.String()]
}

// step calls the checkpoint hook.
func (s *Service) step(name string) {
	if s.checkpoint != nil {
		s.checkpoint(name)
	}
}

// endIntent deletes mac's intent once its operation is done. A failure is
// only logged: the node is stored already, and Recover sees that the
// operation finished.
func (s *Service) endIntent(ctx context.Context, mac MAC) {
	if err := s.store.DeleteIntent(ctx, mac); err != nil {
		s.log.Warn("operation done but its intent stays until the next reconcile", "mac", mac.String(), "err", err)
	}
}

// makeVolume makes a node's volume for Enroll: it checks the golden
// snapshot and that no volume is left over under the name, stores an enroll
// intent and creates the volume. On success mac is marked in flight and has
// an intent: the caller stores the node, then ends both.
func (s *Service) makeVolume(ctx context.Context, req VolumeRequest) (*Volume, error) {
	if err := s.volumes.Golden(ctx, req.Golden, false); err != nil {
		return nil, fmt.Errorf("enroll %s: %w", req.Node, err)
	}
	if err := s.inflight.begin(req.Node); err != nil {
		return nil, err
	}
	vol, err := s.createVolume(ctx, req)
	if err != nil {
		s.inflight.end(req.Node)
		return nil, err
	}
	return vol, nil
}

func (s *Service) createVolume(ctx context.Context, req VolumeRequest) (*Volume, error) {
	_, err := s.volumes.Volume(ctx, req.Name)
	switch {
	case err == nil:
		return nil, fmt.Errorf("enroll %s: %w: volume %s is left over from an earlier node; "+
			"bootd reconcile --repair removes it", req.Node, ErrExists, req.Name)
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("enroll %s: %w", req.Node, err)
	}
	in := Intent{Op: IntentEnroll, MAC: req.Node, Volume: req, Started: s.now()}
	if err := s.store.PutIntent(ctx, in); err != nil {
		return nil, fmt.Errorf("enroll %s: %w", req.Node, err)
	}
	s.step("enroll:intent")
	vol, err := s.volumes.Create(ctx, req)
	if err != nil {
		return nil, s.undoEnroll(ctx, req.Node, req.Name, fmt.Errorf("create volume for %s: %w", req.Node, err))
	}
	s.log.Info("volume created", "mac", req.Node.String(), "volume", vol.Name, "parent", vol.Parent, "size", vol.SizeBytes)
	return vol, nil
}

// undoEnroll removes what an enroll made and deletes its intent; it returns
// cause, with the removal's failure added (the intent then stays for the
// next reconcile).
func (s *Service) undoEnroll(ctx context.Context, mac MAC, name string, cause error) error {
	err := s.volumes.Remove(ctx, name)
	if err == nil {
		err = s.store.DeleteIntent(ctx, mac)
	}
	switch {
	case err == nil:
		return cause
	case cause == nil:
		return fmt.Errorf("undo enroll of %s: %w", mac, err)
	default:
		return fmt.Errorf("%w (and undoing it failed: %v; bootd reconcile --repair finishes it)", cause, err)
	}
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
	n, name, err := s.withVolume(ctx, mac, "reimage")
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
	if err := s.refuseHeld(ctx, mac, name, "reimage"); err != nil {
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

// Retire removes a node's volume, its snapshots, its namespace and its Ceph
// user, and marks the node retired with netboot off (Forget then removes its
// record). The node must be off its volume.
func (s *Service) Retire(ctx context.Context, mac MAC) (*Node, error) {
	n, err := s.store.Node(ctx, mac)
	if err != nil {
		return nil, err
	}
	if !n.Enrolled() && n.Volume == "" {
		return nil, invalid("retire %s: it is %s, not enrolled", mac, n.State)
	}
	if n.Volume != "" && s.volumes == nil {
		return nil, fmt.Errorf("retire %s: %w: cannot remove volume %s", mac, ErrNoVolumes, n.Volume)
	}
	if err := s.inflight.begin(mac); err != nil {
		return nil, err
	}
	defer s.inflight.end(mac)
	in := Intent{Op: IntentRetire, MAC: mac, Volume: VolumeRequest{Name: n.Volume, Node: mac}, Started: s.now()}
	if n.Volume != "" {
		if err := s.refuseHeld(ctx, mac, n.Volume, "retire"); err != nil {
			return nil, err
		}
		if err := s.store.PutIntent(ctx, in); err != nil {
			return nil, fmt.Errorf("retire %s: %w", mac, err)
		}
		s.step("retire:intent")
	}
	n, err = s.finishRetire(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("retire %s: %w (bootd reconcile --repair finishes it)", mac, err)
	}
	s.log.Info("node retired", "mac", mac.String(), "volume", in.Volume.Name)
	return n, nil
}

// finishRetire removes the volume (all of it, whatever is left), marks the
// node retired and deletes the intent. Recover calls it too.
func (s *Service) finishRetire(ctx context.Context, in Intent) (*Node, error) {
	if in.Volume.Name != "" {
		if err := s.volumes.Remove(ctx, in.Volume.Name); err != nil {
			return nil, fmt.Errorf("remove volume %s: %w", in.Volume.Name, err)
		}
	}
	n, err := s.store.Update(ctx, in.MAC, func(cur *Node) (*Node, error) {
		if cur == nil {
			return nil, nil
		}
		cur.State, cur.Volume, cur.Netboot, cur.Updated = StateRetired, "", false, s.now()
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	s.step("retire:node")
	if in.Volume.Name != "" {
		s.endIntent(ctx, in.MAC)
	}
	return n, nil
}

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
	_, vol, err := s.withVolume(ctx, mac, "snapshot")
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
	_, vol, err := s.withVolume(ctx, mac, "list snapshots of")
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
	n, vol, err := s.withVolume(ctx, mac, "roll back")
	if err != nil {
		return nil, err
	}
	if err := s.inflight.begin(mac); err != nil {
		return nil, err
	}
	defer s.inflight.end(mac)
	if err := s.refuseHeld(ctx, mac, vol, "roll back"); err != nil {
		return nil, err
	}
	replaced := "replaced-" + s.now().UTC().Format("20060102-150405")
	if err := s.volumes.Rollback(ctx, vol, snap, replaced); err != nil {
		return nil, fmt.Errorf("roll back %s to %s: %w", mac, snap, err)
	}
	s.log.Info("volume rolled back", "mac", mac.String(), "volume", vol, "snapshot", snap)
	return n, nil
}

// withVolume returns the enrolled node for mac and its volume's name, or an
// error saying why op cannot be done on it.
func (s *Service) withVolume(ctx context.Context, mac MAC, op string) (*Node, string, error) {
	n, err := s.enrolled(ctx, mac)
	if err != nil {
		return nil, "", err
	}
	if s.volumes == nil {
		return nil, "", fmt.Errorf("%s %s: %w", op, mac, ErrNoVolumes)
	}
	if n.Volume == "" {
		if op == "reimage" { // a node enrolled before a backend was configured gets its first volume
			return n, VolumeName(mac), nil
		}
		return nil, "", fmt.Errorf("%s %s: %w: the node has no volume (bootd reconcile --repair makes one)", op, mac, ErrNotFound)
	}
	return n, n.Volume, nil
}
