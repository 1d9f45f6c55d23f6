package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/rbd"
	"gopkg.in/yaml.v3"
)

// Reading bootd serve's configuration (the defaults, the YAML file, the
// environment and the flags, each over the one before) and checking it;
// the settings themselves are the table in config.go.

// serveFlags are bootd serve's flags: --config and one per configField.
type serveFlags struct {
	config *stringFlag
	fields map[string]*stringFlag // by flag name
}

// defineServeFlags defines bootd serve's flags on fs, from the
// configuration table (fields), with its defaults.
func defineServeFlags(fs *flag.FlagSet) any {
	sf := &serveFlags{fields: map[string]*stringFlag{}}
	sf.config = defineString(fs, new(string), "config", "BOOTD_CONFIG", "", "YAML configuration file (docs/bootd.example.yaml)")
	def := defaultServeConfig()
	for _, f := range def.fields() {
		sf.fields[f.flag] = defineString(fs, new(string), f.flag, f.env, *f.ptr, f.help)
	}
	return sf
}

// load builds the configuration from defaults, the file named by --config
// (or BOOTD_CONFIG), the environment and the flags given, and checks it.
func (sf *serveFlags) load(getenv func(string) string) (serveConfig, error) {
	cfg := defaultServeConfig()
	configPath := getenv("BOOTD_CONFIG")
	if sf.config.set {
		configPath = sf.config.String()
	}
	if configPath != "" {
		if err := readConfigFile(configPath, &cfg); err != nil {
			return cfg, err
		}
	}
	for _, f := range cfg.fields() {
		if v := getenv(f.env); v != "" {
			*f.ptr = v
		}
		if fl := sf.fields[f.flag]; fl.set {
			*f.ptr = fl.String()
		}
	}
	return cfg, cfg.validate()
}

func readConfigFile(path string, cfg *serveConfig) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file is fine
		return fmt.Errorf("config %s: %w", path, err)
	}
	for _, p := range []*string{&cfg.ImagesDir, &cfg.CephConf, &cfg.CephKeyring, &cfg.NodeTLSCert, &cfg.NodeTLSKey,
		&cfg.AdminTLSCert, &cfg.AdminTLSKey} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
		}
	}
	return nil
}

func (c serveConfig) validate() error {
	if err := c.validateDHCP(); err != nil {
		return err
	}
	if err := checkUDPAddr(c.TFTPListen); err != nil {
		return fmt.Errorf("--tftp-listen %q: %v", c.TFTPListen, err)
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	switch c.Store {
	case "bbolt":
	case "rados":
		if c.CephConf == "" && c.CephMonitors == "" {
			return errors.New("--store rados needs --ceph-conf or --ceph-monitors")
		}
	default:
		return fmt.Errorf("--store %q: want bbolt or rados", c.Store)
	}
	if c.InstanceName != "" {
		if err := boot.ValidInstanceName(c.InstanceName); err != nil {
			return fmt.Errorf("--instance-name: %w", err)
		}
	}
	if c.HTTPListen == "" {
		return errors.New("--http-listen must not be empty")
	}
	if err := c.validateAdmin(); err != nil {
		return err
	}
	if _, err := boot.ParseKeyRelease(c.KeyRelease); err != nil {
		return fmt.Errorf("--key-release: %w", err)
	}
	if d, err := time.ParseDuration(c.BootWindow); err != nil || d <= 0 {
		return fmt.Errorf("--boot-window %q: want a duration such as 5m", c.BootWindow)
	}
	for _, v := range []struct{ flag, value string }{{"discovered-max", c.DiscoveredMax}, {"discovered-rate", c.DiscoveredRate}} {
		if n, err := strconv.Atoi(v.value); err != nil || n <= 0 {
			return fmt.Errorf("--%s %q: want a whole number above 0", v.flag, v.value)
		}
	}
	if n, err := strconv.Atoi(c.MaxBootsInFlight); err != nil || n < 0 {
		return fmt.Errorf("--max-boots-in-flight %q: want a whole number, 0 for no cap", c.MaxBootsInFlight)
	}
	if d, err := time.ParseDuration(c.PowerHookTimeout); err != nil || d <= 0 || d > 10*time.Minute {
		return fmt.Errorf("--power-hook-timeout %q: want a duration from 1s to 10m, e.g. 30s", c.PowerHookTimeout)
	}
	if c.PowerHook != "" && !filepath.IsAbs(c.PowerHook) {
		return fmt.Errorf("--power-hook %q: want an absolute path", c.PowerHook)
	}
	if err := rbd.CheckMsMode(c.CephMsMode); err != nil {
		return fmt.Errorf("--ceph-ms-mode: %w", err)
	}
	return nil
}

// keyRelease is the trust chain's part of boot.Config: the rule and the boot window.
func (c serveConfig) keyRelease() (boot.KeyRelease, time.Duration) {
	k, _ := boot.ParseKeyRelease(c.KeyRelease)
	d, _ := time.ParseDuration(c.BootWindow)
	return k, d
}

// maxBootsInFlight is boot.Config's MaxBootsInFlight (0: no cap).
func (c serveConfig) maxBootsInFlight() int {
	n, _ := strconv.Atoi(c.MaxBootsInFlight)
	return n
}

// discovered is the bound on discovered machines of boot.Config: how many
// are kept and how many new ones are recorded per minute.
func (c serveConfig) discovered() (max, perMinute int) {
	max, _ = strconv.Atoi(c.DiscoveredMax)
	perMinute, _ = strconv.Atoi(c.DiscoveredRate)
	return max, perMinute
}
