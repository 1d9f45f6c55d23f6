//go:build integration

package rbd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/store"
	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
)

// These tests run against a real cluster: make integration starts one with
// scripts/ceph-cluster.sh and points BOOTD_TEST_CEPH_CONF at its ceph.conf,
// whose keyring is client.admin's. bootd's side of every test connects as
// the client.bootd that script makes, with the caps docs/ceph.md gives
// bootd's user, from its keyring next to ceph.conf (or
// BOOTD_TEST_CEPH_KEYRING): the suite passing is what shows those caps are
// enough. client.admin only prepares the golden image and checks results.

// cluster is what every test shares: an admin connection and bootd's user.
type cluster struct {
	conf      string // ceph.conf with the admin keyring
	admin     *rados.Conn
	keyring   string // client.bootd's keyring file
	golden    string // this run's golden namespace
	goldenRef boot.GoldenRef
}

var testCluster *cluster

func TestMain(m *testing.M) {
	conf := os.Getenv("BOOTD_TEST_CEPH_CONF")
	if conf == "" {
		fmt.Fprintln(os.Stderr, "BOOTD_TEST_CEPH_CONF is not set: run these tests with make integration, which starts a cluster")
		os.Exit(1)
	}
	keyring := os.Getenv("BOOTD_TEST_CEPH_KEYRING")
	if keyring == "" {
		keyring = filepath.Join(filepath.Dir(conf), "client.bootd.keyring")
	}
	c, err := setUpCluster(conf, keyring)
	if err != nil {
		fmt.Fprintln(os.Stderr, "setting up the test cluster:", err)
		os.Exit(1)
	}
	testCluster = c
	code := m.Run()
	c.admin.Shutdown()
	os.Exit(code)
}

func setUpCluster(conf, keyring string) (*cluster, error) {
	if _, err := os.Stat(keyring); err != nil {
		return nil, fmt.Errorf("client.bootd's keyring (scripts/ceph-cluster.sh writes it): %w", err)
	}
	admin, err := rados.NewConn()
	if err != nil {
		return nil, err
	}
	if err := admin.ReadConfigFile(conf); err != nil {
		return nil, err
	}
	if err := admin.Connect(); err != nil {
		return nil, fmt.Errorf("connect as admin: %w", err)
	}
	c := &cluster{conf: conf, admin: admin, keyring: keyring, golden: "golden-" + randHex(4)}
	// The golden image: 64 MiB, a marker at 1 MiB, snapshot v1, protected.
	io, err := admin.OpenIOContext("rbd")
	if err != nil {
		return nil, err
	}
	defer io.Destroy()
	if err := rbd.NamespaceCreate(io, c.golden); err != nil {
		return nil, err
	}
	io.SetNamespace(c.golden)
	opts := rbd.NewRbdImageOptions()
	defer opts.Destroy()
	if err := rbd.CreateImage(io, "base", 64<<20, opts); err != nil {
		return nil, err
	}
	img, err := rbd.OpenImage(io, "base", rbd.NoSnapshot)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if _, err := img.WriteAt([]byte(goldenMarker), 1<<20); err != nil {
		return nil, err
	}
	snap, err := img.CreateSnapshot("v1")
	if err != nil {
		return nil, err
	}
	if err := snap.Protect(); err != nil {
		return nil, err
	}
	c.goldenRef = boot.GoldenRef{Pool: "rbd", Namespace: c.golden, Image: "base", Snapshot: "v1"}
	return c, nil
}

const goldenMarker = "golden image v1"

func adminCommand(conn *rados.Conn, cmd map[string]any, out any) error {
	cmd["format"] = "json"
	b, _ := json.Marshal(cmd)
	buf, status, err := conn.MonCommand(b)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", cmd["prefix"], status, err)
	}
	if out != nil {
		return json.Unmarshal(buf, out)
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// randMAC returns a locally administered MAC no other test uses.
func randMAC() boot.MAC {
	b := make([]byte, 6)
	rand.Read(b)
	b[0] = 0x52
	return boot.MAC(b)
}

// catalog is a boot.Catalog of the run's golden image, under the names
// "base" and "other" (the same golden; "other" names it with the default
// namespace, exercising Config.GoldenNamespace).
type catalog map[string]*boot.Image

func (c catalog) Image(_ context.Context, name string) (*boot.Image, error) {
	if img, ok := c[name]; ok {
		cp := *img
		return &cp, nil
	}
	return nil, fmt.Errorf("%w %q", boot.ErrUnknownImage, name)
}

func (c catalog) Images(context.Context) ([]*boot.Image, error) {
	var out []*boot.Image
	for _, img := range c {
		out = append(out, img)
	}
	return out, nil
}

// fixture is a Client as bootd's user and a Service over it with a real store.
type fixture struct {
	client *Client
	svc    *boot.Service
	db     *store.DB
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := Open(Config{ConfFile: testCluster.conf, User: "bootd", KeyringFile: testCluster.keyring,
		Pool: "rbd", GoldenNamespace: testCluster.golden, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("Open as bootd's user: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	db, err := store.Open(filepath.Join(t.TempDir(), store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := testCluster.goldenRef
	cat := catalog{
		"base":  {Name: "base", Golden: g, SizeBytes: 64 << 20},
		"other": {Name: "other", Golden: boot.GoldenRef{Image: g.Image, Snapshot: g.Snapshot}, SizeBytes: 96 << 20},
	}
	svc, err := boot.NewService(boot.Config{Store: db, Catalog: cat, Volumes: c, Leases: true})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{client: c, svc: svc, db: db}
}

// enroll enrolls a fresh MAC on image "base" with size and returns it.
func (f *fixture) enroll(t *testing.T, size int64) boot.MAC {
	t.Helper()
	mac := randMAC()
	if _, err := f.svc.Enroll(t.Context(), boot.EnrollRequest{MAC: mac, Image: "base", SizeBytes: size}); err != nil {
		t.Fatalf("Enroll(%s): %v", mac, err)
	}
	t.Cleanup(func() { f.svc.Retire(context.Background(), mac) })
	return mac
}

// nodeConn connects to the cluster as mac's node user with key.
func nodeConn(t *testing.T, mac boot.MAC, key string) *rados.Conn {
	t.Helper()
	conn, err := dialNode(t, mac, key, 10)
	if err != nil {
		t.Fatalf("connect as %s: %v", boot.VolumeName(mac), err)
	}
	return conn
}

// dialNode connects as mac's node user with key, waiting up to secs
// seconds for each monitor and OSD answer; the test's cleanup shuts the
// connection down.
func dialNode(t *testing.T, mac boot.MAC, key string, secs int) (*rados.Conn, error) {
	t.Helper()
	conn, err := rados.NewConnWithUser(boot.VolumeName(mac))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Shutdown)
	mon, err := testCluster.admin.GetConfigOption("mon_host")
	if err != nil {
		t.Fatal(err)
	}
	s := strconv.Itoa(secs)
	for k, v := range map[string]string{"mon_host": mon, "key": key, "rados_osd_op_timeout": s,
		"rados_mon_op_timeout": s, "client_mount_timeout": s, "keyring": "/dev/null"} {
		if err := conn.SetConfigOption(k, v); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	return conn, conn.Connect()
}

// adminImage opens pool rbd, namespace ns, image name as admin (read-only
// when ro), for checks that go around bootd.
func adminImage(t *testing.T, ns, name string, ro bool) (*rbd.Image, error) {
	t.Helper()
	io, err := testCluster.admin.OpenIOContext("rbd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(io.Destroy)
	io.SetNamespace(ns)
	if ro {
		return rbd.OpenImageReadOnly(io, name, rbd.NoSnapshot)
	}
	return rbd.OpenImage(io, name, rbd.NoSnapshot)
}

// readAt reads n bytes at off from an image as admin.
func readAt(t *testing.T, ns, image string, off int64, n int) string {
	t.Helper()
	img, err := adminImage(t, ns, image, true)
	if err != nil {
		t.Fatalf("open %s/%s: %v", ns, image, err)
	}
	defer img.Close()
	b := make([]byte, n)
	if _, err := img.ReadAt(b, off); err != nil {
		t.Fatalf("read %s/%s: %v", ns, image, err)
	}
	return string(b)
}

// writeAt writes s at off into an image as admin.
func writeAt(t *testing.T, ns, image string, off int64, s string) {
	t.Helper()
	img, err := adminImage(t, ns, image, false)
	if err != nil {
		t.Fatalf("open %s/%s: %v", ns, image, err)
	}
	defer img.Close()
	if _, err := img.WriteAt([]byte(s), off); err != nil {
		t.Fatalf("write %s/%s: %v", ns, image, err)
	}
}

// imagesIn lists namespace ns's images as admin; nil when ns does not exist.
func imagesIn(t *testing.T, ns string) []string {
	t.Helper()
	io, err := testCluster.admin.OpenIOContext("rbd")
	if err != nil {
		t.Fatal(err)
	}
	defer io.Destroy()
	ok, err := rbd.NamespaceExists(io, ns)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil
	}
	io.SetNamespace(ns)
	names, err := rbd.GetImageNames(io)
	if err != nil {
		t.Fatal(err)
	}
	if names == nil {
		names = []string{}
	}
	return names
}

// userCaps returns a Ceph user's caps as admin, or nil when it does not exist.
func userCaps(t *testing.T, entity string) map[string]string {
	t.Helper()
	var out []struct {
		Caps map[string]string `json:"caps"`
	}
	err := adminCommand(testCluster.admin, map[string]any{"prefix": "auth get", "entity": entity}, &out)
	if err != nil {
		var ce interface{ ErrorCode() int }
		if errors.As(err, &ce) && (ce.ErrorCode() == -2 || ce.ErrorCode() == 2) {
			return nil
		}
		t.Fatalf("auth get %s: %v", entity, err)
	}
	if len(out) != 1 {
		t.Fatalf("auth get %s: %d entries", entity, len(out))
	}
	return out[0].Caps
}
