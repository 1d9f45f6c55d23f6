package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures a Service.
type Config struct {
	Store   Store   // required
	Catalog Catalog // required
	// Volumes is the volume backend; nil means bootd runs without one: nodes
	// are enrolled with no volume and nothing pretends a disk exists.
	Volumes Volumes
	// Logger receives state changes; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Timeline groups events into boots; the zero value means DefaultTimelinePolicy.
	Timeline TimelinePolicy
	// Checkpoint, when set, is called with the name of each step of the
	// operations that record intents (see checkpoint names in volumes_ops.go).
	// It exists for crash tests; nil in production.
	Checkpoint func(step string)
	// KeyRelease is the rule for releasing nodes' Ceph keys (session.go);
	// empty means KeyReleaseLease.
	KeyRelease KeyRelease
	// BootWindow is how long after bootd's DHCP saw a machine's boot its key
	// may be released; 0 means DefaultBootWindow.
	BootWindow time.Duration
	// Leases says that bootd's DHCP server reports what it sees (SawLease).
	// Then a fetch event is recorded on a node's timeline only when it comes
	// from an address of the node's current boot. Without it, nothing binds
	// a boot to an address: fetch events are recorded from any address, and
	// only the armed rule can release a key.
	Leases bool
}

// Service is the one place where nodes change. The CLI (through the API),
// the dashboard and the protocol servers all call it. It is safe for
// concurrent use.
type Service struct {
	store    Store
	catalog  Catalog
	volumes  Volumes
	log      *slog.Logger
	now      func() time.Time
	timeline TimelinePolicy
	hub      hub // subscriptions and change log (watch.go)
	// checkpoint and inflight: see volumes_ops.go.
	checkpoint func(step string)
	inflight   inflight
	rec        recorder // the timeline writer (recorder.go)
	// The trust chain (session.go, keyrelease.go).
	keyRelease KeyRelease
	window     time.Duration
	leases     bool
	sess       sessions
	trust      TrustCounters
}

// NewService returns a Service for cfg.
func NewService(cfg Config) (s *Service, err error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("boot: Config needs a Store and a Catalog")
	}
	s = &Service{store: cfg.Store, catalog: cfg.Catalog, volumes: cfg.Volumes,
		log: cfg.Logger, now: cfg.Now, timeline: cfg.Timeline, checkpoint: cfg.Checkpoint}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeline.NewBoot == nil {
		s.timeline = DefaultTimelinePolicy()
	}
	s.store = watchedStore{Store: s.store, hub: &s.hub} // publishes every change (watch.go)
	if s.keyRelease, err = ParseKeyRelease(string(cfg.KeyRelease)); err != nil {
		return nil, err
	}
	s.window, s.leases = cfg.BootWindow, cfg.Leases
	if s.window <= 0 {
		s.window = DefaultBootWindow
	}
	s.sess.m = map[string]*session{}
	s.rec.init()
	return s, nil
}

// HasVolumes reports whether a volume backend is configured.
func (s *Service) HasVolumes() bool { return s.volumes != nil }

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

// Reimage gives an enrolled node a fresh clone of its image, deleting the
// old volume and its snapshots (ReimageKeep keeps it). It needs a volume
// backend, and the node must be off its volume.
func (s *Service) Reimage(ctx context.Context, mac MAC) (*Node, error) {
	return s.reimage(ctx, mac, "")
}

// Forget removes a node's record and timeline. A node that still has a
// volume is refused: its volume must be removed (retired) first, so that no
// volume is left without a node.
func (s *Service) Forget(ctx context.Context, mac MAC) error {
	_, err := s.store.Update(ctx, mac, func(cur *Node) (*Node, error) {
		if cur == nil {
			return nil, fmt.Errorf("%w: %s", ErrUnknown, mac)
		}
		if cur.Volume != "" {
			return nil, invalid("forget %s: it still has volume %s; retire it first", mac, cur.Volume)
		}
		if s.inflight.has(mac) {
			return nil, fmt.Errorf("forget %s: %w: an operation on it is under way", mac, ErrBusy)
		}
		return nil, nil
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
// discovered node; a known one has its last-seen details refreshed.
func (s *Service) Discover(ctx context.Context, sg Sighting) (*Node, error) {
	if len(sg.MAC) != 6 {
		return nil, invalid("discover: a MAC address is required")
	}
	now := s.now()
	created := false
	n, err := s.store.Update(ctx, sg.MAC, func(cur *Node) (*Node, error) {
		created = cur == nil
		if cur == nil {
			cur = &Node{MAC: sg.MAC, State: StateDiscovered, Created: now, Updated: now}
		}
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
		return cur, nil
	})
	if err == nil && created {
		s.log.Info("machine discovered", "mac", n.MAC.String(), "arch", n.Arch, "vendor_class", n.VendorClass)
	}
	return n, err
}

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
}

// Resolve returns the plan for mac, or an error wrapping ErrUnknown when mac
// is not enrolled. Any other error is a failure, never "unknown". It has no
// side effects and is called concurrently, several times per boot.
func (s *Service) Resolve(ctx context.Context, mac MAC) (*Plan, error) {
	n, err := s.enrolled(ctx, mac)
	if err != nil {
		return nil, err
	}
	p := &Plan{Node: n, Netboot: n.Netboot}
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

func (s *Service) enrolled(ctx context.Context, mac MAC) (*Node, error) {
	n, err := s.store.Node(ctx, mac)
	if err != nil {
		return nil, err
	}
	if !n.Enrolled() {
		return nil, fmt.Errorf("%w: %s is %s, not enrolled", ErrUnknown, mac, n.State)
	}
	return n, nil
}

func (s *Service) updateEnrolled(ctx context.Context, mac MAC, fn func(*Node) error) (*Node, error) {
	return s.store.Update(ctx, mac, func(cur *Node) (*Node, error) {
		if cur == nil || !cur.Enrolled() {
			return nil, fmt.Errorf("%w: %s is not enrolled", ErrUnknown, mac)
		}
		if err := fn(cur); err != nil {
			return nil, err
		}
		cur.Updated = s.now()
		return cur, nil
	})
}
