package boot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Errors of volume operations. Callers test them with errors.Is; the web
// layer maps them to status codes with the others.
var (
	// ErrNotFound reports that a volume, snapshot or golden image does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBusy reports that a volume is in use by a machine, or that another
	// operation on the same node is under way.
	ErrBusy = errors.New("busy")
	// ErrFenced reports that a node may not boot because another client
	// holds its volume.
	ErrFenced = errors.New("volume fenced")
	// ErrUnprotected reports a golden snapshot that is not protected.
	ErrUnprotected = errors.New("golden snapshot not protected")
	// ErrDenied reports that Ceph refused bootd's own user an operation
	// (EACCES, EPERM): its caps lack something docs/ceph.md gives it.
	// Ceph is up; retrying does not help until the caps are put right.
	ErrDenied = errors.New("refused by Ceph: bootd's Ceph user lacks a cap")
)

// A VolumeRequest asks for a node's root volume.
type VolumeRequest struct {
	// Name is the volume's name (also its RBD namespace and Ceph identity).
	Name      string    `json:"name"`
	Node      MAC       `json:"node,omitempty"`
	Golden    GoldenRef `json:"golden"`
	SizeBytes int64     `json:"size_bytes"`
}

// A Volume is a node's root volume as the backend reports it.
type Volume struct {
	Name string `json:"name"`
	// ID is the backend's identifier of the root image. It changes when the
	// root is replaced (reimage, rollback to a kept volume), so crash recovery
	// can tell the old root from the new one.
	ID        string `json:"id,omitempty"`
	SizeBytes int64  `json:"size_bytes"`
	// Parent is the golden snapshot the volume was cloned from.
	Parent  string    `json:"parent,omitempty"`
	Created time.Time `json:"created,omitzero"`
}

// A Snapshot is a saved state of a node's volume that Rollback can return to.
type Snapshot struct {
	Name      string    `json:"name"`
	Created   time.Time `json:"created,omitzero"`
	SizeBytes int64     `json:"size_bytes"`
	// Kept marks a whole earlier root volume kept by a reimage, rather than a
	// snapshot of the current one.
	Kept bool `json:"kept,omitempty"`
}

// A Holder is a client that has a volume open: a watcher of its root image,
// an owner of its exclusive lock, or both.
type Holder struct {
	// Addr is the client's address as Ceph reports it (ip:port/nonce); it
	// is what a blocklist entry names.
	Addr string `json:"addr"`
	// Client is the client's Ceph global id (client.4123), when known.
	Client string `json:"client,omitempty"`
	// Lock reports that the client owns the volume's exclusive lock.
	Lock bool `json:"lock,omitempty"`
}

// String describes h for messages, logs and the CLI:
// "client.4123 at 198.18.0.5:0/4242 (lock owner)".
func (h Holder) String() string {
	s := h.Addr
	if h.Client != "" {
		s = h.Client + " at " + s
	}
	if h.Lock {
		s += " (lock owner)"
	}
	return s
}

// HolderList describes holders for messages: each as Holder.String, comma
// separated, or "nobody" when there are none.
func HolderList(hs []Holder) string {
	if len(hs) == 0 {
		return "nobody"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.String()
	}
	return strings.Join(parts, ", ")
}

// IP returns the host part of h.Addr, or nil if it has none.
func (h Holder) IP() net.IP {
	a := h.Addr
	if i := strings.LastIndexByte(a, '/'); i >= 0 {
		a = a[:i]
	}
	if host, _, err := net.SplitHostPort(a); err == nil {
		a = host
	}
	return net.ParseIP(strings.Trim(a, "[]"))
}

// A MapTarget is what a node's kernel needs to map its volume (without the
// key): the monitors, the pool, the RBD namespace and image, the Ceph
// user whose key the node fetches at boot, and extra map options.
type MapTarget struct {
	// Monitors are the monitors' addresses, ip:port (the kernel's libceph
	// resolves no names): msgr v1 ones (port 6789) without an ms_mode in
	// Options, msgr2 ones (port 3300) with one.
	Monitors  []string `json:"monitors"`
	Pool      string   `json:"pool"`
	Namespace string   `json:"namespace"`
	Image     string   `json:"image"`
	// User is the Ceph user's id without "client.", as the kernel's name= wants it.
	User string `json:"user"`
	// Options are extra rbd map options, comma-separated, such as
	// ms_mode=secure (kernel Documentation/ABI/testing/sysfs-bus-rbd and
	// the rbd(8) manual's kernel map options); empty for none.
	Options string `json:"options,omitempty"`
}

// Spec returns the string a node writes to /sys/bus/rbd/add_single_major to
// map its volume read-write, naming the key client.<User> that the boot
// script put in the kernel keyring (kernel Documentation/ABI/testing/sysfs-bus-rbd):
//
//	198.18.0.1:6789 name=node-a,key=client.node-a,_pool_ns=node-a rbd root -
//	198.18.0.1:3300 name=node-a,key=client.node-a,_pool_ns=node-a,ms_mode=secure rbd root -
func (t MapTarget) Spec() string {
	opts := ""
	if t.Options != "" {
		opts = "," + t.Options
	}
	return fmt.Sprintf("%s name=%s,key=client.%s,_pool_ns=%s%s %s %s -",
		strings.Join(t.Monitors, ","), t.User, t.User, t.Namespace, opts, t.Pool, t.Image)
}

// Volumes is a volume backend: it makes, changes and removes nodes' root
// volumes, which are copy-on-write clones of golden snapshots, each with the
// Ceph identity of its node. The Service calls methods concurrently for
// different names, never concurrently for one name (it serialises work on a
// node through its intents). Errors that name a missing volume, snapshot or
// golden image wrap ErrNotFound; a volume in use wraps ErrBusy. Every method
// may block on the cluster and is bounded by the backend's own timeouts.
type Volumes interface {
	// Create makes the volume called req.Name: its namespace, its root, a
	// clone of req.Golden resized to req.SizeBytes, and its node's user,
	// which may write only this volume and read only the golden images.
	// A namespace or user that exists already is reused (so Create also
	// finishes a half-made volume); a root that exists is an error wrapping
	// ErrExists.
	Create(ctx context.Context, req VolumeRequest) (*Volume, error)
	// Remove deletes the volume called name and everything made for it: its
	// root, kept volumes and snapshots, namespace and user. Removing a volume
	// that does not exist, or exists only in part, is not an error. A volume
	// in use is removed all the same: the caller checks Holders first.
	Remove(ctx context.Context, name string) error
	// Volume describes the root of the volume called name; an error wraps
	// ErrNotFound when it has none.
	Volume(ctx context.Context, name string) (*Volume, error)
	// List returns the names of every volume the backend holds, complete or
	// not, sorted.
	List(ctx context.Context) ([]string, error)
	// Discard takes the root of volume name out of use before a fresh one is
	// made: with keep empty it deletes the root and its snapshots; otherwise
	// it keeps the whole root, listed by Snapshots as a kept volume called keep.
	Discard(ctx context.Context, name, keep string) error

	// Snapshot saves the current state of the root as snapshot snap.
	Snapshot(ctx context.Context, name, snap string) (*Snapshot, error)
	// Snapshots lists the root's snapshots and the kept volumes, oldest first.
	Snapshots(ctx context.Context, name string) ([]Snapshot, error)
	// Rollback returns the volume to snapshot snap, discarding what was
	// written since. For a kept volume, the current root is swapped with it
	// and kept under the name replaced. It fails, wrapping ErrBusy, while
	// anything holds the volume.
	Rollback(ctx context.Context, name, snap, replaced string) error

	// Holders lists the clients that have the volume open (watchers and the
	// exclusive lock's owner); none means no machine uses it.
	Holders(ctx context.Context, name string) ([]Holder, error)
	// Release fences holders off the volume: it blocklists their addresses
	// in the cluster and breaks their locks, so a dead or stale client can
	// no longer write and the next boot can take the volume.
	Release(ctx context.Context, name string, holders []Holder) error

	// Golden checks that ref exists and is protected; with protect it
	// protects an unprotected snapshot. An error wraps ErrNotFound for a
	// missing image or snapshot, ErrUnprotected for an unprotected one.
	Golden(ctx context.Context, ref GoldenRef, protect bool) error
	// Key returns the secret key of the node user of volume name. It is a
	// secret: never log it or put it where others can read it.
	Key(ctx context.Context, name string) (string, error)
	// Rekey replaces the node user of volume name with one of a new key
	// and node caps for golden g (without any address restriction; the
	// next key release confines it): the old key opens nothing any more.
	Rekey(ctx context.Context, name string, g GoldenRef) error
	// Target returns what a node's kernel needs to map volume name.
	Target(ctx context.Context, name string) (*MapTarget, error)
	// Confine restricts the node user of volume name to one client
	// address: the cluster then refuses its key from any other. bootd calls
	// it at each key release that passed the boot's binding, with the
	// address the node booted from. An invalid addr lifts the restriction.
	Confine(ctx context.Context, name string, addr netip.Addr) error
}

// RootImage is the RBD image name of every node's root, inside its namespace.
const RootImage = "root"

// VolumeName is the name of mac's root volume: "node-" and its twelve hex digits.
// It does not change with the hostname, so renaming a node never orphans its disk.
func VolumeName(mac MAC) string { return DefaultHostname(mac) }

// ParseVolumeName returns the MAC a volume name belongs to, and false when
// name is not a node volume's name (for example the golden images' namespace).
func ParseVolumeName(name string) (MAC, bool) {
	hexDigits, ok := strings.CutPrefix(name, "node-")
	if !ok || len(hexDigits) != 12 || strings.ToLower(hexDigits) != hexDigits || !isHex(hexDigits) {
		return nil, false
	}
	mac, err := ParseMAC(hexDigits)
	return mac, err == nil
}

// ParseSize reads a volume size: a whole number of bytes, or a number with a
// binary unit K, M, G or T (optionally followed by "i", "iB" or "B"), e.g. 20G.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, invalid("empty size")
	}
	u := strings.ToUpper(t)
	u = strings.TrimSuffix(strings.TrimSuffix(u, "B"), "I")
	shift := 0
	if n := len(u); n > 0 {
		switch u[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift != 0 {
			u = u[:n-1]
		}
	}
	v, err := strconv.ParseInt(u, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)>>shift {
		return 0, invalid("bad size %q: want a positive number with an optional unit K, M, G or T, like 20G", s)
	}
	return v << shift, nil
}

// FormatSize writes a size in the largest binary unit that divides it: 20G, 512M, 1000.
func FormatSize(n int64) string {
	units := []string{"T", "G", "M", "K"}
	for i, shift := range []int{40, 30, 20, 10} {
		if n > 0 && n%(1<<shift) == 0 {
			return strconv.FormatInt(n>>shift, 10) + units[i]
		}
	}
	return strconv.FormatInt(n, 10)
}
