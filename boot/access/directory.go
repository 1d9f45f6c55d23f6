package access

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// BootstrapAdmin is the name of the admin Bootstrap makes.
const BootstrapAdmin = "admin"

// touchEvery is how stale a last-use time may get: Authenticate and Login
// write it at most this often per user, not on every request.
const touchEvery = time.Minute

// Config is what a Directory needs.
type Config struct {
	// Store keeps the users. Required.
	Store UserStore
	// Hash is the cost of new password hashes; zero means DefaultHashParams.
	Hash HashParams
	// Hashing caps the password hashes computed at once (each takes
	// Hash.Memory); further logins wait their turn. Zero means 2.
	Hashing int
	// Now tells the time; nil means time.Now.
	Now func() time.Time
	// Log receives failures to record a last use; nil discards them.
	Log *slog.Logger
}

// A Directory manages users and authenticates them. It is safe for
// concurrent use. Users it returns carry no password hash or token digest.
type Directory struct {
	store   UserStore
	params  HashParams
	now     func() time.Time
	log     *slog.Logger
	hashing chan struct{}
	// dummy is a hash of no one's password: Login verifies against it when
	// the user is unknown, so that both cost the same.
	dummy string
}

// NewDirectory returns a Directory over cfg.Store. It computes one password
// hash.
func NewDirectory(cfg Config) (*Directory, error) {
	if cfg.Store == nil {
		return nil, errors.New("access: a Directory needs a UserStore")
	}
	d := &Directory{store: cfg.Store, params: cfg.Hash, now: cfg.Now, log: cfg.Log}
	if d.params == (HashParams{}) {
		d.params = DefaultHashParams
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Hashing <= 0 {
		cfg.Hashing = 2
	}
	d.hashing = make(chan struct{}, cfg.Hashing)
	d.dummy = HashPassword("no one's password", d.params)
	return d, nil
}

// hash and verify take a hashing slot for their argon2 work.
func (d *Directory) hash(ctx context.Context, pw string) (string, error) {
	if err := d.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-d.hashing }()
	return HashPassword(pw, d.params), nil
}

func (d *Directory) verify(ctx context.Context, encoded, pw string) (bool, error) {
	if err := d.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-d.hashing }()
	return VerifyPassword(encoded, pw)
}

func (d *Directory) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case d.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Users returns every user, sorted by name.
func (d *Directory) Users(ctx context.Context) ([]*User, error) {
	us, err := d.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	for i, u := range us {
		us[i] = u.public()
	}
	return us, nil
}

// User returns the user named name, or an error wrapping ErrUnknownUser.
func (d *Directory) User(ctx context.Context, name string) (*User, error) {
	u, err := d.store.User(ctx, name)
	if err != nil {
		return nil, err
	}
	return u.public(), nil
}

// Authenticate returns the user holding the API token raw (as presented,
// without "Bearer "), or an error wrapping ErrUnauthenticated when the token
// is malformed, unknown or revoked. Any other error is a store failure. The
// token is compared by digest in constant time, and appears in no error.
func (d *Directory) Authenticate(ctx context.Context, raw string) (*User, error) {
	id, ok := tokenID(raw)
	if !ok {
		return nil, ErrUnauthenticated
	}
	u, err := d.store.TokenUser(ctx, id)
	if errors.Is(err, ErrUnknownToken) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	i := u.token(id)
	if i < 0 || !u.Tokens[i].matches(raw) {
		return nil, ErrUnauthenticated
	}
	d.touch(ctx, u, id)
	return u.public(), nil
}

// Login returns the user named name when password is theirs, and otherwise
// an error wrapping ErrUnauthenticated, whether the user is unknown, has no
// password or gave the wrong one: each costs one argon2 verification, so
// the time taken does not tell them apart. A hash made with other
// parameters than the Directory's is replaced at a successful login.
func (d *Directory) Login(ctx context.Context, name, password string) (*User, error) {
	u, err := d.store.User(ctx, name)
	if err != nil && !errors.Is(err, ErrUnknownUser) {
		return nil, fmt.Errorf("login: %w", err)
	}
	known := err == nil && u.PasswordHash != ""
	encoded := d.dummy
	if known {
		encoded = u.PasswordHash
	}
	if len(password) > MaxPassword {
		password, known = "", false
	}
	ok, err := d.verify(ctx, encoded, password)
	if err != nil {
		if errors.Is(err, errHash) {
			return nil, fmt.Errorf("login %s: %w", name, err)
		}
		return nil, err
	}
	if !known || !ok {
		return nil, ErrUnauthenticated
	}
	if p, _, _, _ := decodeHash(encoded); p != d.params {
		if err := d.SetPassword(ctx, name, password); err != nil {
			d.log.Warn("rehash password", "user", name, "err", err)
		}
	}
	d.touch(ctx, u, "")
	return u.public(), nil
}

// touch records that u (and its token id, unless empty) was used now, when
// the recorded time is older than touchEvery. A failure is logged, not
// returned: it does not undo the authentication.
func (d *Directory) touch(ctx context.Context, u *User, id string) {
	now := d.now()
	i := u.token(id)
	if now.Sub(u.LastUsed) < touchEvery && (i < 0 || now.Sub(u.Tokens[i].LastUsed) < touchEvery) {
		return
	}
	u.LastUsed = now
	if i >= 0 {
		u.Tokens[i].LastUsed = now
	}
	err := d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		cur := users[u.Name]
		if cur == nil {
			return nil
		}
		cur.LastUsed = now
		if j := cur.token(id); j >= 0 {
			cur.Tokens[j].LastUsed = now
		}
		return nil
	})
	if err != nil {
		d.log.Warn("record last use", "user", u.Name, "err", err)
	}
}

// Bootstrap makes sure the token of the api-token file, given as the
// SHA-256 digest of its contents, is an admin's. When the store has no
// users, it creates the admin BootstrapAdmin, without a password, holding
// that token (id LegacyTokenID), and reports created. Otherwise it updates
// the digest of the user holding a LegacyTokenID token, if any (the file
// was replaced), and adds none: a revoked legacy token stays revoked.
func (d *Directory) Bootstrap(ctx context.Context, legacy [sha256.Size]byte) (created bool, err error) {
	if legacy == [sha256.Size]byte{} {
		return false, fmt.Errorf("%w: bootstrap needs the API token's digest", ErrInvalid)
	}
	now := d.now()
	err = d.store.UpdateUsers(ctx, func(users map[string]*User) error {
		created = len(users) == 0
		if created {
			users[BootstrapAdmin] = &User{Name: BootstrapAdmin, Role: RoleAdmin, Created: now,
				Tokens: []Token{{ID: LegacyTokenID, Created: now, Digest: legacy[:]}}}
			return nil
		}
		for _, u := range users {
			if i := u.token(LegacyTokenID); i >= 0 {
				u.Tokens[i].Digest = legacy[:]
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bootstrap users: %w", err)
	}
	return created, nil
}
