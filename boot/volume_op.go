package boot

import (
	"context"
	"fmt"
)

// The operations on a node's volume, and the check they share: the node is
// enrolled, bootd has a volume backend, and the node has a volume.

// A volumeOp is an operation on a node's volume. Its String is the verb its
// errors start with ("reimage 52:54:00:12:34:56: ...").
type volumeOp int

// The operations on a node's volume.
const (
	opReimage volumeOp = iota + 1
	opRetire
	opSnapshot
	opListSnapshots
	opRollback
	opUnfence
	opKey
	opMapTarget
	opDescribe
)

var volumeOpVerbs = [...]string{
	opReimage:       "reimage",
	opRetire:        "retire",
	opSnapshot:      "snapshot",
	opListSnapshots: "list snapshots of",
	opRollback:      "roll back",
	opUnfence:       "unfence",
	opKey:           "key of",
	opMapTarget:     "map target of",
	opDescribe:      "describe the volume of",
}

func (o volumeOp) String() string {
	if o <= 0 || int(o) >= len(volumeOpVerbs) {
		return fmt.Sprintf("volumeOp(%d)", int(o))
	}
	return volumeOpVerbs[o]
}

// makesVolume reports whether op gives a node without a volume its first
// one (a node enrolled before a backend was configured), rather than
// failing for want of one.
func (o volumeOp) makesVolume() bool { return o == opReimage }

// withVolume returns the enrolled node for mac and its volume's name, or an
// error saying why op cannot be done on it.
func (s *Service) withVolume(ctx context.Context, mac MAC, op volumeOp) (*Node, string, error) {
	n, err := s.enrolled(ctx, mac)
	if err != nil {
		return nil, "", err
	}
	if s.volumes == nil {
		return nil, "", fmt.Errorf("%s %s: %w", op, mac, ErrNoVolumes)
	}
	if n.Volume == "" {
		if op.makesVolume() {
			name := VolumeName(mac)
			if err := s.refuseOwned(ctx, name, mac); err != nil {
				return nil, "", fmt.Errorf("%s %s: %w", op, mac, err)
			}
			return n, name, nil
		}
		return nil, "", fmt.Errorf("%s %s: %w: the node has no volume (bootd reconcile --repair makes one)", op, mac, ErrNotFound)
	}
	return n, n.Volume, nil
}
