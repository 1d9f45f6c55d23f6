package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// operations that record intents (see checkpoint names in intent.go).
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
	// DiscoveredMax is how many discovered machines (seen, not enrolled) are
	// kept at most; the ones seen longest ago are forgotten first. 0 means
	// DefaultDiscoveredMax.
	DiscoveredMax int
	// DiscoveredRate is how many new discovered machines are recorded per
	// minute at most, with a burst of as many; 0 means DefaultDiscoveredRate.
	DiscoveredRate int
	// Power drives nodes' power (package power); nil means bootd runs
	// without power control.
	Power Power
	// MaxBootsInFlight caps the boots in flight (admission.go): nodes with
	// a volume past their script, their key not yet out. 0 means no cap
	// (cmd/bootd's default is DefaultMaxBootsInFlight).
	MaxBootsInFlight int
	// Instance names this bootd among those sharing the store: it is
	// stamped on every event it records (Event.Instance) and its heartbeat
	// goes under it (instance.go). Empty means unnamed: events carry no
	// instance and Heartbeat writes nothing.
	Instance string
}

// Service is the one place where nodes change. The CLI (through the API),
// the dashboard and the protocol servers all call it. It is safe for
// concurrent use. Its methods fall into five concerns, each in its files:
//
//   - Enrollment (enroll.go): Enroll, Assign, SetNetboot, Forget, Discover
//     (bounded by discovered.go: DiscoveryStats).
//   - Reading (query.go, identify.go): Resolve, Node, Nodes, Timeline,
//     Images, Image; which node a request comes from: NodeByAddr,
//     NodeBySerial, BindPiSerial.
//   - Volumes: Reimage, ReimageKeep (reimage.go), Retire (retire.go),
//     Snapshot, Snapshots, Rollback (snapshot.go), Unfence (fence.go),
//     Volume, MapTarget, CheckNodeKey, CheckGolden (volume_checks.go),
//     Recover, Reconcile (reconcile.go), HasVolumes; Replace (replace.go:
//     a node moves to another MAC); crash safety in intent.go, the
//     operations' shared check in volume_op.go.
//   - Boot sessions and key release (session.go, keyrelease.go): SawLease,
//     IssueBootToken, RedeemBootKey, Report, Arm, KeyRelease, Trust; the
//     cap on boots in flight (admission.go): AdmitBoot, BootsInFlight.
//   - Power (power.go, reimage_reboot.go): SetPower, Power, HasPower,
//     ReimageReboot.
//   - Events: the timeline writer (recorder.go: Record, RecordFetch, Flush,
//     DroppedEvents) and live updates (watch.go: Watch, Watching,
//     ChangeMark, ChangesSince).
//   - Instances (instance.go): Instance, Heartbeat, Instances: the bootd
//     instances sharing the store.
type Service struct {
	store    Store
	catalog  Catalog
	volumes  Volumes
	log      *slog.Logger
	now      func() time.Time
	timeline TimelinePolicy
	hub      hub // subscriptions and change log (watch.go)
	// checkpoint and inflight: see intent.go.
	checkpoint func(step string)
	inflight   inflight
	rec        recorder // the timeline writer (recorder.go)
	health     health   // Ceph's health as last probed (health.go)
	// The trust chain (session.go, keyrelease.go).
	keyRelease KeyRelease
	window     time.Duration
	leases     bool
	sess       sessions
	trust      TrustCounters
	loaders    loaders // iPXE fetched, to notice a firmware refusing it (loaders.go)
	// maxInFlight caps the boots in flight (admission.go); 0: no cap.
	maxInFlight int
	disc        discovery // the bound on discovered machines (discovered.go)
	power       Power     // power control (power.go); nil without
	// instance is this bootd's name; instances its store's records of
	// every instance, nil when the store keeps none (instance.go).
	instance  string
	instances InstanceStore
}

// NewService returns a Service for cfg.
func NewService(cfg Config) (s *Service, err error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("boot: Config needs a Store and a Catalog")
	}
	s = &Service{store: cfg.Store, catalog: cfg.Catalog, volumes: cfg.Volumes,
		log: cfg.Logger, now: cfg.Now, timeline: cfg.Timeline, checkpoint: cfg.Checkpoint, power: cfg.Power}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeline.NewBoot == nil {
		s.timeline = DefaultTimelinePolicy()
	}
	if cfg.Instance != "" {
		if err := ValidInstanceName(cfg.Instance); err != nil {
			return nil, err
		}
	}
	s.instance = cfg.Instance
	s.instances, _ = cfg.Store.(InstanceStore)
	feed, _ := cfg.Store.(ChangeFeed)
	s.store = watchedStore{Store: s.store, hub: &s.hub, feed: feed} // publishes every change (watch.go)
	if s.keyRelease, err = ParseKeyRelease(string(cfg.KeyRelease)); err != nil {
		return nil, err
	}
	s.window, s.leases = cfg.BootWindow, cfg.Leases
	if s.window <= 0 {
		s.window = DefaultBootWindow
	}
	if cfg.DiscoveredMax < 0 || cfg.DiscoveredRate < 0 || cfg.MaxBootsInFlight < 0 {
		return nil, errors.New("boot: DiscoveredMax, DiscoveredRate and MaxBootsInFlight must not be negative")
	}
	s.maxInFlight = cfg.MaxBootsInFlight
	s.disc.init(cfg.DiscoveredMax, cfg.DiscoveredRate)
	s.sess.flight = map[string]flight{}
	if s.sess.store, _ = cfg.Store.(SessionStore); s.sess.store == nil {
		s.sess.store = newMemSessions(s.now)
	}
	s.rec.init()
	return s, nil
}

// HasVolumes reports whether a volume backend is configured.
func (s *Service) HasVolumes() bool { return s.volumes != nil }

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
