package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/bootd/bootd/boot"
)

// The cloud-disk subcommands: snapshots, rollback, retire, unfence,
// reconcile, golden checks, and reimage's choice of keeping the old volume.

type reimageOpts struct {
	keep, reboot *bool
	name         *string
}

func reimageFlags(fs *flag.FlagSet) any {
	return reimageOpts{
		keep: fs.Bool("keep", false, "keep the old volume as a snapshot"),
		name: fs.String("name", "", "name of the kept volume (default: one from the clock)"),
		reboot: fs.Bool("reboot", false, "through the machine's power driver: power off, reimage, "+
			"one-time network boot, power on"),
	}
}

// runReimage: bootd reimage <mac> [--keep [--name NAME]]. Without --keep
// the old volume and its snapshots are deleted.
func runReimage(ctx context.Context, c *client, inv invocation) error {
	o := inv.flags.(reimageOpts)
	if *o.name != "" && !*o.keep {
		return fmt.Errorf("%w: bootd reimage <mac> --keep --name NAME: --name needs --keep", errUsage)
	}
	var body any
	if *o.keep || *o.reboot {
		body = map[string]any{"keep": *o.keep, "name": *o.name, "reboot": *o.reboot}
	}
	if *o.reboot {
		c.http.Timeout = powerTimeout
	}
	return nodeAction(ctx, c, inv, http.MethodPost, "/reimage", body)
}

// runSnapshot: bootd snapshot <mac> [name].
func runSnapshot(ctx context.Context, c *client, inv invocation) error {
	name := ""
	if len(inv.args) > 1 {
		name = inv.args[1]
		if err := boot.ValidSnapshotName(name); err != nil {
			return err
		}
	}
	var resp struct {
		Snapshot boot.Snapshot `json:"snapshot"`
	}
	raw, err := c.do(ctx, http.MethodPost, macPath(inv.args[0], "/snapshots"), map[string]string{"name": name}, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	mac, _ := boot.ParseMAC(inv.args[0])
	_, err = fmt.Fprintf(inv.out, "snapshot %s of %s taken\n", resp.Snapshot.Name, mac)
	return err
}

// runSnapshots: bootd snapshots <mac>.
func runSnapshots(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Snapshots []boot.Snapshot `json:"snapshots"`
	}
	raw, err := c.do(ctx, http.MethodGet, macPath(inv.args[0], "/snapshots"), nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	if len(resp.Snapshots) == 0 {
		_, err := fmt.Fprintln(inv.out, "no snapshots: take one with bootd snapshot <mac> [name]")
		return err
	}
	var rows [][]string
	for _, s := range resp.Snapshots {
		kind := "snapshot"
		if s.Kept {
			kind = "kept volume"
		}
		rows = append(rows, []string{s.Name, kind, boot.FormatSize(s.SizeBytes), when(s.Created)})
	}
	return table(inv.out, "NAME\tKIND\tSIZE\tCREATED", rows)
}

// runRollback: bootd rollback <mac> <snap>.
func runRollback(ctx context.Context, c *client, inv invocation) error {
	raw, err := c.do(ctx, http.MethodPost, macPath(inv.args[0], "/rollback"), map[string]string{"snapshot": inv.args[1]}, nil)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	mac, _ := boot.ParseMAC(inv.args[0])
	_, err = fmt.Fprintf(inv.out, "volume of %s rolled back to %s\n", mac, inv.args[1])
	return err
}

// runRetire: bootd retire <mac>.
func runRetire(ctx context.Context, c *client, inv invocation) error {
	return nodeAction(ctx, c, inv, http.MethodPost, "/retire", nil)
}

// runUnfence: bootd unfence <mac>.
func runUnfence(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Released []boot.Holder `json:"released"`
	}
	raw, err := c.do(ctx, http.MethodPost, macPath(inv.args[0], "/unfence"), nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	if len(resp.Released) == 0 {
		_, err := fmt.Fprintln(inv.out, "nothing holds the volume")
		return err
	}
	for _, h := range resp.Released {
		fmt.Fprintf(inv.out, "blocklisted %s\n", h)
	}
	return nil
}

// runVolume: bootd volume <mac>: the volume as Ceph sees it, and who holds it.
func runVolume(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Volume  boot.Volume   `json:"volume"`
		Holders []boot.Holder `json:"holders"`
	}
	raw, err := c.do(ctx, http.MethodGet, macPath(inv.args[0], "/volume"), nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	v := resp.Volume
	fmt.Fprintf(inv.out, "volume   %s\nid       %s\nsize     %s\nparent   %s\ncreated  %s\n",
		v.Name, orDash(v.ID), boot.FormatSize(v.SizeBytes), orDash(v.Parent), when(v.Created))
	if len(resp.Holders) == 0 {
		fmt.Fprintln(inv.out, "held by  nobody")
	}
	for _, h := range resp.Holders {
		fmt.Fprintf(inv.out, "held by  %s\n", h)
	}
	return nil
}

type reconcileOpts struct {
	repair, dryRun, allowMass *bool
	maxDelete                 *int
}

func reconcileFlags(fs *flag.FlagSet) any {
	return reconcileOpts{
		repair:    fs.Bool("repair", false, "repair what is found"),
		dryRun:    fs.Bool("dry-run", false, "say what --repair would do, and do nothing"),
		maxDelete: fs.Int("max-delete", 0, "the most volumes without a node a repair removes (default a tenth of the pool, at least 3)"),
		allowMass: fs.Bool("allow-mass-delete", false, "remove every volume without a node, however many, even with no nodes stored"),
	}
}

// runReconcile: bootd reconcile [--repair] [--dry-run] [--max-delete N]
// [--allow-mass-delete]. A repair the daemon's mass-delete guard refuses
// prints what it would have removed and why, and exits 1.
func runReconcile(ctx context.Context, c *client, inv invocation) error {
	o := inv.flags.(reconcileOpts)
	if *o.maxDelete < 0 {
		return fmt.Errorf("%w: --max-delete %d: want 0 or more", errUsage, *o.maxDelete)
	}
	req := boot.ReconcileOptions{Repair: *o.repair || *o.dryRun, DryRun: *o.dryRun,
		MaxDelete: *o.maxDelete, AllowMassDelete: *o.allowMass}
	var resp boot.Reconciliation
	raw, err := c.do(ctx, http.MethodPost, "/api/v1/reconcile", req, &resp)
	if err != nil {
		return err
	}
	if inv.json {
		err = writeRaw(inv.out, raw)
	} else {
		err = printReconciliation(inv.out, &resp)
	}
	if err != nil {
		return err
	}
	if resp.Refused != "" && !resp.DryRun {
		return fmt.Errorf("reconcile --repair removed no volume: %s", resp.Refused)
	}
	return nil
}

func printReconciliation(w io.Writer, resp *boot.Reconciliation) error {
	if len(resp.Findings) == 0 {
		_, err := fmt.Fprintln(w, "nodes and volumes agree")
		return err
	}
	var rows [][]string
	for _, f := range resp.Findings {
		action := orDash(f.Action)
		if f.Error != "" {
			action = "failed: " + f.Error
		}
		mac := "-"
		if f.MAC != nil {
			mac = f.MAC.String()
		}
		rows = append(rows, []string{mac, orDash(f.Volume), f.Problem, action})
	}
	if err := table(w, "MAC\tVOLUME\tPROBLEM\tACTION", rows); err != nil {
		return err
	}
	var err error
	switch {
	case !resp.Repair:
		_, err = fmt.Fprintln(w, "bootd reconcile --repair repairs these (--dry-run first shows what it would do)")
	case resp.DryRun && resp.Refused != "":
		_, err = fmt.Fprintf(w, "dry run: a repair would remove no volume: %s\n", resp.Refused)
	case resp.DryRun:
		_, err = fmt.Fprintln(w, "dry run: nothing was changed")
	}
	return err
}

type goldenOpts struct{ protect *bool }

func goldenFlags(fs *flag.FlagSet) any {
	return goldenOpts{protect: fs.Bool("protect", false, "protect the golden snapshot")}
}

// runGolden: bootd golden <image> [--protect]. It fails (exit 1) when the
// golden snapshot is missing or unprotected, so scripts can check it.
func runGolden(ctx context.Context, c *client, inv invocation) error {
	o := inv.flags.(goldenOpts)
	path, method := "/api/v1/images/"+url.PathEscape(inv.args[0])+"/golden", http.MethodGet
	if *o.protect {
		path, method = path+"/protect", http.MethodPost
	}
	var resp struct {
		Golden  string `json:"golden"`
		OK      bool   `json:"ok"`
		Problem string `json:"problem"`
	}
	raw, err := c.do(ctx, method, path, nil, &resp)
	if err != nil {
		return err
	}
	if inv.json {
		if err := writeRaw(inv.out, raw); err != nil {
			return err
		}
	} else if resp.OK {
		fmt.Fprintf(inv.out, "golden snapshot %s of %s: present and protected\n", resp.Golden, inv.args[0])
	}
	if !resp.OK {
		return fmt.Errorf("image %s: %s", inv.args[0], strings.TrimSpace(resp.Problem))
	}
	return nil
}
