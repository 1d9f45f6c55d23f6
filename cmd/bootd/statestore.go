package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/radosstore"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/boot/storedump"
	"github.com/bootd/bootd/dhcp"
	"github.com/bootd/bootd/web"
)

// stateStore is one store backend as serve uses it, and as bootd store
// export and import move it: bbolt or RADOS (config store:).
type stateStore interface {
	boot.Store
	dhcp.LeaseStore
	access.UserStore
	storedump.Sink
	Close() error
}

var (
	_ stateStore = (*store.DB)(nil)
	_ stateStore = (*radosstore.Store)(nil)
)

// openState opens the store cfg names. The audit log and, for bbolt only,
// the backup of GET /api/v1/backup (nil for RADOS, whose copies are Ceph's
// business or bootd store export's) come with it.
func openState(cfg serveConfig, log *slog.Logger) (stateStore, access.AuditLog, web.Backup, error) {
	// The data folder holds the keys and certificates with either store.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("data folder: %w", err)
	}
	if cfg.Store == "rados" {
		s, err := radosstore.Open(radosstore.Config{ConfFile: cfg.CephConf, Monitors: cfg.CephMonitors,
			Keyring: cfg.CephKeyring, User: cfg.CephUser, Pool: cfg.StorePool, Namespace: cfg.StoreNamespace})
		if err != nil {
			return nil, nil, nil, err
		}
		log.Info("store: RADOS", "pool", cmp.Or(cfg.StorePool, "rbd"), "namespace", cmp.Or(cfg.StoreNamespace, "bootd-state"))
		return s, s.AuditLog(access.Retention{}), nil, nil
	}
	db, err := store.Open(filepath.Join(cfg.DataDir, store.FileName), store.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	return db, db.AuditLog(access.Retention{}), db, nil
}
