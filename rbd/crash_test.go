//go:build integration

package rbd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

// The kill -9 tests run the real bootd serve against the cluster, with the
// test-only crash point BOOTD_CRASH_AT making it SIGKILL itself at one step
// of an enroll or a retire. They restart it (which recovers), run bootd
// reconcile, and check through librbd and the monitors that the node is
// whole or absent, and that nothing is left over. They are not parallel:
// bootd reconcile --repair judges every volume in the pool, so no other
// test's volumes may be there meanwhile (Go runs parallel tests after these).

var (
	bootdOnce sync.Once
	bootdPath string
	bootdErr  error
)

// bootdBinary builds cmd/bootd once (with the tags in GOFLAGS, which make sets).
func bootdBinary(t *testing.T) string {
	t.Helper()
	bootdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bootd-crash")
		if err != nil {
			bootdErr = err
			return
		}
		bootdPath = filepath.Join(dir, "bootd")
		out, err := exec.Command("go", "build", "-o", bootdPath, "../cmd/bootd").CombinedOutput()
		if err != nil {
			bootdErr = fmt.Errorf("go build ../cmd/bootd: %v\n%s", err, out)
		}
	})
	if bootdErr != nil {
		t.Fatal(bootdErr)
	}
	return bootdPath
}

// daemon is one run of bootd serve on a data folder.
type daemon struct {
	bin, dataDir, imagesDir, url string
	cmd                          *exec.Cmd
	stderr                       *lockedBuffer
}

// lockedBuffer is a bytes.Buffer that the daemon's stderr copier and the
// test may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// servingRE finds the admin listener (API) in bootd serve's output.
var servingRE = regexp.MustCompile(`admin listener serving on (https://\S+)`)

// start runs bootd serve, crashing at step when it is not empty.
func (d *daemon) start(t *testing.T, step string) {
	t.Helper()
	d.stderr = new(lockedBuffer)
	d.cmd = exec.Command(d.bin, "serve", "--data-dir", d.dataDir, "--http-listen", "127.0.0.1:0",
		"--images-dir", d.imagesDir, "--ceph-conf", testCluster.conf, "--ceph-user", "bootd",
		"--ceph-keyring", testCluster.keyring, "--ceph-golden-namespace", testCluster.golden, "--log-level", "debug")
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if step != "" {
		d.cmd.Env = append(d.cmd.Env, "BOOTD_CRASH_AT="+step)
	}
	d.cmd.Stderr = d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
			d.url = m[1]
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	d.cmd.Wait()
	t.Fatalf("bootd serve did not start; stderr:\n%s", d.stderr)
}

func (d *daemon) stop() {
	if d.cmd != nil && d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	}
}

// waitKilled waits for the daemon to die of SIGKILL, as the crash point makes it.
func (d *daemon) waitKilled(t *testing.T, step string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-done
		t.Fatalf("bootd did not crash at %s; stderr:\n%s", step, d.stderr)
	}
	ws, ok := d.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("bootd ended with %v, want SIGKILL at %s; stderr:\n%s", d.cmd.ProcessState, step, d.stderr)
	}
}

// cli runs a bootd client command against the daemon.
func (d *daemon) cli(args ...string) (string, error) {
	cmd := exec.Command(d.bin, args...)
	cmd.Env = []string{"BOOTD_SERVER=" + d.url, "BOOTD_TOKEN_FILE=" + filepath.Join(d.dataDir, "api-token"),
		"BOOTD_DATA_DIR=" + d.dataDir}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func newDaemon(t *testing.T) *daemon {
	t.Helper()
	d := &daemon{bin: bootdBinary(t), dataDir: t.TempDir(), imagesDir: t.TempDir()}
	def := fmt.Sprintf("name: base\nflavour: initramfs-tools\narch: amd64\nkernel: /nonexistent/vmlinuz\n"+
		"golden:\n  pool: rbd\n  namespace: %s\n  image: base\n  snapshot: v1\nsize: 64M\n", testCluster.golden)
	if err := os.WriteFile(filepath.Join(d.imagesDir, "base.yaml"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// nodeState returns the node's state as bootd show -o json says, "" when unknown.
func (d *daemon) nodeState(t *testing.T, mac boot.MAC) *boot.Node {
	t.Helper()
	out, err := d.cli("show", mac.String(), "-o", "json")
	if err != nil {
		if strings.Contains(out, "unknown machine") {
			return nil
		}
		t.Fatalf("bootd show: %v: %s", err, out)
	}
	var body struct {
		Node *boot.Node `json:"node"`
	}
	if err := json.Unmarshal([]byte(out), &body); err != nil {
		t.Fatalf("bootd show -o json: %v: %s", err, out)
	}
	return body.Node
}

// reconcileFindings runs bootd reconcile [--repair] and returns its findings about mac.
func (d *daemon) reconcileFindings(t *testing.T, mac boot.MAC, repair bool) []boot.Finding {
	t.Helper()
	args := []string{"reconcile", "-o", "json"}
	if repair {
		args = append(args, "--repair")
	}
	out, err := d.cli(args...)
	if err != nil {
		t.Fatalf("bootd %v: %v: %s", args, err, out)
	}
	var r boot.Reconciliation
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bootd reconcile -o json: %v: %s", err, out)
	}
	var mine []boot.Finding
	for _, f := range r.Findings {
		if f.MAC.String() == mac.String() || f.Volume == boot.VolumeName(mac) {
			mine = append(mine, f)
		}
	}
	return mine
}

// checkWhole checks through librbd and the monitors that mac's volume is
// complete (namespace, root cloned from the golden, user) or, when !want,
// that nothing of it exists.
func checkWhole(t *testing.T, mac boot.MAC, want bool) {
	t.Helper()
	ns := boot.VolumeName(mac)
	imgs, caps := imagesIn(t, ns), userCaps(t, "client."+ns)
	if !want {
		if imgs != nil || caps != nil {
			t.Errorf("left over for %s: namespace with images %v, user caps %v; want nothing", mac, imgs, caps)
		}
		return
	}
	if !slices.Equal(imgs, []string{"root"}) || caps == nil {
		t.Fatalf("half-made volume for %s: images %v, user caps %v; want root and a user", mac, imgs, caps)
	}
	img, err := adminImage(t, ns, "root", true)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if p, err := img.GetParent(); err != nil || p.Snap.SnapName != "v1" || p.Image.PoolNamespace != testCluster.golden {
		t.Errorf("root of %s: parent %+v, %v; want the golden snapshot", mac, p, err)
	}
}

func TestKillDuringEnroll(t *testing.T) {
	for _, step := range []string{"enroll:intent", "volume:namespace", "volume:clone", "volume:resize",
		"volume:user", "enroll:node"} {
		t.Run(step, func(t *testing.T) {
			d := newDaemon(t)
			mac := randMAC()
			d.start(t, step)
			if out, err := d.cli("enroll", mac.String(), "--image", "base", "--size", "128M"); err == nil {
				t.Fatalf("enroll answered although bootd was to crash at %s: %s", step, out)
			}
			d.waitKilled(t, step)
			d.start(t, "") // recovers at start
			if f := d.reconcileFindings(t, mac, false); len(f) != 0 {
				t.Errorf("after restart, reconcile still finds %+v", f)
			}
			if f := d.reconcileFindings(t, mac, true); len(f) != 0 {
				t.Errorf("after restart, reconcile --repair still finds %+v", f)
			}
			n := d.nodeState(t, mac)
			// Only a crash after the node was stored leaves it enrolled.
			wantNode := step == "enroll:node"
			if got := n != nil && n.Enrolled(); got != wantNode {
				t.Fatalf("after a crash at %s the node is %+v; want enrolled = %v", step, n, wantNode)
			}
			checkWhole(t, mac, wantNode)
			if wantNode && n.Volume != boot.VolumeName(mac) {
				t.Errorf("node's volume = %q, want %s", n.Volume, boot.VolumeName(mac))
			}
			// The machine can be enrolled (again) and retired cleanly afterwards.
			if !wantNode {
				if out, err := d.cli("enroll", mac.String(), "--image", "base"); err != nil {
					t.Fatalf("enroll after recovery: %v: %s\nbootd's log:\n%s", err, out, d.stderr)
				}
			}
			if out, err := d.cli("retire", mac.String()); err != nil {
				t.Fatalf("retire after recovery: %v: %s\nbootd's log:\n%s", err, out, d.stderr)
			}
			checkWhole(t, mac, false)
		})
	}
}

func TestKillDuringRetire(t *testing.T) {
	for _, step := range []string{"retire:intent", "volume:images", "volume:user-removed",
		"volume:namespace-removed", "retire:node"} {
		t.Run(step, func(t *testing.T) {
			d := newDaemon(t)
			mac := randMAC()
			d.start(t, "")
			for _, args := range [][]string{{"enroll", mac.String(), "--image", "base"},
				{"snapshot", mac.String(), "s1"}, {"reimage", mac.String(), "--keep", "--name", "old"}} {
				if out, err := d.cli(args...); err != nil {
					t.Fatalf("bootd %v: %v: %s\nbootd's log:\n%s", args, err, out, d.stderr)
				}
			}
			d.stop()
			d.start(t, step)
			if out, err := d.cli("retire", mac.String()); err == nil {
				t.Fatalf("retire answered although bootd was to crash at %s: %s", step, out)
			}
			d.waitKilled(t, step)
			d.start(t, "")
			if f := d.reconcileFindings(t, mac, false); len(f) != 0 {
				t.Errorf("after restart, reconcile still finds %+v", f)
			}
			if n := d.nodeState(t, mac); n == nil || n.State != boot.StateRetired || n.Volume != "" {
				t.Errorf("after a crash at %s and a restart the node is %+v, want retired without volume", step, n)
			}
			checkWhole(t, mac, false)
		})
	}
}
