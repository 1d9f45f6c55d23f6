package store

import (
	"errors"
	"testing"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/storedump"
	"github.com/bootd/bootd/boot/storetest"
)

func backend(db *DB) storetest.Backend {
	return storetest.Backend{Store: db, Leases: db, Users: db,
		Audit: func(rt access.Retention) access.AuditLog { return db.AuditLog(rt) }}
}

// TestDumpRoundTrip exports a populated file, imports the dump into a new
// one, and exports that: the two dumps are the same, and the second
// import refuses a store that is not empty.
func TestDumpRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src, _ := openTemp(t)
	storetest.Populate(t, backend(src))
	d1, err := storedump.Export(ctx, src, src.AuditLog(access.Retention{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(d1.Nodes) != 6 || len(d1.Timelines) != 1 || len(d1.Intents) != 1 || len(d1.Leases) != 2 ||
		len(d1.Users) != 1 || len(d1.Audit) != 3 || d1.Audit[0].Seq != 2 || d1.Timelines[storetest.MAC(1).String()][0].Seq != 3 {
		t.Fatalf("Export of the populated store = %+v, want 6 nodes, 1 timeline from boot 3, 1 intent, 2 leases, 1 user, audit 2..4", d1)
	}
	dst, _ := openTemp(t)
	if err := storedump.Import(ctx, d1, dst); err != nil {
		t.Fatal(err)
	}
	d2, err := storedump.Export(ctx, dst, dst.AuditLog(access.Retention{}))
	if err != nil {
		t.Fatal(err)
	}
	storetest.SameDump(t, "bbolt → bbolt", d2, d1)
	if err := storedump.Import(ctx, d1, dst); !errors.Is(err, storedump.ErrNotEmpty) {
		t.Errorf("Import into a full store = %v, want ErrNotEmpty", err)
	}
	// The audit log goes on from the imported sequence.
	if r, err := dst.AuditLog(access.Retention{}).Append(ctx, access.Record{Action: access.ActionAssign}); err != nil || r.Seq != 5 {
		t.Errorf("Append after import = seq %d, %v; want 5", r.Seq, err)
	}
}
