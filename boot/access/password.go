package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Passwords are hashed with argon2id (RFC 9106) and kept as a PHC string,
// which carries the algorithm, version, parameters and salt with the hash:
//
//	$argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash>
//
// (salt and hash in unpadded standard base64). Verification reads the
// parameters from the string, so hashes made with older parameters still
// verify after the defaults change.

// HashParams are argon2id's cost parameters.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes, and goroutines computing them
}

// DefaultHashParams cost 64 MiB (67 MB allocated per hash, -benchmem) and,
// on bootd's 2-core development machine (Go 1.26, x/crypto v0.51.0, never
// idle while measured: other builds ran), 89 ms per hash at load average
// 1.8 and 97-179 ms at load 5 (BenchmarkHashPassword, 10 hashes, 3 runs).
// With Time 1 it took 24-45 ms, under the 50 ms aimed at. 64 MiB is the
// memory of RFC 9106's second recommended setting. Re-measure on an idle
// machine with: go test -run '^$' -bench HashPassword -benchtime 10x ./boot/access/
var DefaultHashParams = HashParams{Memory: 64 << 10, Time: 2, Threads: 2}

const (
	saltSize = 16
	hashSize = 32
	// MinPassword and MaxPassword bound a password's length in characters
	// and bytes.
	MinPassword = 8
	MaxPassword = 1024
	// maxMemory caps the memory a stored hash may ask for (1 GiB), so a
	// damaged record cannot make a login exhaust memory.
	maxMemory = 1 << 20
)

var b64 = base64.RawStdEncoding

// checkPassword refuses passwords too short or too long to hash.
func checkPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPassword {
		return fmt.Errorf("%w: a password needs at least %d characters", ErrInvalid, MinPassword)
	}
	if len(pw) > MaxPassword {
		return fmt.Errorf("%w: a password has at most %d bytes", ErrInvalid, MaxPassword)
	}
	return nil
}

// HashPassword returns the PHC string of pw's argon2id hash with p and a new
// random salt.
func HashPassword(pw string, p HashParams) string {
	salt := make([]byte, saltSize)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24)
	h := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, hashSize)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(h))
}

// VerifyPassword reports whether pw matches the PHC string encoded, comparing
// hashes in constant time. It returns an error (never naming the password)
// when encoded cannot be read.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

var errHash = errors.New("unreadable password hash")

// decodeHash reads a PHC argon2id string.
func decodeHash(s string) (p HashParams, salt, hash []byte, err error) {
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return p, nil, nil, errHash
	}
	var v int
	if _, err := fmt.Sscanf(f[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: argon2 version %q", errHash, f[2])
	}
	var threads uint32
	if n, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || n != 3 {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", errHash, f[3])
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > 100 || threads < 1 || threads > 255 {
		return p, nil, nil, fmt.Errorf("%w: parameters %q out of range", errHash, f[3])
	}
	p.Threads = uint8(threads)
	if salt, err = b64.DecodeString(f[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: salt", errHash)
	}
	if hash, err = b64.DecodeString(f[5]); err != nil || len(hash) < 16 {
		return p, nil, nil, fmt.Errorf("%w: hash", errHash)
	}
	return p, salt, hash, nil
}
