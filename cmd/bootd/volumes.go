package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/rbd"
)

// openVolumes connects to Ceph when the configuration names a cluster, and
// returns nil (no volume backend) when it does not. A cluster that is named
// but cannot be reached stops bootd: it never runs with half a backend.
func openVolumes(cfg serveConfig, log *slog.Logger, checkpoint func(string)) (boot.Volumes, func(), error) {
	if cfg.CephConf == "" && cfg.CephMonitors == "" {
		return nil, func() {}, nil
	}
	c, err := rbd.Open(rbd.Config{ConfFile: cfg.CephConf, Monitors: cfg.CephMonitors, User: cfg.CephUser,
		KeyringFile: cfg.CephKeyring, Pool: cfg.CephPool, GoldenNamespace: cfg.CephGoldenNamespace,
		MsMode: cfg.CephMsMode, Logger: log, Checkpoint: checkpoint})
	if err != nil {
		return nil, nil, err
	}
	log.Info("volume backend: Ceph RBD", "pool", cfg.CephPool, "user", "client."+cfg.CephUser, "ms_mode", cmp.Or(cfg.CephMsMode, "legacy"))
	return c, func() { c.Close() }, nil
}

// startupChecks runs before bootd serves: it finishes or undoes operations
// a crash interrupted, reports what reconcile finds (bootd reconcile
// --repair repairs it), and checks every image's golden snapshot.
func startupChecks(ctx context.Context, svc *boot.Service, log *slog.Logger) error {
	if !svc.HasVolumes() {
		log.Warn("no volume backend: nodes are enrolled without a volume")
		return nil
	}
	if _, err := svc.Recover(ctx); err != nil {
		return fmt.Errorf("recover interrupted operations: %w", err)
	}
	r, err := svc.Reconcile(ctx, boot.ReconcileOptions{})
	if err != nil {
		return err
	}
	if n := len(r.Findings); n > 0 {
		log.Warn("reconcile found problems; bootd reconcile shows them, bootd reconcile --repair repairs them", "count", n)
	}
	imgs, err := svc.Images(ctx)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if _, err := svc.CheckGolden(ctx, img.Name, false); err != nil {
			log.Warn("image cannot be enrolled until its golden snapshot is fixed", "image", img.Name, "err", err)
		}
	}
	return nil
}

// crashEnv names the test-only crash point: when set to a step name (see
// boot's and rbd's Checkpoint), bootd kills itself with SIGKILL at that
// step, as a power cut would. It is read only by bootd serve.
const crashEnv = "BOOTD_CRASH_AT"

// crashPoint returns the checkpoint hook for crash tests, or nil.
func crashPoint(getenv func(string) string, log *slog.Logger) func(string) {
	at := getenv(crashEnv)
	if at == "" {
		return nil
	}
	log.Warn("crash test: bootd will kill itself at a step", "step", at)
	return func(step string) {
		if step == at {
			log.Warn("crash test: SIGKILL", "step", step)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
