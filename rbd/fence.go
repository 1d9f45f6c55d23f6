package rbd

import (
	"context"
	"fmt"
	"strconv"

	"github.com/bootd/bootd/boot"
)

// Holders implements boot.Volumes: the root's watchers and lock owners. The
// root is opened read-only, which registers no watch of bootd's own.
func (c *Client) Holders(ctx context.Context, name string) ([]boot.Holder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gen := c.parents.generation(name)
	img, closeRoot, err := c.openVolumeRoot(name, true)
	if err != nil {
		return nil, err
	}
	defer closeRoot()
	// The root is open: its parent costs no round trip more, and Confine,
	// next in the same key release, need not open the root again.
	if g, ok, err := parentOf(img); err == nil {
		if !ok {
			g = c.goldenRef(boot.GoldenRef{})
		}
		c.parents.put(name, gen, g)
	}
	ws, err := img.ListWatchers()
	if err != nil {
		return nil, denied(fmt.Errorf("watchers of %s: %w", name, err))
	}
	_, lockers, err := img.ListLockers()
	if err != nil && !isNotFound(err) {
		return nil, denied(fmt.Errorf("lockers of %s: %w", name, err))
	}
	var out []boot.Holder
	index := map[string]int{}
	for _, w := range ws {
		index[w.Addr] = len(out)
		out = append(out, boot.Holder{Addr: w.Addr, Client: "client." + strconv.FormatInt(w.Id, 10)})
	}
	for _, l := range lockers {
		if i, ok := index[l.Addr]; ok {
			out[i].Lock = true
			continue
		}
		index[l.Addr] = len(out)
		out = append(out, boot.Holder{Addr: l.Addr, Client: l.Client, Lock: true})
	}
	return out, nil
}

// Release implements boot.Volumes: it blocklists each holder's address
// (the monitors then tell the OSDs, which drop its watches and refuse its
// writes), then breaks the locks those holders own.
func (c *Client) Release(ctx context.Context, name string, holders []boot.Holder) error {
	done := map[string]bool{}
	for _, h := range holders {
		if h.Addr == "" || done[h.Addr] {
			continue
		}
		done[h.Addr] = true
		err := c.monCommand(ctx, map[string]any{"prefix": "osd blocklist", "blocklistop": "add", "addr": h.Addr}, nil)
		if err != nil {
			return fmt.Errorf("blocklist %s: %w", h.Addr, err)
		}
		c.log.Warn("client blocklisted", "volume", name, "addr", h.Addr, "client", h.Client)
	}
	img, closeRoot, err := c.openVolumeRoot(name, true)
	if err != nil {
		return err
	}
	defer closeRoot()
	_, lockers, err := img.ListLockers()
	if err != nil && !isNotFound(err) {
		return denied(fmt.Errorf("lockers of %s: %w", name, err))
	}
	for _, l := range lockers {
		if !done[l.Addr] {
			continue
		}
		if err := img.BreakLock(l.Client, l.Cookie); err != nil && !isNotFound(err) {
			return denied(fmt.Errorf("break lock of %s on %s: %w", l.Client, name, err))
		}
	}
	return nil
}
