package store

import (
	"testing"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/storetest"
)

// TestContract holds the bbolt store to the contract every backend keeps
// (boot/storetest). One process holds the file, so both handles are one DB.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (a, b storetest.Backend) {
		db, _ := openTemp(t)
		be := storetest.Backend{Store: db, Leases: db, Users: db, Instances: db,
			Audit: func(rt access.Retention) access.AuditLog { return db.AuditLog(rt) }}
		return be, be
	})
}
