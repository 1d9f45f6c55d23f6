package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bootd/bootd/boot/storedump"
)

// checkStore checks bootd store's operation.
func checkStore(inv invocation) error {
	if op := inv.args[0]; op != "export" && op != "import" {
		return fmt.Errorf("%w: bootd store %q: want export or import", errUsage, op)
	}
	return nil
}

// runStore is bootd store export FILE and bootd store import FILE: the
// whole state of the store serve's settings name (store:, data_dir, the
// Ceph settings), written to or read from a JSON dump, with bootd stopped
// (a bbolt file is locked by the running daemon). Moving bbolt to RADOS is
// an export with --store bbolt and an import with --store rados.
func runStore(ctx context.Context, inv invocation) error {
	op, file := inv.args[0], inv.args[1]
	cfg, err := inv.flags.(*serveFlags).load(inv.getenv)
	if err != nil {
		return err
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return err
	}
	log := newLogger(inv.errOut, cfg.LogLevel)
	s, audit, _, err := openState(cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	if op == "export" {
		d, err := storedump.Export(ctx, s, audit)
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(d, "", " ")
		if err != nil {
			return err
		}
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, file); err != nil {
			return err
		}
		fmt.Fprintf(inv.out, "exported %d nodes, %d leases, %d users, %d audit records to %s\n",
			len(d.Nodes), len(d.Leases), len(d.Users), len(d.Audit), file)
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var d storedump.Dump
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if err := storedump.Import(ctx, &d, s); err != nil {
		if errors.Is(err, storedump.ErrNotEmpty) {
			return fmt.Errorf("%w (import only into a new store)", err)
		}
		return err
	}
	fmt.Fprintf(inv.out, "imported %d nodes, %d leases, %d users, %d audit records from %s\n",
		len(d.Nodes), len(d.Leases), len(d.Users), len(d.Audit), file)
	return nil
}
