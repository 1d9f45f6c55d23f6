package boot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Replace: a machine died and another takes its place. The node (hostname,
// image, volume with its snapshots) moves to the new machine's MAC under an
// intent (intent.go), the volume's Ceph key is made anew, and the old MAC
// is retired: its boots under way end and it gets no key any more.

// Replace moves the enrolled node old to the machine new, which must not be
// enrolled (a discovered machine is the usual case): the node record under
// new gets old's hostname, image, size, netboot setting and volume; the
// volume's current holders (the dead machine, if it still clings) are
// cut off; the node user's Ceph key is replaced; old's boot session is
// dropped; and old is marked retired, replaced by new, with its timeline
// kept. Both timelines say what happened. A crash halfway is finished by
// Recover.
func (s *Service) Replace(ctx context.Context, old, new MAC) (*Node, error) {
	if len(old) != 6 || len(new) != 6 {
		return nil, invalid("replace: two MAC addresses are required")
	}
	if old.String() == new.String() {
		return nil, invalid("replace %s: the new machine's MAC is the same", old)
	}
	n, err := s.enrolled(ctx, old)
	if err != nil {
		return nil, fmt.Errorf("replace: %w", err)
	}
	if cur, err := s.store.Node(ctx, new); err == nil && cur.Enrolled() {
		return nil, fmt.Errorf("replace %s: %w: %s is enrolled already (retire and forget it first)", old, ErrExists, new)
	} else if err != nil && !errors.Is(err, ErrUnknown) {
		return nil, err
	}
	if n.Volume != "" && s.volumes == nil {
		return nil, fmt.Errorf("replace %s: %w: cannot move volume %s", old, ErrNoVolumes, n.Volume)
	}
	in := Intent{Op: IntentReplace, MAC: old, To: new, Started: s.now(),
		Volume: VolumeRequest{Name: n.Volume, Node: old}}
	if n.Volume != "" {
		img, err := s.catalog.Image(ctx, n.Image)
		if err != nil {
			return nil, fmt.Errorf("replace %s: %w", old, err)
		}
		in.Volume.Golden = img.Golden
	}
	if err := s.inflight.begin(old); err != nil {
		return nil, err
	}
	defer s.inflight.end(old)
	if err := s.inflight.begin(new); err != nil {
		return nil, err
	}
	defer s.inflight.end(new)
	if err := s.store.PutIntent(ctx, in); err != nil {
		return nil, fmt.Errorf("replace %s: %w", old, err)
	}
	s.step("replace:intent")
	moved, err := s.finishReplace(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("replace %s by %s: %w (bootd reconcile --repair finishes it)", old, new, err)
	}
	s.log.Info("node replaced", "mac", old.String(), "by", new.String(), "volume", moved.Volume, "hostname", moved.Hostname)
	return moved, nil
}

// finishReplace does every step of a replace; each may have been done
// before (Recover calls it after a crash), and doing it again is harmless.
func (s *Service) finishReplace(ctx context.Context, in Intent) (*Node, error) {
	old, new, vol := in.MAC, in.To, in.Volume.Name
	s.dropSession(old)
	oldNode, err := s.store.Node(ctx, old)
	switch {
	case errors.Is(err, ErrUnknown): // forgotten since: new has it all already
		oldNode = nil
	case err != nil:
		return nil, err
	}
	if vol != "" {
		if err := s.cutOff(ctx, vol); err != nil {
			return nil, err
		}
		if err := s.volumes.Rekey(ctx, vol, in.Volume.Golden); err != nil {
			return nil, fmt.Errorf("new Ceph key for %s: %w", vol, err)
		}
		s.step("replace:rekeyed")
	}
	now := s.now()
	moved, err := s.store.Update(ctx, new, func(cur *Node) (*Node, error) {
		if cur != nil && cur.Enrolled() {
			if cur.Volume == vol && cur.Replaces.String() == old.String() {
				return cur, nil // stored before a crash
			}
			return nil, fmt.Errorf("%w: %s is enrolled already", ErrExists, new)
		}
		if oldNode == nil || !oldNode.Enrolled() {
			return nil, fmt.Errorf("%w: %s has no enrolled node to move", ErrUnknown, old)
		}
		if cur == nil {
			cur = &Node{MAC: new, Created: now}
		}
		cur.Hostname, cur.Image, cur.SizeBytes, cur.Volume = oldNode.Hostname, oldNode.Image, oldNode.SizeBytes, vol
		cur.State, cur.Netboot, cur.ArmedUntil, cur.Updated = StateEnrolled, oldNode.Netboot, oldNode.ArmedUntil, now
		cur.Replaces, cur.ReplacedBy = old, nil
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	s.step("replace:moved")
	_, err = s.store.Update(ctx, old, func(cur *Node) (*Node, error) {
		if cur == nil {
			return nil, errNodeGone
		}
		cur.State, cur.Volume, cur.Netboot, cur.ArmedUntil, cur.Updated = StateRetired, "", false, time.Time{}, now
		cur.ReplacedBy = new
		return cur, nil
	})
	if err != nil && !errors.Is(err, errNodeGone) {
		return nil, err
	}
	s.step("replace:retired")
	s.endIntent(ctx, old)
	what := "hostname " + moved.Hostname
	if vol != "" {
		what += ", volume " + vol + " with its snapshots; the volume's Ceph key was made anew"
	}
	s.note(ctx, old, fmt.Sprintf("replaced by %s: %s moved there", new, what))
	s.note(ctx, new, fmt.Sprintf("replaces %s: %s", old, what))
	return moved, nil
}

// cutOff blocklists every client holding volume vol and breaks its lock:
// the machine being replaced is declared dead, and must not write to the
// volume its replacement is about to map.
func (s *Service) cutOff(ctx context.Context, vol string) error {
	hs, err := s.volumes.Holders(ctx, vol)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("holders of %s: %w", vol, err)
	}
	if len(hs) == 0 {
		return nil
	}
	if err := s.volumes.Release(ctx, vol, hs); err != nil {
		return fmt.Errorf("cut %s off volume %s: %w", HolderList(hs), vol, err)
	}
	s.log.Warn("replace: clients holding the volume cut off", "volume", vol, "holders", HolderList(hs))
	return nil
}

// note writes an operator's change on mac's timeline; a failure is logged.
func (s *Service) note(ctx context.Context, mac MAC, msg string) {
	if _, err := s.Record(ctx, mac, Event{Stage: StageWarning, Detail: msg}); err != nil {
		s.log.Warn("timeline note not written", "mac", mac.String(), "err", err)
	}
}

// volumeOwner returns the node other than mac whose volume is name, nil
// when there is none: a volume moved by a replace keeps the old MAC's name.
func (s *Service) volumeOwner(ctx context.Context, name string, mac MAC) (*Node, error) {
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.Volume == name && n.MAC.String() != mac.String() {
			return n, nil
		}
	}
	return nil, nil
}

// refuseOwned fails, wrapping ErrExists, when volume name belongs to a
// node other than mac: a MAC whose machine was replaced cannot make its
// volume again while the replacement boots from it.
func (s *Service) refuseOwned(ctx context.Context, name string, mac MAC) error {
	owner, err := s.volumeOwner(ctx, name, mac)
	if err != nil {
		return err
	}
	if owner != nil {
		return fmt.Errorf("%w: volume %s belongs to %s, which replaced %s; retire %s to free it",
			ErrExists, name, owner.MAC, mac, owner.MAC)
	}
	return nil
}
