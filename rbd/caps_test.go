//go:build integration

package rbd

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
)

// Least privilege: what a node's key and bootd's key are refused. See
// docs/ceph.md, "What each node can reach" and "bootd's own Ceph user".

// monCommandAs runs a monitor command on conn and returns its error.
func monCommandAs(conn *rados.Conn, cmd map[string]any) error {
	cmd["format"] = "json"
	b, _ := json.Marshal(cmd)
	_, _, err := conn.MonCommand(b)
	return err
}

// TestNodeKeyCannotBlocklist: a node's key is refused `osd blocklist add`
// of another node's client (Ceph's "profile rbd" would allow it), so one
// compromised node cannot fence the rack. bootd's key is allowed.
func TestNodeKeyCannotBlocklist(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.enroll(t, 0), f.enroll(t, 0)
	holdVolume(t, f, b)
	hs, err := f.client.Holders(t.Context(), boot.VolumeName(b))
	if err != nil || len(hs) == 0 {
		t.Fatalf("Holders(%s) = %v, %v; want the client holding it", b, hs, err)
	}
	victim := hs[0].Addr
	key, err := f.client.Key(t.Context(), boot.VolumeName(a))
	if err != nil {
		t.Fatal(err)
	}
	node := nodeConn(t, a, key)
	err = monCommandAs(node, map[string]any{"prefix": "osd blocklist", "blocklistop": "add", "addr": victim})
	if err == nil {
		adminCommand(testCluster.admin, map[string]any{"prefix": "osd blocklist", "blocklistop": "rm", "addr": victim}, nil)
		t.Fatalf("node %s blocklisted %s's client %s, want refused", a, b, victim)
	}
	if !hasErrno(err, syscall.EACCES) {
		t.Errorf("node %s: osd blocklist add %s = %v, want EACCES", a, victim, err)
	}
	if err := monCommandAs(node, map[string]any{"prefix": "auth get-key", "entity": "client." + boot.VolumeName(b)}); !hasErrno(err, syscall.EACCES) {
		t.Errorf("node %s reading %s's key: %v, want EACCES", a, b, err)
	}
	// bootd's key may: that is how it fences (fence.go).
	if err := f.client.Release(t.Context(), boot.VolumeName(b), hs); err != nil {
		t.Errorf("bootd releasing %s: %v", b, err)
	}
	waitReleased(t, f, b)
}

// clientAddr returns the address the cluster sees this process's clients
// connect from: the kernel's choice of source address towards the
// monitors. (librados clients do not bind to public_addr: in Ceph 16.2
// only the OSD's heartbeat messengers call client_bind, so a test cannot
// pick another loopback address for one connection.)
func clientAddr(t *testing.T) netip.Addr {
	t.Helper()
	mon, err := testCluster.admin.GetConfigOption("mon_host")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`v2:([0-9.]+:[0-9]+)`).FindStringSubmatch(mon)
	if m == nil {
		t.Fatalf("no msgr2 address in mon_host %q", mon)
	}
	c, err := net.DialTimeout("tcp", m[1], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
}

// otherLoopback returns a 127.0.0.0/8 address that is not addr.
func otherLoopback(addr netip.Addr) netip.Addr {
	other := netip.MustParseAddr("127.0.0.12")
	if other == addr {
		other = other.Next()
	}
	return other
}

// writeRoot connects as mac's node with key (waiting at most secs per
// step) and writes to its root; it returns the first error.
func writeRoot(t *testing.T, mac boot.MAC, key string, secs int) error {
	t.Helper()
	conn, err := dialNode(t, mac, key, secs)
	if err != nil {
		return err
	}
	io, err := conn.OpenIOContext("rbd")
	if err != nil {
		return err
	}
	defer io.Destroy()
	io.SetNamespace(boot.VolumeName(mac))
	img, err := rbd.OpenImage(io, "root", rbd.NoSnapshot)
	if err != nil {
		return err
	}
	defer img.Close()
	_, err = img.WriteAt([]byte("confined"), 0)
	return err
}

// TestConfine: after Confine(addr) the cluster refuses the node's key from
// any other address (monitors and OSDs both check cephx's network clause)
// and accepts it from addr; after Confine(invalid) it accepts it from
// anywhere again.
// TestConfineSkipsUnchanged: a node that boots again at its address finds
// its caps right, and Confine reads them instead of writing them (one
// monitor read, no Paxos round); another address is written, and the caps
// read back are the new ones.
func TestConfineSkipsUnchanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ns := boot.VolumeName(mac)
	here := clientAddr(t)
	elsewhere := otherLoopback(here)
	for i, step := range []struct {
		addr   netip.Addr
		writes int64
	}{{here, 1}, {here, 1}, {elsewhere, 2}, {elsewhere, 2}, {here, 3}} {
		if err := f.client.Confine(t.Context(), ns, step.addr); err != nil {
			t.Fatalf("Confine %d (%s): %v", i, step.addr, err)
		}
		if got := f.client.capsWrites.Load(); got != step.writes {
			t.Errorf("after Confine %d (%s): %d caps writes, want %d", i, step.addr, got, step.writes)
		}
		if caps := userCaps(t, "client."+ns); !strings.HasSuffix(caps["mon"], " network "+step.addr.String()+"/32") {
			t.Errorf("after Confine %d (%s): caps %v", i, step.addr, caps)
		}
	}
}

func TestConfine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ns := boot.VolumeName(mac)
	key, err := f.client.Key(t.Context(), boot.VolumeName(mac))
	if err != nil {
		t.Fatal(err)
	}
	here := clientAddr(t)
	elsewhere := otherLoopback(here)

	if err := f.client.Confine(t.Context(), ns, elsewhere); err != nil {
		t.Fatalf("Confine(%s, %s): %v", ns, elsewhere, err)
	}
	caps := userCaps(t, "client."+ns)
	want := " network " + elsewhere.String() + "/32"
	if !strings.HasSuffix(caps["mon"], want) || strings.Count(caps["osd"], want) != 2 {
		t.Errorf("caps after Confine(%s) = %v, want every grant to end in %q", elsewhere, caps, want)
	}
	if err := writeRoot(t, mac, key, 5); err == nil {
		t.Errorf("node key confined to %s wrote its root from %s, want refused", elsewhere, here)
	}

	if err := f.client.Confine(t.Context(), ns, here); err != nil {
		t.Fatalf("Confine(%s, %s): %v", ns, here, err)
	}
	if err := writeRoot(t, mac, key, 10); err != nil {
		t.Errorf("node key confined to %s, writing its root from %s: %v, want allowed", here, here, err)
	}

	if err := f.client.Confine(t.Context(), ns, netip.Addr{}); err != nil {
		t.Fatalf("Confine(%s, invalid): %v", ns, err)
	}
	if caps := userCaps(t, "client."+ns); strings.Contains(caps["mon"]+caps["osd"], "network") {
		t.Errorf("caps after Confine(invalid) = %v, want no network clause", caps)
	}
	if err := writeRoot(t, mac, key, 10); err != nil {
		t.Errorf("node key after Confine(invalid): %v, want allowed", err)
	}
	if err := f.client.Confine(t.Context(), "node-000000000000", here); !errors.Is(err, boot.ErrNotFound) {
		t.Errorf("Confine of a volume that does not exist = %v, want not found", err)
	}
}

// TestConfineFixesOldCaps: a node user made by an older bootd, with
// `mon 'profile rbd'`, gets the node caps back at its next Confine.
func TestConfineFixesOldCaps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ns := boot.VolumeName(mac)
	g := testCluster.goldenRef
	old := []string{"mon", "profile rbd", "osd", "profile rbd pool=rbd namespace=" + ns}
	if err := adminCommand(testCluster.admin, map[string]any{"prefix": "auth caps", "entity": "client." + ns, "caps": old}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Confine(t.Context(), ns, netip.Addr{}); err != nil {
		t.Fatalf("Confine: %v", err)
	}
	caps := userCaps(t, "client."+ns)
	wantOSD := "profile rbd pool=rbd namespace=" + ns + ", profile rbd-read-only pool=rbd namespace=" + g.Namespace
	if caps["mon"] != "allow r" || caps["osd"] != wantOSD {
		t.Errorf("caps after Confine = %v, want mon 'allow r' osd %q", caps, wantOSD)
	}
}

// TestBootdKeyLimits: bootd's own key (client.bootd, caps of docs/ceph.md)
// is refused what would make it an administrator: other users' keys and
// caps, users not named like a node, node users with more than node caps
// on the monitors or OSDs, blocklisting a whole host. Each probe is
// harmless should it be allowed (a throwaway user, a pool that does not
// exist), so a wrong caps list fails this test without breaking the others.
func TestBootdKeyLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ns := "client." + boot.VolumeName(mac)
	g := testCluster.goldenRef
	nodeOSD := "profile rbd pool=rbd namespace=" + boot.VolumeName(mac) + ", profile rbd-read-only pool=rbd namespace=" + g.Namespace
	probe, made := "client.probe-"+randHex(4), "client.probe-"+randHex(4)
	if err := adminCommand(testCluster.admin, map[string]any{"prefix": "auth get-or-create", "entity": probe,
		"caps": []string{"mon", "allow r"}}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, e := range []string{probe, made, "client.node-0123456789ab"} {
			adminCommand(testCluster.admin, map[string]any{"prefix": "auth rm", "entity": e}, nil)
		}
		adminCommand(testCluster.admin, map[string]any{"prefix": "osd blocklist", "blocklistop": "rm", "addr": "127.0.0.99:0/0"}, nil)
	})
	for _, tc := range []struct {
		what string
		cmd  map[string]any
	}{
		{"read client.admin's key", map[string]any{"prefix": "auth get-key", "entity": "client.admin"}},
		{"read client.admin's entry", map[string]any{"prefix": "auth get", "entity": "client.admin"}},
		{"list users", map[string]any{"prefix": "auth ls"}},
		{"create a user not named like a node", map[string]any{"prefix": "auth get-or-create", "entity": made,
			"caps": []string{"mon", "allow r"}}},
		{"change another user's caps", map[string]any{"prefix": "auth caps", "entity": probe,
			"caps": []string{"mon", "allow r", "osd", nodeOSD}}},
		{"remove another user", map[string]any{"prefix": "auth rm", "entity": probe}},
		{"give a node mon 'allow *'", map[string]any{"prefix": "auth caps", "entity": ns,
			"caps": []string{"mon", "allow *", "osd", nodeOSD}}},
		{"give a node mon 'profile rbd' (blocklist)", map[string]any{"prefix": "auth caps", "entity": ns,
			"caps": []string{"mon", "profile rbd", "osd", nodeOSD}}},
		{"give a node osd 'allow *'", map[string]any{"prefix": "auth caps", "entity": ns,
			"caps": []string{"mon", "allow r", "osd", "allow *"}}},
		{"create a node user with osd 'allow *'", map[string]any{"prefix": "auth get-or-create", "entity": "client.node-0123456789ab",
			"caps": []string{"mon", "allow r", "osd", "allow *"}}},
		{"blocklist a whole host", map[string]any{"prefix": "osd blocklist", "blocklistop": "add", "addr": "127.0.0.99:0/0"}},
		{"remove a blocklist entry", map[string]any{"prefix": "osd blocklist", "blocklistop": "rm", "addr": "127.0.0.99:0/1"}},
		{"read a config key", map[string]any{"prefix": "config-key get", "key": "mgr/x"}},
		{"delete a pool", map[string]any{"prefix": "osd pool rm", "pool": "none-" + randHex(4), "pool2": "none",
			"yes_i_really_really_mean_it": true}},
	} {
		err := f.client.monCommand(t.Context(), tc.cmd, nil)
		if !hasErrno(err, syscall.EACCES) {
			t.Errorf("bootd's key: %s: %v, want EACCES", tc.what, err)
		}
	}
	if caps := userCaps(t, ns); caps["mon"] != "allow r" {
		t.Errorf("caps of %s = %v, want them unchanged", ns, caps)
	}
}

// TestDeniedIsNotDown: Ceph refusing bootd's user an operation its caps
// lack comes back as boot.ErrDenied, which the key release logs and shows
// as the misconfiguration it is rather than as Ceph down. The user here has
// `mon 'allow r'` and no OSD caps: opening a root (Holders, and Confine,
// which reads the root's parent first; the OSDs answer EPERM) and
// blocklisting a holder (Release; the monitors answer EACCES) are each
// refused. (bootd's user with the caps docs/ceph.md gives it meets no such
// refusal: the rest of this suite.)
func TestDeniedIsNotDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mac := f.enroll(t, 0)
	ns := boot.VolumeName(mac)
	entity := "client.bootd-short-" + randHex(3)
	var made []struct {
		Key string `json:"key"`
	}
	if err := adminCommand(testCluster.admin, map[string]any{"prefix": "auth get-or-create", "entity": entity,
		"caps": []string{"mon", "allow r"}}, &made); err != nil || len(made) != 1 {
		t.Fatalf("auth get-or-create %s: %v (%d entries)", entity, err, len(made))
	}
	t.Cleanup(func() { adminCommand(testCluster.admin, map[string]any{"prefix": "auth del", "entity": entity}, nil) })
	keyring := filepath.Join(t.TempDir(), "keyring")
	if err := os.WriteFile(keyring, []byte("["+entity+"]\n\tkey = "+made[0].Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(Config{ConfFile: testCluster.conf, User: strings.TrimPrefix(entity, "client."), KeyringFile: keyring,
		Pool: "rbd", GoldenNamespace: testCluster.golden, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open as %s: %v", entity, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Confine(t.Context(), ns, clientAddr(t)); !errors.Is(err, boot.ErrDenied) {
		t.Errorf("Confine without the auth caps command = %v, want ErrDenied", err)
	}
	// 127.0.0.9 holds nothing: were the blocklist allowed, it would fence no one.
	if err := c.Release(t.Context(), ns, []boot.Holder{{Addr: "127.0.0.9:0/4242", Client: "client.4242"}}); !errors.Is(err, boot.ErrDenied) {
		t.Errorf("Release without osd blocklist = %v, want ErrDenied", err)
	}
	if _, err := c.Holders(t.Context(), ns); !errors.Is(err, boot.ErrDenied) {
		t.Errorf("Holders without OSD caps = %v, want ErrDenied", err)
	}
	// The same calls as bootd's own user are not refused.
	if _, err := f.client.Holders(t.Context(), ns); err != nil {
		t.Errorf("Holders as bootd's user = %v", err)
	}
	if err := f.client.Confine(t.Context(), ns, clientAddr(t)); err != nil {
		t.Errorf("Confine as bootd's user = %v", err)
	}
}
