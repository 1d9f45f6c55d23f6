package access

import (
	"context"
	"fmt"
	"slices"
)

// User management: each change is one UserStore transaction. Passwords are
// hashed before it, since a transaction may run more than once.

// AddUser creates the user name with role and, unless password is empty, a
// password (a user without one signs in with tokens only). It returns an
// error wrapping ErrInvalid for a bad name, role or password, and ErrExists
// when the name is taken.
func (d *Directory) AddUser(ctx context.Context, name string, role Role, password string) (*User, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, fmt.Errorf("%w: unknown role %q", ErrInvalid, role)
	}
	u := &User{Name: name, Role: role, Created: d.now(), Tokens: []Token{}}
	if password != "" {
		if err := checkPassword(password); err != nil {
			return nil, err
		}
		var err error
		if u.PasswordHash, err = d.hash(ctx, password); err != nil {
			return nil, err
		}
	}
	err := d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		if users[name] != nil {
			return fmt.Errorf("add user %s: %w", name, ErrExists)
		}
		users[name] = u.Clone()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u.public(), nil
}

// RemoveUser deletes the user name and its tokens. It refuses, with
// ErrLastAdmin, to remove the last admin.
func (d *Directory) RemoveUser(ctx context.Context, name string) error {
	return d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		if users[name] == nil {
			return fmt.Errorf("remove user %s: %w", name, ErrUnknownUser)
		}
		delete(users, name)
		return lastAdmin(users, "remove user "+name)
	})
}

// SetRole changes the role of the user name. It refuses, with ErrLastAdmin,
// to demote the last admin.
func (d *Directory) SetRole(ctx context.Context, name string, role Role) error {
	if !role.Valid() {
		return fmt.Errorf("%w: unknown role %q", ErrInvalid, role)
	}
	return d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		u := users[name]
		if u == nil {
			return fmt.Errorf("set role of %s: %w", name, ErrUnknownUser)
		}
		u.Role = role
		return lastAdmin(users, "set role of "+name)
	})
}

// lastAdmin returns an error wrapping ErrLastAdmin when users has no admin.
func lastAdmin(users map[string]*User, op string) error {
	for _, u := range users {
		if u.Role == RoleAdmin {
			return nil
		}
	}
	return fmt.Errorf("%s: %w", op, ErrLastAdmin)
}

// SetPassword replaces the password of the user name.
func (d *Directory) SetPassword(ctx context.Context, name, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := d.hash(ctx, password)
	if err != nil {
		return err
	}
	return d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		u := users[name]
		if u == nil {
			return fmt.Errorf("set password of %s: %w", name, ErrUnknownUser)
		}
		u.PasswordHash = h
		return nil
	})
}

// NewToken makes an API token for the user name and returns it, raw, with
// its description. The raw token is shown to the user once and kept
// nowhere: only its digest is stored.
func (d *Directory) NewToken(ctx context.Context, name string) (raw string, t Token, err error) {
	raw, t = newToken()
	t.Created = d.now()
	err = d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		u := users[name]
		if u == nil {
			return fmt.Errorf("new token for %s: %w", name, ErrUnknownUser)
		}
		u.Tokens = append(slices.Clone(u.Tokens), t)
		return nil
	})
	if err != nil {
		return "", Token{}, err
	}
	t.Digest = nil
	return raw, t, nil
}

// RevokeToken deletes the token id of the user name; it stops working at
// once. It returns an error wrapping ErrUnknownToken when the user has no
// such token.
func (d *Directory) RevokeToken(ctx context.Context, name, id string) error {
	return d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		u := users[name]
		if u == nil {
			return fmt.Errorf("revoke token of %s: %w", name, ErrUnknownUser)
		}
		i := u.token(id)
		if i < 0 {
			return fmt.Errorf("revoke token %s of %s: %w", id, name, ErrUnknownToken)
		}
		u.Tokens = slices.Delete(slices.Clone(u.Tokens), i, i+1)
		return nil
	})
}
