package rbd

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rbd"
)

// Golden implements boot.Volumes.
func (c *Client) Golden(ctx context.Context, ref boot.GoldenRef, protect bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g := c.goldenRef(ref)
	if e, ok := c.goldens.get(g); ok && e.protected {
		return nil
	}
	io, err := c.ioctx(g.Pool, g.Namespace)
	if err != nil {
		return err
	}
	defer io.Destroy()
	img, err := rbd.OpenImageReadOnly(io, g.Image, rbd.NoSnapshot)
	if isNotFound(err) {
		return fmt.Errorf("%w: golden image %s does not exist", boot.ErrNotFound, spec(g.Pool, g.Namespace, g.Image))
	}
	if err != nil {
		return fmt.Errorf("open golden image %s: %w", spec(g.Pool, g.Namespace, g.Image), err)
	}
	defer img.Close()
	snaps, err := img.GetSnapshotNames()
	if err != nil {
		return fmt.Errorf("snapshots of %s: %w", spec(g.Pool, g.Namespace, g.Image), err)
	}
	if !slices.ContainsFunc(snaps, func(s rbd.SnapInfo) bool { return s.Name == g.Snapshot }) {
		return fmt.Errorf("%w: golden image %s has no snapshot %s", boot.ErrNotFound, spec(g.Pool, g.Namespace, g.Image), g.Snapshot)
	}
	ok, err := img.GetSnapshot(g.Snapshot).IsProtected()
	if err != nil {
		return fmt.Errorf("is %s protected: %w", g, err)
	}
	if ok {
		c.goldens.put(g, goldenInfo{protected: true})
		return nil
	}
	if !protect {
		return fmt.Errorf("%w: golden snapshot %s is not protected (bootd golden <image> --protect, or rbd snap protect %s)",
			boot.ErrUnprotected, g, g)
	}
	rw, err := rbd.OpenImage(io, g.Image, rbd.NoSnapshot)
	if err != nil {
		return fmt.Errorf("open golden image %s to protect it: %w", g, err)
	}
	defer rw.Close()
	if err := rw.GetSnapshot(g.Snapshot).Protect(); err != nil && !hasErrno(err, syscall.EBUSY) {
		return fmt.Errorf("protect %s: %w", g, err)
	}
	c.log.Info("golden snapshot protected", "golden", g.String())
	return nil
}

// nodeCaps are the capabilities of volume name's node user: RBD on its own
// namespace, read-only RBD on golden g's namespace (a clone reads its
// unwritten blocks from its parent), and reading the cluster maps. Not
// `mon 'profile rbd'`: that includes `osd blocklist add` for any client
// (Ceph's user management docs, "profile rbd"), so one node could fence all
// the others; bootd, not the node, breaks a dead holder's lock (fence.go).
// A valid addr adds cephx's network clause, addr/32 (addr/128 for IPv6), to
// every grant: the monitors and OSDs then refuse the key from any other
// address (docs/ceph.md; TestConfine shows Ceph 16.2 enforcing it).
// docs/ceph.md's caps for bootd's own user only let it grant caps of this shape.
func (c *Client) nodeCaps(name string, g boot.GoldenRef, addr netip.Addr) []string {
	network := ""
	if addr.IsValid() {
		addr = addr.Unmap().WithZone("")
		network = " network " + netip.PrefixFrom(addr, addr.BitLen()).String()
	}
	return []string{
		"mon", "allow r" + network,
		"osd", fmt.Sprintf("profile rbd pool=%s namespace=%s%s, profile rbd-read-only pool=%s namespace=%s%s",
			c.cfg.Pool, name, network, g.Pool, g.Namespace, network),
	}
}

// ensureUser makes volume name's node user, or sets its caps when it exists
// with others (for example after a reimage onto another image, or a user
// made by an older bootd with `mon 'profile rbd'`).
func (c *Client) ensureUser(ctx context.Context, name string, g boot.GoldenRef) error {
	caps := c.nodeCaps(name, g, netip.Addr{})
	err := c.monCommand(ctx, map[string]any{"prefix": "auth get-or-create", "entity": user(name), "caps": caps}, nil)
	if hasErrno(err, syscall.EINVAL) && strings.Contains(err.Error(), "does not match") {
		err = c.monCommand(ctx, map[string]any{"prefix": "auth caps", "entity": user(name), "caps": caps}, nil)
	}
	if err != nil {
		return fmt.Errorf("create Ceph user %s: %w", user(name), err)
	}
	return nil
}

func (c *Client) removeUser(ctx context.Context, name string) error {
	err := c.monCommand(ctx, map[string]any{"prefix": "auth rm", "entity": user(name)}, nil)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove Ceph user %s: %w", user(name), err)
	}
	return nil
}

// Rekey implements boot.Volumes: the node user is removed and made again,
// so Ceph gives it a new key (Ceph 16.2 has no command that rotates a
// key in place). Clients that authenticated with the old key keep their
// sessions until blocklisted; the caller cuts them off first.
func (c *Client) Rekey(ctx context.Context, name string, g boot.GoldenRef) error {
	if err := c.removeUser(ctx, name); err != nil {
		return err
	}
	return c.ensureUser(ctx, name, c.goldenRef(g))
}

// Key implements boot.Volumes. The key is never logged.
func (c *Client) Key(ctx context.Context, name string) (string, error) {
	var out struct {
		Key string `json:"key"`
	}
	err := c.monCommand(ctx, map[string]any{"prefix": "auth get-key", "entity": user(name)}, &out)
	if isNotFound(err) {
		return "", fmt.Errorf("%w: Ceph user %s does not exist", boot.ErrNotFound, user(name))
	}
	if err != nil {
		return "", fmt.Errorf("key of %s: %w", user(name), err)
	}
	if out.Key == "" {
		return "", fmt.Errorf("key of %s: empty answer", user(name))
	}
	return out.Key, nil
}

// How long the caches of key releases and node.cpio answers are trusted. A
// root's parent changes only through this client (which drops the entry)
// or another bootd's reimage; a monitor map, when monitors are added or
// moved, which a node booting within the TTL then misses (it maps through
// the monitors it was told of, which forward it the new map).
const (
	parentCacheTTL   = 10 * time.Second
	monitorsCacheTTL = 10 * time.Second
)

// monDump is the part of "mon dump" Target reads.
type monDump struct {
	Mons []struct {
		PublicAddrs struct {
			Addrvec []struct {
				Type string `json:"type"`
				Addr string `json:"addr"`
			} `json:"addrvec"`
		} `json:"public_addrs"`
	} `json:"mons"`
}

// Target implements boot.Volumes: the monitors' addresses from the monitor
// map, of the messenger version Config.MsMode asks for (v1 for legacy, v2
// otherwise: a kernel with ms_mode=crc|secure speaks msgr2 only, on port
// 3300), the volume's place, and ms_mode as a map option unless legacy
// (an older kernel refuses an ms_mode it does not know).
func (c *Client) Target(ctx context.Context, name string) (*boot.MapTarget, error) {
	d, ok := c.monitors.get(struct{}{}, monitorsCacheTTL)
	if !ok {
		if err := c.monCommand(ctx, map[string]any{"prefix": "mon dump"}, &d); err != nil {
			return nil, err
		}
		c.monitors.put(struct{}{}, monitorsCacheTTL, d)
	}
	t := &boot.MapTarget{Pool: c.cfg.Pool, Namespace: name, Image: boot.RootImage, User: name}
	want := "v1"
	if m := c.cfg.MsMode; m != "" && m != "legacy" {
		want, t.Options = "v2", "ms_mode="+m
	}
	for _, m := range d.Mons {
		for _, a := range m.PublicAddrs.Addrvec {
			if a.Type == want {
				t.Monitors = append(t.Monitors, a.Addr)
			}
		}
	}
	if len(t.Monitors) == 0 {
		if want == "v2" {
			return nil, fmt.Errorf("monitor map lists no msgr2 (v2) address, which ms_mode=%s needs", c.cfg.MsMode)
		}
		return nil, fmt.Errorf("monitor map lists no msgr v1 address (the kernel client needs one without ms_mode)")
	}
	return t, nil
}

// Confine implements boot.Volumes: it sets the node user's caps again
// (nodeCaps), with addr in cephx's network clause, or without the clause
// when addr is invalid. The golden namespace is the one of the root's
// parent, so caps written by an older bootd, or left behind by a rollback
// onto a kept root of another image, are put right at the next boot.
func (c *Client) Confine(ctx context.Context, name string, addr netip.Addr) error {
	g, err := c.rootParent(ctx, name)
	if err != nil {
		return err
	}
	caps := c.nodeCaps(name, g, addr)
	// A machine that boots again at the address it had (a rack power-cycled,
	// DHCP giving each its lease back) finds its caps already right: a read
	// of the monitors spares their write, a Paxos round each.
	if cur, err := c.userCaps(ctx, name); err == nil && sameCaps(cur, caps) {
		return nil
	}
	c.capsWrites.Add(1)
	err = c.monCommand(ctx, map[string]any{"prefix": "auth caps", "entity": user(name), "caps": caps}, nil)
	if isNotFound(err) {
		return fmt.Errorf("%w: Ceph user %s does not exist", boot.ErrNotFound, user(name))
	}
	if err != nil {
		return fmt.Errorf("confine Ceph user %s: %w", user(name), err)
	}
	return nil
}

// userCaps reads the caps of volume name's node user ("auth get"; its
// answer's key is not kept).
func (c *Client) userCaps(ctx context.Context, name string) (map[string]string, error) {
	var out []struct {
		Caps map[string]string `json:"caps"`
	}
	if err := c.monCommand(ctx, map[string]any{"prefix": "auth get", "entity": user(name)}, &out); err != nil {
		return nil, err
	}
	if len(out) != 1 {
		return nil, fmt.Errorf("auth get %s: %d entries", user(name), len(out))
	}
	return out[0].Caps, nil
}

// sameCaps reports whether cur (as the monitors keep them) are exactly the
// caps pairs want (service, grant, ...).
func sameCaps(cur map[string]string, want []string) bool {
	if len(cur)*2 != len(want) {
		return false
	}
	for i := 0; i+1 < len(want); i += 2 {
		if v, ok := cur[want[i]]; !ok || v != want[i+1] {
			return false
		}
	}
	return true
}

// rootParent returns the golden snapshot volume name's root was cloned
// from; for a root without a parent, the default golden namespace.
func (c *Client) rootParent(ctx context.Context, name string) (boot.GoldenRef, error) {
	if err := ctx.Err(); err != nil {
		return boot.GoldenRef{}, err
	}
	if g, ok := c.parents.get(name); ok {
		return g, nil
	}
	img, closeRoot, err := c.openVolumeRoot(name, true)
	if err != nil {
		return boot.GoldenRef{}, err
	}
	defer closeRoot()
	g, ok, err := parentOf(img)
	if err != nil {
		return boot.GoldenRef{}, fmt.Errorf("parent of %s: %w", name, err)
	}
	if !ok {
		return c.goldenRef(boot.GoldenRef{}), nil
	}
	return g, nil
}
