package store

import (
	"context"
	"testing"
	"time"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/access/accesstest"
)

func TestAuditLog(t *testing.T) {
	t.Parallel()
	accesstest.TestAuditLog(t, func(t *testing.T, rt access.Retention) access.AuditLog {
		db, _ := openTemp(t)
		return db.AuditLog(rt)
	})
}

// TestAuditAgeDropped checks records past the age are deleted from the
// file at the next Append, not only hidden: a log with a longer retention
// over the same file does not find them.
func TestAuditAgeDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTemp(t)
	old := time.Now().Add(-3 * time.Hour)
	for _, at := range []time.Time{old, old, {}} {
		if _, err := db.AuditLog(access.Retention{}).Append(ctx, access.Record{Time: at, Action: access.ActionAssign}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.AuditLog(access.Retention{MaxAge: time.Hour}).Append(ctx, access.Record{Action: access.ActionRetire}); err != nil {
		t.Fatal(err)
	}
	got, err := db.AuditLog(access.Retention{}).Query(ctx, access.Filter{})
	if err != nil || len(got) != 2 || got[0].Action != access.ActionRetire {
		t.Errorf("records kept = %+v, %v, want the 2 recent ones", got, err)
	}
}

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
