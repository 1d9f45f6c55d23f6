package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/bootd/bootd/bootfs"
)

// errChecksFailed makes bootd explain exit non-zero when a check failed.
type errChecksFailed int

func (e errChecksFailed) Error() string { return fmt.Sprintf("explain: %d check(s) failed", int(e)) }

// runExplain: bootd explain <mac>. It prints what each boot stage would
// hand the node (token redacted) and its checks, and fails when one does.
func runExplain(ctx context.Context, c *client, inv invocation) error {
	var resp struct {
		Explain bootfs.Explanation `json:"explain"`
	}
	raw, err := c.do(ctx, http.MethodGet, macPath(inv.args[0], "/explain"), nil, &resp)
	if err != nil {
		return err
	}
	if inv.json {
		err = writeRaw(inv.out, raw)
	} else {
		err = writeExplain(inv, &resp.Explain)
	}
	if err != nil {
		return err
	}
	failed := 0
	for _, ck := range resp.Explain.Checks {
		if !ck.OK {
			failed++
		}
	}
	if failed > 0 {
		return errChecksFailed(failed)
	}
	return nil
}

func writeExplain(inv invocation, e *bootfs.Explanation) error {
	w := tabwriter.NewWriter(inv.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "node\t%s (%s)\n", e.MAC, orDash(e.Hostname))
	fmt.Fprintf(w, "image\t%s (%s)\n", orDash(e.Image), orDash(e.Flavour))
	fmt.Fprintf(w, "netboot\t%v\n", e.Netboot)
	fmt.Fprintf(w, "rbd boot\t%v\n", e.RBDBoot)
	fmt.Fprintln(w, "\nDHCP")
	for _, a := range e.DHCP {
		fmt.Fprintf(w, "  %s\t%s\n", a.Class, a.Answer)
	}
	fmt.Fprintln(w, "\nFILES")
	for _, f := range e.Files {
		fmt.Fprintf(w, "  %s\t%s\n", f.Name, f.Source)
	}
	if e.Cmdline != "" {
		fmt.Fprintf(w, "\ncmdline\t%s\n", e.Cmdline)
	}
	if e.MapSpec != "" {
		fmt.Fprintf(w, "rbd map\t%s\n", e.MapSpec)
	}
	if e.SecureBoot != "" {
		fmt.Fprintf(w, "secure boot\t%s\n", e.SecureBoot)
	}
	fmt.Fprintln(w, "\nCHECK\tRESULT\tDETAIL")
	for _, ck := range e.Checks {
		res, detail := "ok", ck.Detail
		if !ck.OK {
			res, detail = "PROBLEM", ck.Problem
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", ck.Name, res, detail)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(inv.out, "\n%s:\n%s\n", bootfs.ScriptFile, strings.TrimRight(e.Script, "\n"))
	if err == nil && e.GrubConfig != "" {
		_, err = fmt.Fprintf(inv.out, "\n%s (GRUB, Secure Boot):\n%s\n", bootfs.GrubConfigFile, strings.TrimRight(e.GrubConfig, "\n"))
	}
	return err
}
