package store

import (
	"context"
	"testing"

	"github.com/bootd/bootd/boot/access"
)

// TestAuditRetentionReopened checks the kept count survives a reopen: the
// file keeps the bound, not the process.
func TestAuditRetentionReopened(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path := openTemp(t)
	keep := access.Retention{MaxRecords: 3}
	for i := range 5 {
		if _, err := db.AuditLog(keep).Append(ctx, access.Record{User: string(rune('a' + i)), Action: access.ActionAssign}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.AuditLog(keep).Append(ctx, access.Record{User: "f", Action: access.ActionAssign}); err != nil {
		t.Fatal(err)
	}
	got, err := db.AuditLog(access.Retention{}).Query(ctx, access.Filter{})
	if err != nil || len(got) != 3 || got[0].User != "f" || got[2].User != "d" || got[0].Seq != 6 {
		t.Errorf("records after reopening = %+v, %v, want f, e, d (seq 6 first)", got, err)
	}
}
