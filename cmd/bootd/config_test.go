package main

import (
	"strings"
	"testing"
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
