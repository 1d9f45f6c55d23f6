package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bootd/bootd/boot/access"
)

// sessionKeyFile holds the key that signs dashboard sessions, in the data
// folder (mode 0600), so that logins survive a restart.
const sessionKeyFile = "session-key"

// identities opens the admin listener's users and audit log in the store.
// The api-token file's token stays the first admin's (access.Bootstrap),
// and a dashboard password file, when set, is that admin's password.
func identities(ctx context.Context, users access.UserStore, token, password string, log *slog.Logger) (*access.Directory, error) {
	dir, err := access.NewDirectory(access.Config{Store: users, Log: log})
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(token))
	if u, err := users.TokenUser(ctx, access.LegacyTokenID); err == nil {
		for _, t := range u.Tokens {
			if t.ID == access.LegacyTokenID && !bytes.Equal(t.Digest, digest[:]) {
				// One store, one api-token: instances sharing a store must
				// share the file, or each start locks the others' CLI out.
				log.Warn("the api-token file's token replaces the one in the store: with several instances on one "+
					"store, copy one api-token file to all of them, or the others' api-token files stop working",
					"user", u.Name)
			}
		}
	}
	created, err := dir.Bootstrap(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if created {
		log.Info("first admin made: user admin holds the api-token file's token", "user", access.BootstrapAdmin)
	}
	if password != "" {
		if err := dir.SetPassword(ctx, access.BootstrapAdmin, password); err != nil && !errors.Is(err, access.ErrUnknownUser) {
			return nil, fmt.Errorf("dashboard password: %w", err)
		}
	}
	return dir, nil
}

// loadOrCreateSessionKey returns the data folder's session key, making it
// at first start: 32 random bytes, mode 0600.
func loadOrCreateSessionKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, sessionKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) >= 32:
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("session key %s is readable by others (mode %o): chmod 600 it", path, fi.Mode().Perm())
		}
		return b, nil
	case err == nil:
		return nil, fmt.Errorf("session key %s is too short: remove it and bootd makes a new one (every login ends)", path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("session key: %w", err)
	}
	b = make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return b, nil
}
