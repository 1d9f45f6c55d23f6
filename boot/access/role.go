package access

import (
	"fmt"
	"slices"
)

// A Role is what a user may do. Roles are ordered, each allowing all that
// the ones below it allow: RoleViewer < RoleOperator < RoleAdmin.
type Role string

// The roles.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Roles lists the roles, least first.
func Roles() []Role { return []Role{RoleViewer, RoleOperator, RoleAdmin} }

// rank orders the roles; 0 is no role at all.
func (r Role) rank() int { return slices.Index(Roles(), r) + 1 }

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// ParseRole returns the role named s, or an error wrapping ErrInvalid.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("%w: unknown role %q: want viewer, operator or admin", ErrInvalid, s)
}

// Allows reports whether a user with role r may perform a. An unknown role
// or action allows nothing.
func (r Role) Allows(a Action) bool {
	rule, ok := rules[a]
	return ok && r.Valid() && r.rank() >= rule.role.rank()
}

// An Action is one thing a user can ask bootd to do. Each HTTP route, CLI
// subcommand and dashboard form maps to one Action; the web layer checks it
// with Role.Allows and records the state-changing ones in the AuditLog.
type Action string

// Actions that change state. Their names are the audit log's "action" field.
const (
	ActionEnroll   Action = "enroll"           // POST /nodes, dashboard enroll (also of a discovered machine)
	ActionAssign   Action = "assign"           // POST /nodes/{mac}/assign
	ActionNetboot  Action = "netboot"          // PUT /nodes/{mac}/netboot, on or off
	ActionArm      Action = "arm"              // PUT /nodes/{mac}/netboot with once: arm one boot
	ActionReimage  Action = "reimage"          // POST /nodes/{mac}/reimage, with or without keep
	ActionSnapshot Action = "snapshot"         // POST /nodes/{mac}/snapshots
	ActionProtect  Action = "golden.protect"   // POST /images/{name}/golden/protect
	ActionForget   Action = "forget"           // DELETE /nodes/{mac}: discovered or retired machines only
	ActionRollback Action = "rollback"         // POST /nodes/{mac}/rollback
	ActionRetire   Action = "retire"           // POST /nodes/{mac}/retire
	ActionUnfence  Action = "unfence"          // POST /nodes/{mac}/unfence
	ActionReplace  Action = "replace"          // POST /nodes/{mac}/replace: the node moves to another MAC
	ActionRepair   Action = "reconcile.repair" // POST /reconcile with repair
	ActionUserAdd  Action = "user.add"
	ActionUserRole Action = "user.role"
	ActionUserPass Action = "user.password"
	ActionUserDel  Action = "user.remove"
	ActionTokenAdd Action = "token.add"
	ActionTokenDel Action = "token.revoke"
	ActionLogin    Action = "login" // a dashboard login: audited, allowed to every role
	// ActionDiscover opens or closes the DHCP discover window (POST and
	// DELETE /discover): while open, dhcp_clients known answers any MAC.
	ActionDiscover Action = "discover"
	// ActionPower turns a machine's power on or off, or cycles it, through
	// its BMC or the hook (POST /nodes/{mac}/power; reimage with reboot).
	ActionPower Action = "power"
	// ActionPowerSet sets a machine's power driver, BMC address, user and
	// password (PUT /nodes/{mac}/power/settings).
	ActionPowerSet Action = "power.set"
)

// Actions that only read.
const (
	ActionView      Action = "view"      // nodes, discovered machines, timelines, images, volumes, snapshots, events
	ActionExplain   Action = "explain"   // GET /nodes/{mac}/explain (checks the node's key can be had; never shows it)
	ActionReconcile Action = "reconcile" // POST /reconcile without repair: a report, no change
	ActionAudit     Action = "audit"     // read the audit log
	ActionUsers     Action = "users"     // list users and their tokens' ids
	// ActionBackup copies the whole store, password hashes and token
	// digests included: an admin's, and audited though it changes nothing.
	ActionBackup Action = "backup" // GET /backup
	// ActionPowerStatus asks a machine's BMC for its power state (GET
	// /nodes/{mac}/power): a read, but a login on the BMC each time.
	ActionPowerStatus Action = "power.status"
)

// rule is an action's least role, and whether it changes state (and so is
// audited).
type rule struct {
	role    Role
	changes bool
}

// rules is the one table of who may do what.
var rules = map[Action]rule{
	ActionView:      {RoleViewer, false},
	ActionExplain:   {RoleViewer, false},
	ActionReconcile: {RoleViewer, false},
	ActionAudit:     {RoleViewer, false},
	ActionLogin:     {RoleViewer, true},

	ActionEnroll:   {RoleOperator, true},
	ActionAssign:   {RoleOperator, true},
	ActionNetboot:  {RoleOperator, true},
	ActionArm:      {RoleOperator, true},
	ActionReimage:  {RoleOperator, true},
	ActionSnapshot: {RoleOperator, true},
	ActionProtect:  {RoleOperator, true},
	// Forget removes only a machine without a volume (boot.Service.Forget
	// refuses one that has one): it loses a timeline, never a disk.
	ActionForget: {RoleOperator, true},
	// The discover window lets unknown machines be answered (and so
	// discovered and enrolled) for a while: an operator's, like enroll.
	ActionDiscover: {RoleOperator, true},
	// Power control acts on machines as reimage does: an operator's. Its
	// settings too: a changed BMC address or user needs the password again
	// (boot.Service.SetPower), so an operator cannot send a stored password
	// elsewhere. Status reads, but costs a BMC login: an operator's as well.
	ActionPower:       {RoleOperator, true},
	ActionPowerSet:    {RoleOperator, true},
	ActionPowerStatus: {RoleOperator, false},

	ActionRollback: {RoleAdmin, true},
	ActionRetire:   {RoleAdmin, true},
	ActionUnfence:  {RoleAdmin, true},
	// Replace cuts the old machine off the volume (as unfence does), makes
	// the node's key anew and hands the disk to another MAC.
	ActionReplace:  {RoleAdmin, true},
	ActionRepair:   {RoleAdmin, true},
	ActionUsers:    {RoleAdmin, false},
	ActionBackup:   {RoleAdmin, true},
	ActionUserAdd:  {RoleAdmin, true},
	ActionUserRole: {RoleAdmin, true},
	ActionUserPass: {RoleAdmin, true},
	ActionUserDel:  {RoleAdmin, true},
	ActionTokenAdd: {RoleAdmin, true},
	ActionTokenDel: {RoleAdmin, true},
}

// Actions lists every action, sorted by name: a table test over routes can
// check it covers them all.
func Actions() []Action {
	as := make([]Action, 0, len(rules))
	for a := range rules {
		as = append(as, a)
	}
	slices.Sort(as)
	return as
}

// Valid reports whether a is a known action.
func (a Action) Valid() bool { _, ok := rules[a]; return ok }

// MinRole returns the least role that may perform a ("" for an unknown
// action).
func (a Action) MinRole() Role { return rules[a].role }

// Changes reports whether a changes state, and so must be audited.
func (a Action) Changes() bool { return rules[a].changes }

// Check returns nil when u may perform a, and otherwise an error wrapping
// ErrForbidden that names the role needed. A nil user may do nothing.
func Check(u *User, a Action) error {
	if !a.Valid() {
		return fmt.Errorf("%w: unknown action %q", ErrForbidden, a)
	}
	if u == nil {
		return fmt.Errorf("%w: %s needs a user", ErrForbidden, a)
	}
	if !u.Role.Allows(a) {
		return fmt.Errorf("%w: %s needs the %s role; %s is a %s", ErrForbidden, a, a.MinRole(), u.Name, u.Role)
	}
	return nil
}
