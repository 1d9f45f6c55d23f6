// Package access decides who may do what to bootd, and keeps the record of
// what was done: users with roles, their passwords and API tokens, and the
// audit log. It is the domain half of bootd's operator surface; web turns
// requests into calls here, and boot/store keeps the data. Like boot, it
// uses no network server, database or cgo package.
//
// Roles are ordered: a viewer reads; an operator also enrolls, assigns,
// netboots, reimages and snapshots; an admin also retires, rolls back,
// unfences, repairs, and manages users. One table (rules, in role.go) gives
// each Action its least role, so
//
//	if !u.Role.Allows(access.ActionRetire) { ... 403 ... }
//
// is the whole authorisation check, and Check wraps it in an error.
//
// A Directory is the service over a UserStore:
//
//	dir, err := access.NewDirectory(access.Config{Store: db})
//	created, err := dir.Bootstrap(ctx, sha256.Sum256([]byte(legacyToken)))
//	u, err := dir.Authenticate(ctx, bearer)   // per API request
//	u, err := dir.Login(ctx, name, password) // dashboard login
//
// Secrets are kept only as digests: passwords as argon2id hashes in the PHC
// string format (password.go), API tokens as SHA-256 digests found by the
// token's id (token.go). No error this package returns contains a password
// or a token, and Users returned by a Directory carry neither hashes nor
// digests.
//
// An AuditLog keeps Records of actions with bounded Retention (audit.go).
package access
