package rbd

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

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
// namespace, read-only RBD on the golden images' namespace (a clone reads
// its unwritten blocks from its parent).
func (c *Client) nodeCaps(name string, g boot.GoldenRef) []string {
	return []string{
		"mon", "profile rbd",
		"osd", fmt.Sprintf("profile rbd pool=%s namespace=%s, profile rbd-read-only pool=%s namespace=%s",
			c.cfg.Pool, name, g.Pool, g.Namespace),
	}
}

// ensureUser makes volume name's node user, or sets its caps when it exists
// with others (for example after a reimage onto another image).
func (c *Client) ensureUser(ctx context.Context, name string, g boot.GoldenRef) error {
	caps := c.nodeCaps(name, g)
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

// Target implements boot.Volumes: the monitors' msgr v1 addresses from the
// monitor map, and the volume's place.
func (c *Client) Target(ctx context.Context, name string) (*boot.MapTarget, error) {
	var d monDump
	if err := c.monCommand(ctx, map[string]any{"prefix": "mon dump"}, &d); err != nil {
		return nil, err
	}
	t := &boot.MapTarget{Pool: c.cfg.Pool, Namespace: name, Image: boot.RootImage, User: name}
	for _, m := range d.Mons {
		for _, a := range m.PublicAddrs.Addrvec {
			if a.Type == "v1" {
				t.Monitors = append(t.Monitors, a.Addr)
			}
		}
	}
	if len(t.Monitors) == 0 {
		return nil, fmt.Errorf("monitor map lists no msgr v1 address (the kernel client needs one)")
	}
	return t, nil
}

// Confine implements boot.Volumes. (To do: cephx network clause.)
func (c *Client) Confine(ctx context.Context, name string, addr netip.Addr) error { return nil }
