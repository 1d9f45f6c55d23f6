package boot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
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
