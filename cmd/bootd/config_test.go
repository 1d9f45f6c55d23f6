package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/tftp"
)

// loadServeConfig parses args as bootd serve's command line, as run does,
// and builds the configuration from it and getenv.
func loadServeConfig(args []string, getenv func(string) string) (serveConfig, error) {
	c, _ := lookup("serve")
	inv, err := parseCommand(c, args)
	if err != nil {
		return serveConfig{}, err
	}
	return inv.flags.(*serveFlags).load(getenv)
}

// TestCephMsModeSetting: --ceph-ms-mode and BOOTD_CEPH_MS_MODE reach
// serveConfig (the flag over the environment), and an unknown mode is
// refused before bootd starts.
func TestCephMsModeSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{nil, nil, "", ""},
		{[]string{"--ceph-ms-mode", "secure"}, nil, "secure", ""},
		{nil, map[string]string{"BOOTD_CEPH_MS_MODE": "crc"}, "crc", ""},
		{[]string{"--ceph-ms-mode", "legacy"}, map[string]string{"BOOTD_CEPH_MS_MODE": "secure"}, "legacy", ""},
		{[]string{"--ceph-ms-mode", "aes"}, nil, "", "--ceph-ms-mode"},
	} {
		args := append([]string{"--data-dir", t.TempDir()}, tc.args...)
		cfg, err := loadServeConfig(args, func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadServeConfig(%q, %v) = %v, want an error about %s", tc.args, tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || cfg.CephMsMode != tc.want {
			t.Errorf("loadServeConfig(%q, %v) = ms mode %q, %v; want %q", tc.args, tc.env, cfg.CephMsMode, err, tc.want)
		}
	}
}

// TestDiscoveredSettings: discovered_max and discovered_rate reach the
// Service's configuration from flags and the environment, with the domain's
// defaults, and anything but a positive whole number is refused.
func TestDiscoveredSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args              []string
		env               map[string]string
		wantMax, wantRate int
		wantErr           string
	}{
		{nil, nil, boot.DefaultDiscoveredMax, boot.DefaultDiscoveredRate, ""},
		{[]string{"--discovered-max", "50", "--discovered-rate", "6"}, nil, 50, 6, ""},
		{nil, map[string]string{"BOOTD_DISCOVERED_MAX": "200"}, 200, boot.DefaultDiscoveredRate, ""},
		{[]string{"--discovered-max", "0"}, nil, 0, 0, "--discovered-max"},
		{[]string{"--discovered-rate", "lots"}, nil, 0, 0, "--discovered-rate"},
	} {
		args := append([]string{"--data-dir", t.TempDir()}, tc.args...)
		cfg, err := loadServeConfig(args, func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadServeConfig(%q, %v) = %v, want an error about %s", tc.args, tc.env, err, tc.wantErr)
			}
			continue
		}
		if max, rate := cfg.discovered(); err != nil || max != tc.wantMax || rate != tc.wantRate {
			t.Errorf("loadServeConfig(%q, %v) = discovered %d, %d/min, %v; want %d, %d/min",
				tc.args, tc.env, max, rate, err, tc.wantMax, tc.wantRate)
		}
	}
}

// TestMaxBootsInFlightSetting: max_boots_in_flight reaches the Service's
// configuration from the file, flags and the environment, with the domain's
// default; 0 is no cap; a negative number or a word is refused.
func TestMaxBootsInFlightSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		yaml    string
		want    int
		wantErr string
	}{
		{nil, nil, "", boot.DefaultMaxBootsInFlight, ""},
		{[]string{"--max-boots-in-flight", "64"}, nil, "", 64, ""},
		{nil, map[string]string{"BOOTD_MAX_BOOTS_IN_FLIGHT": "0"}, "", 0, ""},
		{nil, nil, "max_boots_in_flight: 32\n", 32, ""},
		{[]string{"--max-boots-in-flight", "-1"}, nil, "", 0, "--max-boots-in-flight"},
		{[]string{"--max-boots-in-flight", "many"}, nil, "", 0, "--max-boots-in-flight"},
	} {
		dir := t.TempDir()
		args := append([]string{"--data-dir", dir}, tc.args...)
		if tc.yaml != "" {
			p := filepath.Join(dir, "bootd.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--config", p)
		}
		cfg, err := loadServeConfig(args, func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadServeConfig(%q, %v) = %v, want an error about %s", tc.args, tc.env, err, tc.wantErr)
			}
			continue
		}
		if got := cfg.maxBootsInFlight(); err != nil || got != tc.want {
			t.Errorf("loadServeConfig(%q, %v, %q) = max boots in flight %d, %v; want %d", tc.args, tc.env, tc.yaml, got, err, tc.want)
		}
	}
}

// TestStoreSetting: bbolt is the default store; --store and BOOTD_STORE
// choose rados, which needs Ceph settings; anything else is refused.
func TestStoreSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{nil, nil, "bbolt", ""},
		{[]string{"--store", "rados", "--ceph-conf", "/etc/ceph/ceph.conf", "--store-namespace", "ns"}, nil, "rados", ""},
		{nil, map[string]string{"BOOTD_STORE": "rados", "BOOTD_CEPH_MONITORS": "127.0.0.1:6789"}, "rados", ""},
		{[]string{"--store", "rados"}, nil, "", "--store rados needs --ceph-conf"},
		{[]string{"--store", "etcd"}, nil, "", "--store"},
	} {
		args := append([]string{"--data-dir", t.TempDir()}, tc.args...)
		cfg, err := loadServeConfig(args, func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadServeConfig(%q, %v) = %v, want an error about %s", tc.args, tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || cfg.Store != tc.want {
			t.Errorf("loadServeConfig(%q, %v) = store %q, %v; want %q", tc.args, tc.env, cfg.Store, err, tc.want)
		}
	}
}

// TestTFTPQueueWaitSetting: 10 s by default, a duration from a flag or the
// environment, 0s for no wait at all; a negative or unreadable one is
// refused with the flag's name.
func TestTFTPQueueWaitSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{nil, nil, 10 * time.Second, ""},
		{[]string{"--tftp-queue-wait", "3s"}, nil, 3 * time.Second, ""},
		{nil, map[string]string{"BOOTD_TFTP_QUEUE_WAIT": "0s"}, -1, ""},
		{[]string{"--tftp-queue-wait", "-1s"}, nil, 0, "--tftp-queue-wait"},
		{[]string{"--tftp-queue-wait", "soon"}, nil, 0, "--tftp-queue-wait"},
	} {
		args := append([]string{"--data-dir", t.TempDir()}, tc.args...)
		cfg, err := loadServeConfig(args, func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadServeConfig(%q, %v) = %v, want an error about %s", tc.args, tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("loadServeConfig(%q, %v): %v", tc.args, tc.env, err)
		}
		if got := cfg.tftpLimits(tftp.Config{}, nil).QueueWait; got != tc.want {
			t.Errorf("loadServeConfig(%q, %v): queue wait %v, want %v", tc.args, tc.env, got, tc.want)
		}
	}
}
