package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"
)

// API tokens look like
//
//	bootd_<id>_<secret>
//
// with a 12-hex-digit id (6 random bytes) and a 64-hex-digit secret (32
// random bytes). The store keeps the id, to find the token, and the SHA-256
// of the whole token, compared in constant time; the token itself is shown
// once, when made, and kept nowhere. A 256-bit random secret needs no slow
// hash: SHA-256 cannot be searched back to it.
//
// The single API token of bootd before users (the api-token file: 64 hex
// digits, no prefix) is kept as the token with id LegacyTokenID, so it keeps
// working as the first admin's.

const (
	tokenPrefix = "bootd_"
	idBytes     = 6
	secretBytes = 32
	// LegacyTokenID is the id of the token from the api-token file.
	LegacyTokenID = "legacy"
)

// A Token is one of a user's API tokens, as shown: its secret is not here.
type Token struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"` // to the minute (Directory.Authenticate)
	// Digest is the SHA-256 of the whole token. A Directory's answers leave
	// it empty; only the UserStore holds it.
	Digest []byte `json:"-"`
}

// newToken returns a fresh token and its stored form.
func newToken() (raw string, t Token) {
	id := make([]byte, idBytes)
	secret := make([]byte, secretBytes)
	rand.Read(id) // never fails (crypto/rand, Go 1.24)
	rand.Read(secret)
	raw = tokenPrefix + hex.EncodeToString(id) + "_" + hex.EncodeToString(secret)
	d := sha256.Sum256([]byte(raw))
	return raw, Token{ID: hex.EncodeToString(id), Digest: d[:]}
}

// tokenID returns the id a presented token claims: its id field, or
// LegacyTokenID for a token without the prefix. ok is false for a token
// that has the prefix but not the form.
func tokenID(raw string) (id string, ok bool) {
	rest, found := strings.CutPrefix(raw, tokenPrefix)
	if !found {
		return LegacyTokenID, raw != ""
	}
	id, secret, found := strings.Cut(rest, "_")
	if !found || len(id) != 2*idBytes || len(secret) != 2*secretBytes || !isLowerHex(id) || !isLowerHex(secret) {
		return "", false
	}
	return id, true
}

// matches reports in constant time whether raw is the token t keeps the
// digest of.
func (t Token) matches(raw string) bool {
	d := sha256.Sum256([]byte(raw))
	return subtle.ConstantTimeCompare(d[:], t.Digest) == 1
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
