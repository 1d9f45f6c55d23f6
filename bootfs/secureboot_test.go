package bootfs_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
)

// TestGrubConfig compares the grub.cfg of a Secure Boot node with its
// golden copies (the one-time token replaced by TOKEN): over TFTP by the
// name an upstream GRUB asks first and by Debian's /grub/grub.cfg, the node
// known by the asking address; over HTTP with the node's URLs. Values GRUB's
// script reader would take apart are quoted; a command line GRUB would pass
// on escaped is refused with a message.
func TestGrubConfig(t *testing.T) {
	t.Parallel()
	f, svc := rbdFixture(t)
	ctx := context.Background()
	sbAddr := netip.MustParseAddr("198.18.0.52")
	for _, mac := range []string{rbdSB, rbdSBX, rbdSBQ} {
		svc.SawLease(mustMAC(t, mac), sbAddr, true, false)
	}
	if _, err := svc.Discover(ctx, boot.Sighting{MAC: mustMAC(t, rbdSB), Arch: "x64-uefi", Addr: sbAddr.AsSlice()}); err != nil {
		t.Fatal(err)
	}
	remote := net.IP(sbAddr.AsSlice())
	tests := []struct {
		golden, mac, name string
		tftp              bool
		tokens            int
	}{
		{"grub-tftp.cfg", rbdSB, "grub/grub.cfg-01-52-54-00-00-01-04", true, 1},
		{"grub-tftp.cfg", rbdSB, "/grub/grub.cfg", true, 1}, // Debian's GRUB: the node at the asking address
		{"grub-http.cfg", rbdSB, "grub/grub.cfg-01-52-54-00-00-01-04", false, 1},
		{"grub-quoted.cfg", rbdSBX, "grub/grub.cfg-01-52-54-00-00-01-05", true, 1},
		{"grub-refused.cfg", rbdSBQ, "grub/grub.cfg-01-52-54-00-00-01-06", true, 0},
	}
	for _, tt := range tests {
		var c *bootfs.Content
		var node *boot.Node
		var err error
		if tt.tftp {
			c, node, err = f.TFTP(ctx, remote, tt.name)
		} else {
			var ok bool
			c, node, ok, err = f.GrubConfig(ctx, tt.name, remote, false)
			if !ok {
				t.Fatalf("GrubConfig(%s): not a name of GRUB's", tt.name)
			}
		}
		if err != nil {
			t.Fatalf("%s (tftp %v) = %v", tt.name, tt.tftp, err)
		}
		if node == nil || node.MAC.String() != tt.mac || c.Kind != bootfs.KindConfig {
			t.Errorf("%s: node %v, kind %s; want %s, config", tt.name, node, c.Kind, tt.mac)
		}
		raw := read(t, c)
		if n := len(bootTokenRE.FindAll(raw, -1)); n != tt.tokens {
			t.Errorf("%s has %d tokens, want %d:\n%s", tt.name, n, tt.tokens, raw)
		}
		checkGolden(t, tt.golden, bootTokenRE.ReplaceAll(raw, []byte("bootd.token=TOKEN")), tt.name)
	}
	// A stranger's address knows no node: Debian's name gets nothing; a
	// node's own name gets its configuration without a token.
	stranger := net.IPv4(198, 18, 0, 99)
	if _, _, err := f.TFTP(ctx, stranger, "/grub/grub.cfg"); !errors.Is(err, bootfs.ErrNotFound) {
		t.Errorf("/grub/grub.cfg from a stranger = %v, want not found", err)
	}
	c, _, err := f.TFTP(ctx, stranger, "grub/grub.cfg-01-52-54-00-00-01-04")
	if err != nil {
		t.Fatal(err)
	}
	if raw := read(t, c); bootTokenRE.Match(raw) {
		t.Errorf("a stranger's grub.cfg has a token:\n%s", raw)
	}
	// The chain's loaders are in the node's tree; a node without Secure
	// Boot has none, nor a grub.cfg.
	for name, want := range map[string]string{bootfs.ShimFile: "SHIM", bootfs.GrubFile: "GRUB"} {
		c, _, err := f.TFTP(ctx, remote, "52-54-00-00-01-04/"+name)
		if err != nil || string(read(t, c)) != want || c.Kind != bootfs.KindLoader {
			t.Errorf("TFTP %s = %v, want %q", name, err, want)
		}
		if _, _, err := f.TFTP(ctx, remote, "52-54-00-00-01-01/"+name); !errors.Is(err, bootfs.ErrNotFound) {
			t.Errorf("TFTP %s of a node without Secure Boot = %v, want not found", name, err)
		}
	}
	if _, _, err := f.TFTP(ctx, remote, "grub/grub.cfg-01-52-54-00-00-01-01"); !errors.Is(err, bootfs.ErrNotFound) {
		t.Errorf("grub.cfg of a node without Secure Boot = %v, want not found", err)
	}
	for _, bad := range []string{"grub/grub.cfg-01-52-54-00-00-01-0", "grub/grub.cfg-01-52:54:00:00:01:04", "grub/x86_64-efi/command.lst"} {
		if _, _, err := f.TFTP(ctx, remote, bad); err == nil || strings.Contains(err.Error(), "52-54-00-00-01-04 ") {
			t.Errorf("TFTP %q = %v, want refused or not found", bad, err)
		}
	}
}

// TestExplainSecureBoot: bootd explain of a Secure Boot node names the
// chain, lists shim, GRUB and grub.cfg among its files, checks the loaders'
// files, and shows its grub.cfg with the token's placeholder.
func TestExplainSecureBoot(t *testing.T) {
	t.Parallel()
	f, svc := rbdFixture(t)
	e, err := f.Explain(context.Background(), mustMAC(t, rbdSB), svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Failed() || !strings.Contains(e.SecureBoot, bootfs.ShimFile) || !strings.Contains(e.SecureBoot, bootfs.GrubFile) {
		t.Errorf("secure boot %q, checks %+v", e.SecureBoot, e.Checks)
	}
	names := map[string]bool{}
	for _, file := range e.Files {
		names[file.Name] = true
	}
	for _, want := range []string{bootfs.ShimFile, bootfs.GrubFile, bootfs.GrubConfigFile} {
		if !names[want] {
			t.Errorf("files %+v lack %s", e.Files, want)
		}
	}
	checks := map[string]bool{}
	for _, c := range e.Checks {
		checks[c.Name] = c.OK
	}
	if !checks["shim file"] || !checks["GRUB file"] {
		t.Errorf("checks %+v, want the shim and GRUB files checked", e.Checks)
	}
	if !strings.Contains(e.GrubConfig, "bootd.token="+bootfs.TokenPlaceholder) || bootTokenRE.MatchString(strings.ReplaceAll(e.GrubConfig, bootfs.TokenPlaceholder, "")) {
		t.Errorf("grub config %q, want the token's placeholder only", e.GrubConfig)
	}
	plain, err := f.Explain(context.Background(), mustMAC(t, rbdDeb), svc, nil)
	if err != nil || plain.SecureBoot != "" || plain.GrubConfig != "" {
		t.Errorf("explain of a node without Secure Boot: %q, %q, %v", plain.SecureBoot, plain.GrubConfig, err)
	}
}
