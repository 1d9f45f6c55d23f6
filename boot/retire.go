package boot

import (
	"context"
	"errors"
	"fmt"
)

// Retire: a node's volume and Ceph identity are removed, under an intent
// (intent.go); Forget (enroll.go) then removes its record.

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
		if err := s.refuseHeld(ctx, mac, n.Volume, opRetire); err != nil {
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
			return nil, errNodeGone
		}
		cur.State, cur.Volume, cur.Netboot, cur.Updated = StateRetired, "", false, s.now()
		return cur, nil
	})
	switch {
	case errors.Is(err, errNodeGone): // forgotten meanwhile: nothing to mark
		n = nil
	case err != nil:
		return nil, err
	}
	s.step("retire:node")
	if in.Volume.Name != "" {
		s.endIntent(ctx, in.MAC)
	}
	return n, nil
}

// errNodeGone: the node a retire marks has no record (any more).
var errNodeGone = errors.New("no node to mark retired")
