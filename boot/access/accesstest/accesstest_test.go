package accesstest

import (
	"testing"

	"github.com/bootd/bootd/boot/access"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	TestUserStore(t, func(*testing.T) access.UserStore { return NewUsers() })
}

func TestAudit(t *testing.T) {
	t.Parallel()
	TestAuditLog(t, func(_ *testing.T, rt access.Retention) access.AuditLog { return NewAuditLog(rt) })
}
