package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storeView is what the CLI shows of a store: the node list, and each
// node's record and timeline, as JSON.
func storeView(t *testing.T, d *daemon, macs []string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"list", "-o", "json"}} {
		b.WriteString(d.cli(t, args...).stdout)
	}
	for _, m := range macs {
		for _, sub := range []string{"show", "timeline"} {
			r := d.cli(t, sub, m, "-o", "json")
			if r.code != 0 {
				t.Fatalf("bootd %s %s = %+v", sub, m, r)
			}
			b.WriteString(r.stdout)
		}
	}
	return b.String()
}

// filledDaemon starts bootd serve and enrolls three machines, each with a
// boot script fetched (an event on its timeline).
func filledDaemon(t *testing.T) (*daemon, []string) {
	t.Helper()
	d := startDaemon(t)
	var macs []string
	for i := range 3 {
		mac := fmt.Sprintf("52:54:00:00:00:%02x", i+1)
		if r := d.cli(t, "enroll", mac, "--image", "debian-12", "--hostname", fmt.Sprintf("web%d", i)); r.code != 0 {
			t.Fatalf("enroll %s = %+v", mac, r)
		}
		resp, err := http.Get(d.bootURL + "/boot/" + strings.ReplaceAll(mac, ":", "-") + "/boot.ipxe")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		macs = append(macs, mac)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) { // fetch events are written soon after
		if r := d.cli(t, "timeline", macs[2], "-o", "json"); strings.Contains(r.stdout, `"script"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script fetch never reached the timeline")
		}
	}
	return d, macs
}

// TestBackupRestores takes a backup with bootd backup while bootd serves,
// starts another bootd on it, and finds the same nodes and timelines.
func TestBackupRestores(t *testing.T) {
	t.Parallel()
	d, macs := filledDaemon(t)
	want := storeView(t, d, macs)
	file := filepath.Join(t.TempDir(), "backup.db")
	os.WriteFile(file, []byte("an older backup"), 0o644) // replaced whole
	r := d.cli(t, "backup", file)
	if r.code != 0 || !strings.Contains(r.stdout, "backup of 3 nodes written to "+file) {
		t.Fatalf("bootd backup = %+v", r)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	d.stop(t)

	dir := t.TempDir()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootd.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := startDaemonSaw(t, nil, "--data-dir", dir)
	restored.tokenFile, restored.dataDir = filepath.Join(dir, "api-token"), dir
	if got := storeView(t, restored, macs); got != want {
		t.Errorf("restored store shows\n%s\nwant\n%s", got, want)
	}

	if r := restored.cli(t, "backup", filepath.Join(t.TempDir(), "none", "b.db")); r.code != 1 || !strings.Contains(r.stderr, "backup:") {
		t.Errorf("bootd backup into a missing folder = %+v, want exit 1 saying why", r)
	}
	bad := restored
	bad.tokenFile = filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(bad.tokenFile, []byte("wrong"), 0o600)
	if r := bad.cli(t, "backup", filepath.Join(t.TempDir(), "b.db")); r.code != 1 || !strings.Contains(r.stderr, "refused the API token") {
		t.Errorf("bootd backup with a wrong token = %+v, want a refusal", r)
	}
}

// TestServeRefusesDamagedStore: bootd serve on an empty, cut short or
// bit-flipped store file stops at once with exit status 1 and a message
// naming the file and the backup, without a panic, and leaves the file as
// it was.
func TestServeRefusesDamagedStore(t *testing.T) {
	t.Parallel()
	d, _ := filledDaemon(t)
	good := filepath.Join(t.TempDir(), "good.db")
	if r := d.cli(t, "backup", good); r.code != 0 {
		t.Fatalf("bootd backup = %+v", r)
	}
	d.stop(t)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// The node's JSON may stand in the file more than once (a page freed by
	// a later write keeps its old copy): flip a bit in every copy, so the
	// live one is among them.
	flipped := bytes.Clone(orig)
	for i, rest := 0, orig; ; {
		at := bytes.Index(rest, []byte(`"hostname":"web1"`))
		if at < 0 {
			break
		}
		flipped = flipBit(flipped, i+at)
		i, rest = i+at+1, rest[at+1:]
	}
	if bytes.Equal(flipped, orig) {
		t.Fatal("no node web1 in the store file")
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "it is empty (0 bytes)"},
		{"truncated", orig[:len(orig)/2], "cut short"},
		{"bit-flipped", flipped, "garbled"},
		{"meta pages flipped", flipBit(flipBit(orig, 20), 4096+20), "not a readable bbolt file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "bootd.db")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			// A store taken for sound would serve forever: the context ends it.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bootdBin, "serve", "--data-dir", dir, "--http-listen", "127.0.0.1:0")
			cmd.Env = cleanEnv()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			msg := stderr.String()
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("bootd serve on a %s store = %v, want exit status 1; stderr:\n%s", tc.name, err, msg)
			}
			for _, w := range []string{"store file is damaged", path, tc.want, `"bootd backup"`, "move the file away"} {
				if !strings.Contains(msg, w) {
					t.Errorf("bootd serve on a %s store says %q; want it to say %q", tc.name, msg, w)
				}
			}
			if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") || strings.Count(msg, "\n") != 1 {
				t.Errorf("bootd serve on a %s store: want one line, no panic; stderr:\n%s", tc.name, msg)
			}
			if strings.Contains(stdout.String(), "serving") {
				t.Errorf("bootd serve on a %s store started serving", tc.name)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tc.data) {
				t.Errorf("bootd serve changed the %s store file", tc.name)
			}
		})
	}
}

func flipBit(b []byte, at int) []byte {
	b = bytes.Clone(b)
	b[at] ^= 1
	return b
}
