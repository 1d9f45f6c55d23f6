package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bootd/bootd/power"
)

// newPower builds power control: the power key in the data folder (made at
// first start, mode 0600), IPMI and Redfish, and the hook when configured.
func newPower(cfg serveConfig, log *slog.Logger) (*power.Controller, error) {
	key, err := power.LoadKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	timeout, _ := time.ParseDuration(cfg.PowerHookTimeout) // validated with the configuration
	if cfg.PowerHook != "" {
		fi, err := os.Stat(cfg.PowerHook)
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("--power-hook %s: not an executable file", cfg.PowerHook)
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return nil, fmt.Errorf("--power-hook %s: writable by group or others (mode %v): bootd will not run it", cfg.PowerHook, fi.Mode().Perm())
		}
	}
	return power.New(power.Config{Key: key, HookPath: cfg.PowerHook, HookTimeout: timeout,
		Logger: log.With("part", "power")})
}
