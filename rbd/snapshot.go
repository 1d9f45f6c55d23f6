package rbd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
)

// Snapshot implements boot.Volumes.
func (c *Client) Snapshot(ctx context.Context, name, snap string) (*boot.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	img, closeRoot, err := c.openVolumeRoot(name, false)
	if err != nil {
		return nil, err
	}
	defer closeRoot()
	if _, err := img.CreateSnapshot(snap); err != nil {
		if hasErrno(err, syscall.EEXIST) {
			return nil, fmt.Errorf("%w: volume %s already has a snapshot called %s", boot.ErrExists, name, snap)
		}
		return nil, fmt.Errorf("snapshot %s@%s: %w", spec(c.cfg.Pool, name, boot.RootImage), snap, err)
	}
	snaps, err := rootSnapshots(img)
	if err != nil {
		return nil, err
	}
	for _, s := range snaps {
		if s.Name == snap {
			return &s, nil
		}
	}
	return nil, fmt.Errorf("snapshot %s of %s vanished after it was made", snap, name)
}

// openRoot opens volume name's root, with an error wrapping boot.ErrNotFound when it has none.
func (c *Client) openRoot(io *rados.IOContext, name string, readOnly bool) (*rbd.Image, error) {
	open := rbd.OpenImage
	if readOnly {
		open = rbd.OpenImageReadOnly
	}
	img, err := open(io, boot.RootImage, rbd.NoSnapshot)
	if isNotFound(err) {
		return nil, fmt.Errorf("%w: volume %s has no root image %s", boot.ErrNotFound, name, spec(c.cfg.Pool, name, boot.RootImage))
	}
	if err != nil {
		return nil, denied(fmt.Errorf("open %s: %w", spec(c.cfg.Pool, name, boot.RootImage), err))
	}
	return img, nil
}

// openVolumeRoot opens an I/O context on volume name's namespace and the
// volume's root in it, as openRoot does; closeRoot closes the root, then the context.
func (c *Client) openVolumeRoot(name string, readOnly bool) (img *rbd.Image, closeRoot func(), err error) {
	io, err := c.ioctx("", name)
	if err != nil {
		return nil, nil, err
	}
	img, err = c.openRoot(io, name, readOnly)
	if err != nil {
		io.Destroy()
		return nil, nil, err
	}
	return img, func() { img.Close(); io.Destroy() }, nil
}

// rootSnapshots lists an open image's snapshots.
func rootSnapshots(img *rbd.Image) ([]boot.Snapshot, error) {
	infos, err := img.GetSnapshotNames()
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []boot.Snapshot
	for _, si := range infos {
		s := boot.Snapshot{Name: si.Name, SizeBytes: int64(si.Size)}
		if ts, err := img.GetSnapTimestamp(si.Id); err == nil {
			s.Created = time.Unix(ts.Sec, ts.Nsec).UTC()
		}
		out = append(out, s)
	}
	return out, nil
}

// Snapshots implements boot.Volumes: the root's snapshots and the kept
// roots, oldest first.
func (c *Client) Snapshots(ctx context.Context, name string) ([]boot.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	io, err := c.ioctx("", name)
	if err != nil {
		return nil, err
	}
	defer io.Destroy()
	images, err := rbd.GetImageNames(io)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("list images of %s: %w", name, err)
	}
	if !slices.Contains(images, boot.RootImage) && !slices.ContainsFunc(images, isKept) {
		return nil, fmt.Errorf("%w: volume %s has no root image", boot.ErrNotFound, name)
	}
	out := []boot.Snapshot{}
	for _, im := range images {
		switch {
		case im == boot.RootImage:
			img, err := c.openRoot(io, name, true)
			if err != nil {
				return nil, err
			}
			snaps, err := rootSnapshots(img)
			img.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, snaps...)
		case isKept(im):
			s, err := keptSnapshot(io, im)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b boot.Snapshot) int { return a.Created.Compare(b.Created) })
	return out, nil
}

func isKept(image string) bool { return strings.HasPrefix(image, keptPrefix) }

// keptSnapshot describes a kept root as a snapshot.
func keptSnapshot(io *rados.IOContext, image string) (boot.Snapshot, error) {
	s := boot.Snapshot{Name: strings.TrimPrefix(image, keptPrefix), Kept: true}
	img, err := rbd.OpenImageReadOnly(io, image, rbd.NoSnapshot)
	if err != nil {
		return s, fmt.Errorf("open kept volume %s: %w", image, err)
	}
	defer img.Close()
	size, err := img.GetSize()
	if err != nil {
		return s, err
	}
	s.SizeBytes = int64(size)
	// A kept root was last written before it was set aside; its modify time is when.
	if ts, err := img.GetModifyTimestamp(); err == nil {
		s.Created = time.Unix(ts.Sec, ts.Nsec).UTC()
	}
	return s, nil
}

// Rollback implements boot.Volumes.
func (c *Client) Rollback(ctx context.Context, name, snap, replaced string) error {
	defer c.parents.drop(name)
	hs, err := c.Holders(ctx, name)
	if err != nil {
		return err
	}
	if len(hs) > 0 {
		return fmt.Errorf("%w: volume %s is in use by %s", boot.ErrBusy, name, hs[0].Addr)
	}
	io, err := c.ioctx("", name)
	if err != nil {
		return err
	}
	defer io.Destroy()
	images, err := rbd.GetImageNames(io)
	if err != nil {
		return fmt.Errorf("list images of %s: %w", name, err)
	}
	if slices.Contains(images, keptPrefix+snap) {
		return c.swapKept(io, name, snap, replaced, slices.Contains(images, boot.RootImage))
	}
	img, err := c.openRoot(io, name, false)
	if err != nil {
		return err
	}
	defer img.Close()
	snaps, err := img.GetSnapshotNames()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(snaps, func(s rbd.SnapInfo) bool { return s.Name == snap }) {
		return fmt.Errorf("%w: volume %s has no snapshot or kept volume called %s", boot.ErrNotFound, name, snap)
	}
	if err := img.GetSnapshot(snap).Rollback(); err != nil {
		return fmt.Errorf("roll %s back to %s: %w", spec(c.cfg.Pool, name, boot.RootImage), snap, err)
	}
	c.log.Info("volume rolled back", "volume", name, "snapshot", snap)
	return nil
}

// swapKept puts kept root snap back in place, keeping the current root as replaced.
func (c *Client) swapKept(io *rados.IOContext, name, snap, replaced string, hasRoot bool) error {
	if hasRoot {
		if err := rbd.GetImage(io, boot.RootImage).Rename(keptPrefix + replaced); err != nil {
			return fmt.Errorf("keep current root of %s as %s: %w", name, replaced, err)
		}
	}
	if err := rbd.GetImage(io, keptPrefix+snap).Rename(boot.RootImage); err != nil {
		return fmt.Errorf("put kept volume %s back as root of %s: %w", snap, name, err)
	}
	c.log.Info("kept volume swapped back in", "volume", name, "kept", snap, "replaced", replaced)
	return nil
}
