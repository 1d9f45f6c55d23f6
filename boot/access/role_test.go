package access

import (
	"errors"
	"slices"
	"testing"
)

// want is issue 14's table, written out again so that a change to rules
// shows up here: viewer reads; operator enrolls, assigns, netboots,
// reimages, snapshots; admin retires, rolls back, unfences, repairs,
// manages users.
var want = map[Action]Role{
	ActionView: RoleViewer, ActionExplain: RoleViewer, ActionReconcile: RoleViewer, ActionAudit: RoleViewer,
	ActionLogin: RoleViewer,

	ActionEnroll: RoleOperator, ActionAssign: RoleOperator, ActionNetboot: RoleOperator, ActionArm: RoleOperator,
	ActionReimage: RoleOperator, ActionSnapshot: RoleOperator, ActionProtect: RoleOperator, ActionForget: RoleOperator,
	ActionDiscover: RoleOperator,
	// Issue 17: power control is an operator's, its status too (a BMC login).
	ActionPower: RoleOperator, ActionPowerSet: RoleOperator, ActionPowerStatus: RoleOperator,

	ActionRollback: RoleAdmin, ActionRetire: RoleAdmin, ActionUnfence: RoleAdmin, ActionReplace: RoleAdmin, ActionRepair: RoleAdmin,
	ActionUsers: RoleAdmin, ActionUserAdd: RoleAdmin, ActionUserRole: RoleAdmin, ActionUserPass: RoleAdmin,
	ActionUserDel: RoleAdmin, ActionTokenAdd: RoleAdmin, ActionTokenDel: RoleAdmin, ActionBackup: RoleAdmin,
}

func TestAllows(t *testing.T) {
	t.Parallel()
	if got := Actions(); len(got) != len(want) {
		t.Errorf("Actions() = %v: %d actions, the test knows %d", got, len(got), len(want))
	}
	for _, a := range Actions() {
		least, ok := want[a]
		if !ok {
			t.Errorf("action %q is not in the test's table", a)
			continue
		}
		for _, r := range Roles() {
			allowed := slices.Index(Roles(), r) >= slices.Index(Roles(), least)
			if got := r.Allows(a); got != allowed {
				t.Errorf("%s.Allows(%s) = %v, want %v", r, a, got, allowed)
			}
			err := Check(&User{Name: "u", Role: r}, a)
			if allowed != (err == nil) || err != nil && !errors.Is(err, ErrForbidden) {
				t.Errorf("Check(%s, %s) = %v, want allowed %v", r, a, err, allowed)
			}
		}
		if Role("root").Allows(a) || Role("").Allows(a) {
			t.Errorf("an unknown role is allowed %s", a)
		}
		if err := Check(nil, a); !errors.Is(err, ErrForbidden) {
			t.Errorf("Check(nil, %s) = %v, want ErrForbidden", a, err)
		}
	}
	// The two named cases, spelled out.
	if RoleViewer.Allows(ActionEnroll) {
		t.Error("a viewer may enroll")
	}
	if RoleOperator.Allows(ActionRetire) {
		t.Error("an operator may retire")
	}
	if RoleAdmin.Allows("shutdown-everything") {
		t.Error("an admin is allowed an unknown action")
	}
}

func TestChanges(t *testing.T) {
	t.Parallel()
	reads := []Action{ActionView, ActionExplain, ActionReconcile, ActionAudit, ActionUsers, ActionPowerStatus}
	for _, a := range Actions() {
		if got := a.Changes(); got == slices.Contains(reads, a) {
			t.Errorf("%s.Changes() = %v", a, got)
		}
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); got != r || err != nil {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := ParseRole("Admin"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseRole(Admin) = %v, want ErrInvalid", err)
	}
}
