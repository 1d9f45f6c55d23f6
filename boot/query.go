package boot

import (
	"context"
	"errors"
	"fmt"
)

// Reading: what a machine boots now (Resolve), and the nodes, timelines
// and images as they are. Nothing here changes anything.

// A Plan is what a machine boots now.
type Plan struct {
	Node *Node
	// Image is the node's image; nil when the catalog no longer has it, and
	// then Problem says so.
	Image *Image
	// Netboot is false when the node must boot its next device instead.
	Netboot bool
	// Problem, when not empty, is why the node cannot boot; it is shown on its console.
	Problem string
	// Wait, when not empty, is why the node must wait before it boots (Ceph
	// cannot take it now: health.go); its script sleeps and asks again.
	Wait string
}

// Resolve returns the plan for mac, or an error wrapping ErrUnknown when mac
// is not enrolled. Any other error is a failure, never "unknown". It has no
// side effects and is called concurrently, several times per boot.
func (s *Service) Resolve(ctx context.Context, mac MAC) (*Plan, error) {
	n, err := s.enrolled(ctx, mac)
	if err != nil {
		return nil, err
	}
	p := &Plan{Node: n, Netboot: n.Netboot, Wait: s.waitFor(n)}
	img, err := s.catalog.Image(ctx, n.Image)
	switch {
	case errors.Is(err, ErrUnknownImage):
		p.Problem = fmt.Sprintf("image %q is not in bootd's catalog", n.Image)
	case err != nil:
		return nil, err
	default:
		p.Image = img
	}
	return p, nil
}

// Node returns the node for mac (enrolled, discovered or retired).
func (s *Service) Node(ctx context.Context, mac MAC) (*Node, error) { return s.store.Node(ctx, mac) }

// Nodes returns the nodes in the given states, sorted by MAC; no states means all.
func (s *Service) Nodes(ctx context.Context, states ...State) ([]*Node, error) {
	all, err := s.store.Nodes(ctx)
	if err != nil || len(states) == 0 {
		return all, err
	}
	var out []*Node
	for _, n := range all {
		for _, st := range states {
			if n.State == st {
				out = append(out, n)
				break
			}
		}
	}
	return out, nil
}

// Timeline returns the kept boots of a known node, oldest first.
func (s *Service) Timeline(ctx context.Context, mac MAC) ([]Boot, error) {
	if _, err := s.store.Node(ctx, mac); err != nil {
		return nil, err
	}
	return s.store.Timeline(ctx, mac)
}

// Images returns the catalog's images.
func (s *Service) Images(ctx context.Context) ([]*Image, error) { return s.catalog.Images(ctx) }

// Image returns one image of the catalog.
func (s *Service) Image(ctx context.Context, name string) (*Image, error) {
	return s.catalog.Image(ctx, name)
}
