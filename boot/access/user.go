package access

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// A User is a person or program that may act on bootd.
type User struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"` // last login or token use, to the minute
	Tokens   []Token   `json:"tokens"`
	// PasswordHash is the password's PHC string (password.go), empty for a
	// user without a password (tokens only). A Directory's answers leave it
	// empty; only the UserStore holds it.
	PasswordHash string `json:"-"`
}

// Clone returns a deep copy of u.
func (u *User) Clone() *User {
	if u == nil {
		return nil
	}
	c := *u
	c.Tokens = slices.Clone(u.Tokens)
	for i := range c.Tokens {
		c.Tokens[i].Digest = slices.Clone(c.Tokens[i].Digest)
	}
	return &c
}

// public returns a copy of u without its password hash and token digests.
func (u *User) public() *User {
	c := *u
	c.PasswordHash = ""
	c.Tokens = slices.Clone(u.Tokens)
	for i := range c.Tokens {
		c.Tokens[i].Digest = nil
	}
	if c.Tokens == nil {
		c.Tokens = []Token{}
	}
	return &c
}

// token returns the index of u's token with id, or -1.
func (u *User) token(id string) int {
	return slices.IndexFunc(u.Tokens, func(t Token) bool { return t.ID == id })
}

// MaxName is the longest user name, in bytes.
const MaxName = 32

// ValidName returns nil when name is a user name: 1 to MaxName characters
// of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
// Otherwise it returns an error wrapping ErrInvalid.
func ValidName(name string) error {
	if name == "" || len(name) > MaxName {
		return fmt.Errorf("%w: a user name has 1 to %d characters", ErrInvalid, MaxName)
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("%w: user name %q: use a-z, 0-9, '.', '_' and '-', starting with a letter or digit", ErrInvalid, name)
		}
	}
	return nil
}

// A UserStore keeps users and finds them by name and by token id. Every
// method is safe for concurrent use, and every change is one atomic,
// durable transaction. Users and tokens it returns are the caller's to
// change. boot/store implements it on bbolt; accesstest in memory.
type UserStore interface {
	// User returns the user named name, or an error wrapping ErrUnknownUser.
	User(ctx context.Context, name string) (*User, error)
	// TokenUser returns the user holding the token with id, or an error
	// wrapping ErrUnknownToken.
	TokenUser(ctx context.Context, id string) (*User, error)
	// Users returns every user, sorted by name.
	Users(ctx context.Context) ([]*User, error)
	// UpdateUsers runs fn in one transaction on copies of every user, keyed
	// by name, and stores the users the map holds when fn returns: fn adds,
	// changes and deletes entries (a user's key is its Name). The store
	// keeps its token index in step, and refuses a token id held twice. An
	// error from fn aborts the transaction and is returned as is. fn may
	// run more than once.
	UpdateUsers(ctx context.Context, fn func(users map[string]*User) error) error
}
