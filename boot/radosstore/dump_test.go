//go:build integration && cgo

package radosstore

import (
	"path/filepath"
	"testing"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/boot/storedump"
	"github.com/bootd/bootd/boot/storetest"
)

// TestMigrationRoundTrip moves a populated bbolt file to RADOS and back:
// bbolt → RADOS → bbolt keeps the same nodes, timelines (boot numbers),
// intents, leases, users and audit records (sequence numbers), and the
// audit log in RADOS goes on from the imported sequence.
func TestMigrationRoundTrip(t *testing.T) {
	ctx := t.Context()
	openBolt := func() *store.DB {
		db, err := store.Open(filepath.Join(t.TempDir(), store.FileName), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	src := openBolt()
	storetest.Populate(t, storetest.Backend{Store: src, Leases: src, Users: src,
		Audit: func(rt access.Retention) access.AuditLog { return src.AuditLog(rt) }})
	d1, err := storedump.Export(ctx, src, src.AuditLog(access.Retention{}))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	rs := openTest(t, cfg)
	if err := storedump.Import(ctx, d1, rs); err != nil {
		t.Fatal(err)
	}
	// Read back through another instance.
	rs2 := openTest(t, cfg)
	d2, err := storedump.Export(ctx, rs2, rs2.AuditLog(access.Retention{}))
	if err != nil {
		t.Fatal(err)
	}
	storetest.SameDump(t, "bbolt → RADOS", d2, d1)
	back := openBolt()
	if err := storedump.Import(ctx, d2, back); err != nil {
		t.Fatal(err)
	}
	d3, err := storedump.Export(ctx, back, back.AuditLog(access.Retention{}))
	if err != nil {
		t.Fatal(err)
	}
	storetest.SameDump(t, "bbolt → RADOS → bbolt", d3, d1)
	if len(d3.Nodes) != 6 || len(d3.Audit) != 3 {
		t.Errorf("round trip kept %d nodes and %d audit records, want 6 and 3", len(d3.Nodes), len(d3.Audit))
	}
	if r, err := rs.AuditLog(access.Retention{}).Append(ctx, access.Record{Action: access.ActionAssign}); err != nil || r.Seq != 5 {
		t.Errorf("Append in RADOS after import = seq %d, %v; want 5", r.Seq, err)
	}
}
