package boot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Enrollment: which machines bootd boots, and what each boots. Enroll
// (with its volume, when a backend is configured), Assign, SetNetboot,
// Forget, and Discover for machines seen on the wire.

// An EnrollRequest asks for a machine to be enrolled.
type EnrollRequest struct {
	MAC   MAC
	Image string
	// Hostname defaults to DefaultHostname(MAC).
	Hostname string
	// SizeBytes defaults to the image's size.
	SizeBytes int64
}

// Enroll enrolls a machine: it checks the request, creates the node's volume
// when a volume backend is configured, and stores the node with netboot on.
// A discovered machine keeps what was seen of it. Enrolling an enrolled MAC
// fails with ErrExists.
func (s *Service) Enroll(ctx context.Context, req EnrollRequest) (*Node, error) {
	if len(req.MAC) != 6 {
		return nil, invalid("enroll: a MAC address is required")
	}
	img, err := s.catalog.Image(ctx, req.Image)
	if err != nil {
		return nil, err
	}
	if req.Hostname == "" {
		req.Hostname = DefaultHostname(req.MAC)
	}
	if err := ValidHostname(req.Hostname); err != nil {
		return nil, err
	}
	if req.SizeBytes < 0 {
		return nil, invalid("bad size %d: must be positive", req.SizeBytes)
	}
	if req.SizeBytes == 0 {
		req.SizeBytes = img.SizeBytes
	}
	if cur, err := s.store.Node(ctx, req.MAC); err == nil && cur.Enrolled() {
		return nil, fmt.Errorf("%w: %s", ErrExists, req.MAC)
	} else if err != nil && !errors.Is(err, ErrUnknown) {
		return nil, err
	}

	var vol *Volume
	if s.volumes != nil {
		// Records an enroll intent first; every return below must finish it.
		vol, err = s.makeVolume(ctx, VolumeRequest{
			Name: VolumeName(req.MAC), Node: req.MAC, Golden: img.Golden, SizeBytes: req.SizeBytes})
		if err != nil {
			return nil, err
		}
		defer s.inflight.end(req.MAC)
	}
	now := s.now()
	n, err := s.store.Update(ctx, req.MAC, func(cur *Node) (*Node, error) {
		if cur != nil && cur.Enrolled() {
			return nil, fmt.Errorf("%w: %s", ErrExists, req.MAC)
		}
		if cur == nil {
			cur = &Node{MAC: req.MAC, Created: now}
		}
		cur.Hostname, cur.Image, cur.SizeBytes = req.Hostname, img.Name, req.SizeBytes
		cur.State, cur.Netboot, cur.Updated = StateEnrolled, true, now
		cur.Volume = ""
		if vol != nil {
			cur.Volume = vol.Name
		}
		return cur, nil
	})
	if err != nil {
		if vol != nil {
			err = s.undoEnroll(ctx, req.MAC, vol.Name, err)
		}
		return nil, err
	}
	if vol != nil {
		s.step("enroll:node")
		s.endIntent(ctx, req.MAC)
	}
	s.log.Info("node enrolled", "mac", n.MAC.String(), "image", n.Image, "hostname", n.Hostname, "volume", n.Volume)
	return n, nil
}

// Assign changes the image an enrolled node boots. The node's volume is
// kept; Reimage gives it a fresh clone of the new image.
func (s *Service) Assign(ctx context.Context, mac MAC, image string) (*Node, error) {
	img, err := s.catalog.Image(ctx, image)
	if err != nil {
		return nil, err
	}
	n, err := s.updateEnrolled(ctx, mac, func(n *Node) error {
		n.Image = img.Name
		return nil
	})
	if err == nil {
		s.log.Info("image assigned", "mac", n.MAC.String(), "image", n.Image)
	}
	return n, err
}

// SetNetboot turns netboot on or off for an enrolled node. With netboot off,
// bootd gives the node no boot file, so its firmware boots its next device.
func (s *Service) SetNetboot(ctx context.Context, mac MAC, on bool) (*Node, error) {
	n, err := s.updateEnrolled(ctx, mac, func(n *Node) error {
		n.Netboot = on
		return nil
	})
	if err == nil {
		s.log.Info("netboot set", "mac", n.MAC.String(), "netboot", on)
	}
	return n, err
}

// Forget removes a node's record and timeline. A node that still has a
// volume is refused: its volume must be removed (retired) first, so that no
// volume is left without a node.
func (s *Service) Forget(ctx context.Context, mac MAC) error {
	err := s.store.Delete(ctx, mac, func(cur *Node) error {
		if cur == nil {
			return fmt.Errorf("%w: %s", ErrUnknown, mac)
		}
		if cur.Volume != "" {
			return invalid("forget %s: it still has volume %s; retire it first", mac, cur.Volume)
		}
		if s.inflight.has(mac) {
			return fmt.Errorf("forget %s: %w: an operation on it is under way", mac, ErrBusy)
		}
		return nil
	})
	if err == nil {
		s.log.Info("node forgotten", "mac", mac.String())
	}
	return err
}

// A Sighting is what a protocol server saw of a machine.
type Sighting struct {
	MAC         MAC
	Arch        string // firmware class
	VendorClass string
	Addr        net.IP // may be nil
}

// Discover records a machine seen on the wire: an unknown MAC becomes a
// discovered node; a known one has its last-seen details refreshed. New
// discovered nodes are bounded (discovered.go): making room for one forgets
// the discovered nodes seen longest ago, and a new machine seen while new
// ones come faster than the rate allows is not recorded: Discover returns
// nil and no error, and counts it in DiscoveryStats.Refused (a refusal is
// the bound working, not the caller's failure).
func (s *Service) Discover(ctx context.Context, sg Sighting) (*Node, error) {
	if len(sg.MAC) != 6 {
		return nil, invalid("discover: a MAC address is required")
	}
	now := s.now()
	refresh := func(cur *Node) {
		cur.LastSeen = now
		if sg.Arch != "" {
			cur.Arch = sg.Arch
		}
		if sg.VendorClass != "" {
			cur.VendorClass = sg.VendorClass
		}
		if sg.Addr != nil && !sg.Addr.IsUnspecified() {
			cur.Addr = sg.Addr.String()
		}
	}
	// A known machine is only refreshed; creating one is discoverNew's alone.
	n, err := s.refreshSeen(ctx, sg.MAC, refresh)
	if !errors.Is(err, errGone) {
		return n, err
	}
	n, created, err := s.discoverNew(ctx, sg, now, refresh)
	if created {
		s.log.Info("machine discovered", "mac", n.MAC.String(), "arch", n.Arch, "vendor_class", n.VendorClass)
	}
	return n, err
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
	if err := s.refuseOwned(ctx, req.Name, req.Node); err != nil {
		return nil, fmt.Errorf("enroll %s: %w", req.Node, err)
	}
	_, err := s.volumes.Volume(ctx, req.Name)
	switch {
	case err == nil:
		// Another request, perhaps at another instance, may be enrolling it:
		// its intent goes only after its node is stored, so look in this order.
		if ins, ierr := s.store.Intents(ctx); ierr == nil {
			for _, in := range ins {
				if in.MAC.String() == req.Node.String() {
					return nil, fmt.Errorf("enroll %s: %w: %s of it is under way since %s (another request)",
						req.Node, ErrBusy, in.Op, in.Started.Format(time.DateTime))
				}
			}
		}
		if n, nerr := s.store.Node(ctx, req.Node); nerr == nil && n.Enrolled() && n.Volume == req.Name {
			return nil, fmt.Errorf("enroll %s: %w meanwhile, by another request", req.Node, ErrExists)
		}
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
	if errors.Is(err, ErrExists) {
		// The root appeared between the look above and this create: another
		// request, perhaps at another instance, made it. The volume is that
		// request's, not this one's to undo (removing it lost the winner's
		// volume: TestConflictingEnrollments), and so is the intent under
		// this MAC while that request runs; it deletes it once its node is
		// stored. An intent found after that is this request's own.
		if n, nerr := s.store.Node(ctx, req.Node); nerr == nil && n.Enrolled() && n.Volume == req.Name {
			if derr := s.store.DeleteIntent(ctx, req.Node); derr != nil {
				s.log.Warn("enroll: intent not deleted", "mac", req.Node.String(), "err", derr)
			}
			return nil, fmt.Errorf("enroll %s: %w meanwhile, by another request", req.Node, ErrExists)
		}
		return nil, fmt.Errorf("enroll %s: %w: another request made its volume meanwhile", req.Node, ErrBusy)
	}
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
