package rbd

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
)

// keptPrefix starts the image names of roots kept by a reimage.
const keptPrefix = "kept."

// Create implements boot.Volumes: namespace, clone, resize, user.
func (c *Client) Create(ctx context.Context, req boot.VolumeRequest) (*boot.Volume, error) {
	defer c.parents.drop(req.Name)
	g := c.goldenRef(req.Golden)
	gsize, err := c.goldenSize(g)
	if err != nil {
		return nil, err
	}
	if req.SizeBytes > 0 && uint64(req.SizeBytes) < gsize {
		return nil, fmt.Errorf("%w: size %s is smaller than golden image %s (%s)", boot.ErrInvalid,
			boot.FormatSize(req.SizeBytes), g, boot.FormatSize(int64(gsize)))
	}
	if err := c.ensureNamespace(ctx, req.Name); err != nil {
		return nil, err
	}
	c.step("volume:namespace")
	if err := c.clone(ctx, g, req.Name); err != nil {
		return nil, err
	}
	c.step("volume:clone")
	if req.SizeBytes > 0 && uint64(req.SizeBytes) != gsize {
		if err := c.resize(ctx, req.Name, uint64(req.SizeBytes)); err != nil {
			return nil, err
		}
		c.step("volume:resize")
	}
	if err := c.ensureUser(ctx, req.Name, g); err != nil {
		return nil, err
	}
	c.step("volume:user")
	c.log.Info("volume cloned", "volume", req.Name, "parent", g.String(), "size", req.SizeBytes)
	return c.Volume(ctx, req.Name)
}

func (c *Client) ensureNamespace(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	io, err := c.ioctx("", "")
	if err != nil {
		return err
	}
	defer io.Destroy()
	if err := rbd.NamespaceCreate(io, name); err != nil && !hasErrno(err, syscall.EEXIST) {
		return fmt.Errorf("create namespace %s/%s: %w", c.cfg.Pool, name, err)
	}
	return nil
}

func (c *Client) clone(ctx context.Context, g boot.GoldenRef, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	gio, err := c.ioctx(g.Pool, g.Namespace)
	if err != nil {
		return err
	}
	defer gio.Destroy()
	io, err := c.ioctx("", name)
	if err != nil {
		return err
	}
	defer io.Destroy()
	opts := rbd.NewRbdImageOptions()
	defer opts.Destroy()
	// Clone format 2: clones across namespaces need it (REFERENCE: root on RBD).
	if err := opts.SetUint64(rbd.ImageOptionCloneFormat, 2); err != nil {
		return err
	}
	err = rbd.CloneImage(gio, g.Image, g.Snapshot, io, boot.RootImage, opts)
	switch {
	case hasErrno(err, syscall.EEXIST):
		return fmt.Errorf("%w: volume %s already has a root", boot.ErrExists, name)
	case err != nil:
		return fmt.Errorf("clone %s to %s: %w", g, spec(c.cfg.Pool, name, boot.RootImage), err)
	}
	return nil
}

func (c *Client) resize(ctx context.Context, name string, size uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	io, err := c.ioctx("", name)
	if err != nil {
		return err
	}
	defer io.Destroy()
	img, err := rbd.OpenImage(io, boot.RootImage, rbd.NoSnapshot)
	if err != nil {
		return fmt.Errorf("open %s: %w", spec(c.cfg.Pool, name, boot.RootImage), err)
	}
	defer img.Close()
	if err := img.Resize(size); err != nil {
		return fmt.Errorf("resize %s: %w", spec(c.cfg.Pool, name, boot.RootImage), err)
	}
	return nil
}

// Remove implements boot.Volumes: images (with snapshots and trash), user,
// namespace, in that order, so that what is left of a volume after a crash
// halfway always has its namespace, which List finds.
func (c *Client) Remove(ctx context.Context, name string) error {
	defer c.parents.drop(name)
	io, err := c.ioctx("", name)
	if err != nil {
		return err
	}
	defer io.Destroy()
	images, err := rbd.GetImageNames(io)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("list images of %s: %w", name, err)
	}
	for _, im := range images {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := removeImage(io, im); err != nil {
			return fmt.Errorf("remove %s: %w", spec(c.cfg.Pool, name, im), err)
		}
	}
	if trash, err := rbd.GetTrashList(io); err == nil {
		for _, t := range trash {
			if err := rbd.TrashRemove(io, t.Id, true); err != nil && !isNotFound(err) {
				return fmt.Errorf("purge trash of %s: %w", name, err)
			}
		}
	}
	c.step("volume:images")
	if err := c.removeUser(ctx, name); err != nil {
		return err
	}
	c.step("volume:user-removed")
	def, err := c.ioctx("", "")
	if err != nil {
		return err
	}
	defer def.Destroy()
	if err := rbd.NamespaceRemove(def, name); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove namespace %s/%s: %w", c.cfg.Pool, name, err)
	}
	c.step("volume:namespace-removed")
	c.log.Info("volume removed", "volume", name)
	return nil
}

// removeImage removes one image with its snapshots (unprotecting them).
func removeImage(io *rados.IOContext, name string) error {
	img, err := rbd.OpenImage(io, name, rbd.NoSnapshot)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	snaps, err := img.GetSnapshotNames()
	if err != nil {
		img.Close()
		return err
	}
	for _, s := range snaps {
		sn := img.GetSnapshot(s.Name)
		if p, err := sn.IsProtected(); err == nil && p {
			if err := sn.Unprotect(); err != nil {
				img.Close()
				return fmt.Errorf("unprotect snapshot %s: %w", s.Name, err)
			}
		}
		if err := sn.Remove(); err != nil && !isNotFound(err) {
			img.Close()
			return fmt.Errorf("remove snapshot %s: %w", s.Name, err)
		}
	}
	if err := img.Close(); err != nil {
		return err
	}
	if err := rbd.RemoveImage(io, name); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// Volume implements boot.Volumes.
func (c *Client) Volume(ctx context.Context, name string) (*boot.Volume, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	img, closeRoot, err := c.openVolumeRoot(name, true)
	if err != nil {
		return nil, err
	}
	defer closeRoot()
	v := &boot.Volume{Name: name}
	if v.ID, err = img.GetId(); err != nil {
		return nil, err
	}
	size, err := img.GetSize()
	if err != nil {
		return nil, err
	}
	v.SizeBytes = int64(size)
	if ts, err := img.GetCreateTimestamp(); err == nil {
		v.Created = time.Unix(ts.Sec, ts.Nsec).UTC()
	}
	p, ok, err := parentOf(img)
	if err != nil {
		return nil, fmt.Errorf("parent of %s: %w", name, err)
	}
	if ok {
		v.Parent = p.String()
	}
	return v, nil
}

// parentOf returns the snapshot an open image was cloned from, and false
// when it has no parent.
func parentOf(img *rbd.Image) (boot.GoldenRef, bool, error) {
	p, err := img.GetParent()
	if isNotFound(err) {
		return boot.GoldenRef{}, false, nil
	}
	if err != nil {
		return boot.GoldenRef{}, false, err
	}
	return boot.GoldenRef{Pool: p.Image.PoolName, Namespace: p.Image.PoolNamespace,
		Image: p.Image.ImageName, Snapshot: p.Snap.SnapName}, true, nil
}

// List implements boot.Volumes: the pool's namespaces named like node volumes.
func (c *Client) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	io, err := c.ioctx("", "")
	if err != nil {
		return nil, err
	}
	defer io.Destroy()
	all, err := rbd.NamespaceList(io)
	if err != nil {
		return nil, fmt.Errorf("list namespaces of %s: %w", c.cfg.Pool, err)
	}
	var out []string
	for _, ns := range all {
		if _, ok := boot.ParseVolumeName(ns); ok {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Discard implements boot.Volumes.
func (c *Client) Discard(ctx context.Context, name, keep string) error {
	defer c.parents.drop(name)
	if err := ctx.Err(); err != nil {
		return err
	}
	io, err := c.ioctx("", name)
	if err != nil {
		return err
	}
	defer io.Destroy()
	if keep == "" {
		if err := removeImage(io, boot.RootImage); err != nil {
			return fmt.Errorf("remove %s: %w", spec(c.cfg.Pool, name, boot.RootImage), err)
		}
		return nil
	}
	if err := rbd.GetImage(io, boot.RootImage).Rename(keptPrefix + keep); err != nil {
		return fmt.Errorf("keep %s as %s: %w", spec(c.cfg.Pool, name, boot.RootImage), keptPrefix+keep, err)
	}
	return nil
}

// goldenRef fills in the pool and namespace a golden ref leaves out.
func (c *Client) goldenRef(g boot.GoldenRef) boot.GoldenRef {
	if g.Pool == "" {
		g.Pool = c.cfg.Pool
	}
	if g.Namespace == "" {
		g.Namespace = c.golden
	}
	return g
}

// goldenSize returns the size of golden snapshot g, or an error wrapping
// boot.ErrNotFound when it does not exist.
func (c *Client) goldenSize(g boot.GoldenRef) (uint64, error) {
	if e, ok := c.goldens.get(g); ok && e.size > 0 {
		return e.size, nil
	}
	io, err := c.ioctx(g.Pool, g.Namespace)
	if err != nil {
		return 0, err
	}
	defer io.Destroy()
	img, err := rbd.OpenImageReadOnly(io, g.Image, g.Snapshot)
	if isNotFound(err) {
		return 0, fmt.Errorf("%w: golden snapshot %s does not exist", boot.ErrNotFound, g)
	}
	if err != nil {
		return 0, fmt.Errorf("open golden snapshot %s: %w", g, err)
	}
	defer img.Close()
	size, err := img.GetSize()
	if err == nil {
		c.goldens.put(g, goldenInfo{size: size})
	}
	return size, err
}
