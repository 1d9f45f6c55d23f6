package web

import (
	"context"
	"net/netip"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
)

// What the handlers use of bootd's domain, one small interface per concern;
// *boot.Service satisfies each of them, and cmd/bootd passes it for all.
// Each handler group holds only the ones it calls. Every method is called
// concurrently, from request handlers; errors are the domain's (errors.go
// maps them to status codes).

// NodeReader reads nodes, their timelines and the image catalog, changing nothing.
type NodeReader interface {
	// Node returns the node for mac, or an error wrapping boot.ErrUnknown.
	Node(ctx context.Context, mac boot.MAC) (*boot.Node, error)
	// Nodes returns the nodes in the given states (all for none), sorted by MAC.
	Nodes(ctx context.Context, states ...boot.State) ([]*boot.Node, error)
	// Timeline returns a known node's kept boots, oldest first.
	Timeline(ctx context.Context, mac boot.MAC) ([]boot.Boot, error)
	// Images returns the catalog's images.
	Images(ctx context.Context) ([]*boot.Image, error)
	// Image returns one image, or an error wrapping boot.ErrUnknownImage.
	Image(ctx context.Context, name string) (*boot.Image, error)
	// DiscoveryStats says how the bound on discovered machines has acted.
	DiscoveryStats() boot.DiscoveryStats
	// Instances lists the bootd instances sharing the store, with their
	// heartbeats' state, sorted by name.
	Instances(ctx context.Context) ([]boot.InstanceStatus, error)
}

// Enrollment changes which machines bootd boots and what each boots.
type Enrollment interface {
	Enroll(ctx context.Context, req boot.EnrollRequest) (*boot.Node, error)
	Assign(ctx context.Context, mac boot.MAC, image string) (*boot.Node, error)
	SetNetboot(ctx context.Context, mac boot.MAC, on bool) (*boot.Node, error)
	// Arm turns netboot on for one boot (window 0: the default).
	Arm(ctx context.Context, mac boot.MAC, window time.Duration) (*boot.Node, error)
	Forget(ctx context.Context, mac boot.MAC) error
	// Replace moves the enrolled node old (its hostname, image, volume) to
	// the machine new, retiring old.
	Replace(ctx context.Context, old, new boot.MAC) (*boot.Node, error)
}

// VolumeOps changes and checks nodes' volumes. Its checks are what explain
// asks (bootfs.Checks).
type VolumeOps interface {
	// HasVolumes reports whether a volume backend is configured; without
	// one every other method fails with an error wrapping boot.ErrNoVolumes.
	HasVolumes() bool
	Reimage(ctx context.Context, mac boot.MAC) (*boot.Node, error)
	ReimageKeep(ctx context.Context, mac boot.MAC, keep string) (*boot.Node, error)
	Retire(ctx context.Context, mac boot.MAC) (*boot.Node, error)
	Snapshot(ctx context.Context, mac boot.MAC, name string) (*boot.Snapshot, error)
	Snapshots(ctx context.Context, mac boot.MAC) ([]boot.Snapshot, error)
	Rollback(ctx context.Context, mac boot.MAC, snap string) (*boot.Node, error)
	Unfence(ctx context.Context, mac boot.MAC) ([]boot.Holder, error)
	Reconcile(ctx context.Context, opts boot.ReconcileOptions) (*boot.Reconciliation, error)
	bootfs.Checks
}

// Events are the live updates the dashboard follows.
type Events interface {
	// Watch subscribes to mac's recorded events (every machine's for nil);
	// the caller closes the subscription.
	Watch(mac boot.MAC) *boot.Subscription
	// ChangeMark and ChangesSince tell which nodes changed after a mark.
	ChangeMark() uint64
	ChangesSince(mark uint64) (changed []boot.MAC, next uint64, ok bool)
}

// FetchRecorder takes the boot files' fetches for the nodes' timelines. It
// must return at once: the HTTP server calls it after each fetch.
type FetchRecorder interface {
	RecordFetch(mac boot.MAC, stage boot.Stage, source netip.Addr, f boot.Fetch)
}

// BootKeys releases a booting node's key and takes its reports (the node
// listener, NewNode).
type BootKeys interface {
	RedeemBootKey(ctx context.Context, mac boot.MAC, token string, addr netip.Addr) (*boot.KeyGrant, error)
	Report(ctx context.Context, mac boot.MAC, stage boot.Stage, detail, auth string, addr netip.Addr) error
	ReportInventory(ctx context.Context, mac boot.MAC, inv boot.Inventory, auth string, addr netip.Addr) error
}

// Admission says how booting nodes were admitted, for /metrics: the boots
// in flight under their cap (boot/admission.go) and the wait-and-retry
// scripts served.
type Admission interface {
	// BootsInFlight returns how many boots are in flight and the cap (0: none).
	BootsInFlight() (n, max int)
	// WaitScripts returns how many wait-and-retry scripts were served for cause.
	WaitScripts(cause boot.WaitCause) int64
}
