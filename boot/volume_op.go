package boot

import (
	"context"
	"fmt"
)

// The operations on a node's volume, and the check they share: the node is
// enrolled, bootd has a volume backend, and the node has a volume.

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
