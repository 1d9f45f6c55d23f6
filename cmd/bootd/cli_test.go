package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bootdBin is the bootd binary built once for these tests.
var bootdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bootd-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootdBin = filepath.Join(dir, "bootd")
	if out, err := exec.Command("go", "build", "-o", bootdBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building bootd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running bootd serve: url is its admin listener (API and
// dashboard, TLS), bootURL its boot listener.
type daemon struct {
	url, bootURL, dataDir, tokenFile string
	cmd                              *exec.Cmd
	stderr                           *bytes.Buffer
}

var (
	bootURLRE  = regexp.MustCompile(`boot listener serving on (http://\S+)`)
	adminURLRE = regexp.MustCompile(`admin listener serving on (https?://\S+)`)
)

// startDaemon runs bootd serve on a free loopback port with a fresh data folder.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	return startDaemonSaw(t, nil, extra...)
}

// startDaemonSaw is startDaemon, passing saw (when not nil) each line bootd
// serve prints up to its address, that line included.
func startDaemonSaw(t *testing.T, saw func(line string), extra ...string) *daemon {
	t.Helper()
	d := &daemon{dataDir: t.TempDir(), stderr: new(bytes.Buffer)}
	d.tokenFile = filepath.Join(d.dataDir, "api-token")
	args := append([]string{"serve", "--data-dir", d.dataDir, "--http-listen", "127.0.0.1:0"}, extra...)
	d.cmd = exec.Command(bootdBin, args...)
	d.cmd.Env = cleanEnv()
	d.cmd.Stderr = d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(t) })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if saw != nil {
			saw(sc.Text())
		}
		if m := bootURLRE.FindStringSubmatch(sc.Text()); m != nil {
			d.bootURL = m[1]
		}
		if m := adminURLRE.FindStringSubmatch(sc.Text()); m != nil {
			d.url = m[1]
			go func() { // drain the rest
				for sc.Scan() {
				}
			}()
			return d
		}
	}
	d.cmd.Wait()
	t.Fatalf("bootd serve printed no address; stderr:\n%s", d.stderr)
	return nil
}

func (d *daemon) stop(t *testing.T) {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("bootd serve exited with %v after SIGTERM; stderr:\n%s", err, d.stderr)
		}
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		t.Errorf("bootd serve did not stop within 15 s of SIGTERM")
	}
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BOOTD_") {
			env = append(env, kv)
		}
	}
	return env
}

// result is one CLI run.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the bootd binary with the daemon's server and token in the environment.
func (d *daemon) cli(t *testing.T, args ...string) result {
	t.Helper()
	return runBootdEnv(t, []string{"BOOTD_SERVER=" + d.url, "BOOTD_TOKEN_FILE=" + d.tokenFile, "BOOTD_DATA_DIR=" + d.dataDir}, args...)
}

// runBootdEnv runs the bootd binary with env added to a clean environment.
func runBootdEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bootdBin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEnrollListForget(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	r := d.cli(t, "enroll", "52-54-00-12-34-56", "--image", "debian-12", "--hostname", "web1", "--size", "30G")
	if r.code != 0 || !strings.Contains(r.stdout, "enrolled 52:54:00:12:34:56 as web1 on image debian-12 (30G)") {
		t.Fatalf("enroll = %+v", r)
	}
	if !strings.Contains(r.stdout, "no volume backend") {
		t.Errorf("enroll without a volume backend does not say so: %q", r.stdout)
	}
	r = d.cli(t, "list", "-o", "json")
	var list struct {
		Nodes []struct {
			MAC, Image, Hostname, State string
			Volume                      string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 0 {
		t.Fatalf("list -o json = %+v, decode: %v", r, err)
	}
	if len(list.Nodes) != 1 || list.Nodes[0].MAC != "52:54:00:12:34:56" || list.Nodes[0].Image != "debian-12" ||
		list.Nodes[0].State != "enrolled" || list.Nodes[0].Volume != "" {
		t.Errorf("list -o json = %+v, want the node on debian-12, enrolled, no volume", list.Nodes)
	}
	if r = d.cli(t, "list"); r.code != 0 || !strings.Contains(r.stdout, "web1") {
		t.Errorf("list = %+v, want a table with web1", r)
	}
	for _, args := range [][]string{
		{"show", "5254.0012.3456"}, {"assign", "52:54:00:12:34:56", "alpine-3.20"},
		{"netboot", "52:54:00:12:34:56", "off"}, {"timeline", "52:54:00:12:34:56"}, {"images"},
	} {
		if r = d.cli(t, args...); r.code != 0 {
			t.Errorf("bootd %s = %+v, want success", strings.Join(args, " "), r)
		}
	}
	if r = d.cli(t, "show", "52:54:00:12:34:56", "-o", "json"); !strings.Contains(r.stdout, `"netboot": false`) ||
		!strings.Contains(r.stdout, `"image": "alpine-3.20"`) {
		t.Errorf("show after assign and netboot off = %s", r.stdout)
	}
	if r = d.cli(t, "forget", "52:54:00:12:34:56"); r.code != 0 {
		t.Fatalf("forget = %+v", r)
	}
	if r = d.cli(t, "list", "-o", "json"); !strings.Contains(r.stdout, `"nodes": []`) {
		t.Errorf("list after forget = %s, want no nodes", r.stdout)
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	if r := d.cli(t, "enroll", "52:54:00:00:00:01", "--image", "debian-12"); r.code != 0 {
		t.Fatalf("enroll = %+v", r)
	}
	badToken := filepath.Join(t.TempDir(), "token")
	os.WriteFile(badToken, []byte("not-the-token\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad MAC", []string{"enroll", "52:54:00:zz", "--image", "debian-12"}, 1, `bad MAC address "52:54:00:zz"`},
		{"unknown image", []string{"enroll", "52:54:00:00:00:02", "--image", "nope"}, 1, `unknown image "nope"`},
		{"missing image flag", []string{"enroll", "52:54:00:00:00:02"}, 2, "--image is required"},
		{"already enrolled", []string{"enroll", "52:54:00:00:00:01", "--image", "debian-12"}, 1, "already enrolled"},
		{"unknown machine", []string{"show", "52:54:00:00:00:09"}, 1, "unknown machine"},
		{"bad size", []string{"enroll", "52:54:00:00:00:02", "--image", "debian-12", "--size", "lots"}, 1, `bad size "lots"`},
		{"bad hostname", []string{"enroll", "52:54:00:00:00:02", "--image", "debian-12", "--hostname", "No_Way"}, 1, "bad hostname"},
		{"netboot word", []string{"netboot", "52:54:00:00:00:01", "maybe"}, 2, "on|off|once"},
		{"missing argument", []string{"show"}, 2, "bootd show <mac>"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"reimage without volumes", []string{"reimage", "52:54:00:00:00:01"}, 1, "no volume backend"},
		{"unreachable daemon", []string{"list", "--server", "http://127.0.0.1:1"}, 1, "cannot reach bootd at http://127.0.0.1:1"},
		{"refused token", []string{"list", "--token-file", badToken}, 1, "refused the API token"},
		{"missing token file", []string{"list", "--token-file", "/nonexistent/token"}, 1, "no API token"},
		{"bad output", []string{"list", "-o", "yaml"}, 2, `-o "yaml"`},
	} {
		r := d.cli(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: bootd %s = exit %d, stderr %q; want exit %d and %q", tc.name,
				strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		} else if tc.code == 1 && len(lines) != 1 {
			t.Errorf("%s: message is %d lines, want one: %q", tc.name, len(lines), r.stderr)
		}
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bootd.yaml")
	os.WriteFile(cfg, []byte("data_dir: "+dir+"\nhttp_listn: 1\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", cfg}, "field http_listn not found"},
		{[]string{"--data-dir", dir, "--dhcp-mode", "sideways"}, `--dhcp-mode "sideways"`},
		{[]string{"--data-dir", dir, "--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"--data-dir", dir, "--images-dir", filepath.Join(dir, "none")}, "image catalog"},
	} {
		cmd := exec.Command(bootdBin, append([]string{"serve", "--http-listen", "127.0.0.1:0"}, tc.args...)...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 || !strings.Contains(string(out), tc.want) {
			t.Errorf("bootd serve %v = %v, %q; want failure mentioning %q", tc.args, err, out, tc.want)
		}
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	cmd := exec.Command(bootdBin, "serve", "--data-dir", d.dataDir, "--http-listen", "127.0.0.1:0")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another bootd") {
		t.Errorf("second bootd on the same data folder = %v, %q; want a refusal", err, out)
	}
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "bootd.yaml")
	os.WriteFile(cfgFile, []byte("data_dir: /from/file\nhttp_listen: 127.0.0.1:1111\nlog_level: warn\nimages_dir: imgs\n"), 0o600)
	env := map[string]string{"BOOTD_CONFIG": cfgFile, "BOOTD_HTTP_LISTEN": "127.0.0.1:2222", "BOOTD_LOG_LEVEL": "error"}
	cfg, err := loadServeConfig([]string{"--log-level", "debug"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := defaultServeConfig()
	want.DataDir, want.HTTPListen, want.ImagesDir = "/from/file", "127.0.0.1:2222", filepath.Join(dir, "imgs")
	want.LogLevel = "debug"
	if cfg != want {
		t.Errorf("loadServeConfig = %+v, want %+v", cfg, want)
	}
}
