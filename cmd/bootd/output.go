package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

func writeRaw(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func writeNodes(w io.Writer, nodes []*boot.Node) error {
	if len(nodes) == 0 {
		_, err := fmt.Fprintln(w, "no machines yet: enroll one with bootd enroll <mac> --image NAME")
		return err
	}
	var rows [][]string
	for _, n := range nodes {
		rows = append(rows, []string{n.MAC.String(), orDash(n.Hostname), orDash(n.Image), string(n.State),
			onOff(n.Netboot), orDash(n.Volume), orDash(string(n.LastStage)), when(n.LastStageAt)})
	}
	return table(w, "MAC\tHOSTNAME\tIMAGE\tSTATE\tNETBOOT\tVOLUME\tLAST STAGE\tAT", rows)
}

func writeNode(w io.Writer, n *boot.Node) error {
	size := "-"
	if n.SizeBytes > 0 {
		size = boot.FormatSize(n.SizeBytes)
	}
	volume := n.Volume
	if volume == "" {
		volume = "none"
	}
	rows := [][]string{
		{"mac", n.MAC.String()}, {"hostname", orDash(n.Hostname)}, {"image", orDash(n.Image)},
		{"state", string(n.State)}, {"netboot", onOff(n.Netboot)}, {"armed", armedUntil(n)}, {"volume", volume}, {"size", size},
		{"arch", orDash(n.Arch)}, {"vendor class", orDash(n.VendorClass)}, {"address", orDash(n.Addr)},
		{"pi serial", orDash(n.PiSerial)}, {"last stage", lastStage(n)},
		{"last seen", when(n.LastSeen)}, {"created", when(n.Created)}, {"updated", when(n.Updated)},
		{"power", powerSummary(n.Power)},
	}
	if len(n.Replaces) > 0 {
		rows = append(rows, []string{"replaces", n.Replaces.String()})
	}
	if len(n.ReplacedBy) > 0 {
		rows = append(rows, []string{"replaced by", n.ReplacedBy.String()})
	}
	rows = append(rows, inventoryRows(n.Inventory)...)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// armedUntil says until when a node is armed for one boot, or "no".
func armedUntil(n *boot.Node) string {
	if n.ArmedUntil.IsZero() || time.Now().After(n.ArmedUntil) {
		return "no"
	}
	return "until " + when(n.ArmedUntil)
}

func writeImages(w io.Writer, imgs []*boot.Image) error {
	var rows [][]string
	for _, img := range imgs {
		rows = append(rows, []string{img.Name, string(img.Flavour), img.Arch, boot.FormatSize(img.SizeBytes), img.Golden.String()})
	}
	return table(w, "NAME\tFLAVOUR\tARCH\tSIZE\tGOLDEN", rows)
}

func writeTimeline(w io.Writer, boots []boot.Boot) error {
	if len(boots) == 0 {
		_, err := fmt.Fprintln(w, "no boots recorded yet")
		return err
	}
	var rows [][]string
	for _, b := range boots {
		for _, ev := range b.Events {
			rows = append(rows, []string{fmt.Sprint(b.Seq), when(ev.Time), string(ev.Stage), orDash(ev.Source),
				orDash(ev.Instance), ev.Text()})
		}
	}
	return table(w, "BOOT\tTIME\tSTAGE\tSOURCE\tINSTANCE\tDETAIL", rows)
}

// writeStatus prints the answering daemon's version and the instances.
func writeStatus(w io.Writer, version string, instances []boot.InstanceStatus, now time.Time) error {
	if _, err := fmt.Fprintf(w, "answered by bootd %s\n", orDash(version)); err != nil {
		return err
	}
	if len(instances) == 0 {
		_, err := fmt.Fprintln(w, "no instance records (this bootd has no name)")
		return err
	}
	var rows [][]string
	for _, in := range instances {
		name, seen := in.ID, when(in.Seen)
		if in.Self {
			name += " *"
		}
		if !in.Seen.IsZero() {
			seen += " (" + now.Sub(in.Seen).Truncate(time.Second).String() + " ago)"
		}
		rows = append(rows, []string{name, orDash(in.Addr), orDash(in.Version), seen, string(in.State)})
	}
	if err := table(w, "INSTANCE\tADDRESS\tVERSION\tLAST HEARTBEAT\tSTATE", rows); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "* the instance that answered")
	return err
}

func lastStage(n *boot.Node) string {
	if n.LastStage == "" {
		return "-"
	}
	return string(n.LastStage) + " at " + when(n.LastStageAt)
}

func writeUsers(w io.Writer, users []*access.User) error {
	var rows [][]string
	for _, u := range users {
		ids := make([]string, 0, len(u.Tokens))
		for _, t := range u.Tokens {
			ids = append(ids, t.ID)
		}
		rows = append(rows, []string{u.Name, string(u.Role), when(u.Created), when(u.LastUsed), orDash(strings.Join(ids, ","))})
	}
	return table(w, "NAME\tROLE\tCREATED\tLAST USED\tTOKENS", rows)
}

// writeAudit prints audit records, newest first as the daemon sends them.
func writeAudit(w io.Writer, recs []access.Record) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no audit records match")
		return err
	}
	var rows [][]string
	for _, r := range recs {
		mac, from := "-", "-"
		if len(r.MAC) > 0 {
			mac = r.MAC.String()
		}
		if r.Remote.IsValid() {
			from = r.Remote.String()
		}
		rows = append(rows, []string{when(r.Time), orDash(r.User), string(r.Via), string(r.Action), mac,
			orDash(r.Target), from, string(r.Outcome), orDash(r.Error)})
	}
	return table(w, "TIME\tUSER\tVIA\tACTION\tMACHINE\tTARGET\tFROM\tOUTCOME\tERROR", rows)
}

// inventoryRows are the rows of bootd show for a machine's reported hardware.
func inventoryRows(inv *boot.Inventory) [][]string {
	if inv == nil {
		return [][]string{{"hardware", "not reported yet (bootd-init reports it once a boot, after the key)"}}
	}
	machine := strings.TrimSpace(inv.Vendor + " " + inv.Model)
	for _, f := range []struct{ name, v string }{{"serial", inv.Serial}, {"BIOS", inv.BIOSVersion}, {"revision", inv.PiRevision}} {
		if f.v != "" {
			machine += ", " + f.name + " " + f.v
		}
	}
	cpus := strconv.Itoa(inv.CPUs)
	if inv.CPUModel != "" {
		cpus += " × " + inv.CPUModel
	}
	var nics, disks []string
	for _, n := range inv.NICs {
		s := n.Name + " " + n.MAC
		switch {
		case !n.Link:
			s += " (no link)"
		case n.SpeedMbps > 0:
			s += fmt.Sprintf(" (%d Mb/s)", n.SpeedMbps)
		}
		nics = append(nics, s)
	}
	for _, d := range inv.Disks {
		disks = append(disks, d.Name+" "+boot.FormatSize(d.SizeBytes))
	}
	if len(disks) == 0 {
		disks = []string{"none"}
	}
	return [][]string{{"hardware", orDash(machine)}, {"cpus", cpus}, {"memory", boot.FormatSize(inv.MemoryBytes)},
		{"nics", orDash(strings.Join(nics, ", "))}, {"disks", strings.Join(disks, ", ")},
		{"reported", when(inv.Reported)}}
}

// powerSummary describes a node's power settings: driver, BMC and user, and
// where its password is (never the password).
func powerSummary(p *boot.PowerSettings) string {
	if p == nil {
		return "-"
	}
	s := p.Driver
	if p.Address != "" {
		s += " " + p.Address
	}
	if p.User != "" {
		s += " user " + p.User
	}
	if p.Secret != "" {
		s += ", password " + p.Secret // the API says "sealed" or "file:PATH"
	}
	return s
}
