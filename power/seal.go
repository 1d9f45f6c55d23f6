package power

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bootd/bootd/boot"
)

// KeyFileName is the power key's file in bootd's data folder.
const KeyFileName = "power-key"

// sealedPrefix starts a sealed password in a node's record.
const sealedPrefix = "sealed:v1:"

// A Key seals BMC passwords for the store: AES-256-GCM, each bound to its
// node's MAC (the additional data), so a sealed password copied to another
// node's record does not open.
type Key struct{ aead cipher.AEAD }

// LoadKey reads the power key from dir/power-key, making it (32 random
// bytes, mode 0600) when it does not exist. A key file readable by group or
// others is refused.
func LoadKey(dir string) (*Key, error) {
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("power key: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("power key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("power key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("power key: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("power key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("power key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return NewKey(b)
}

// NewKey returns a Key for 32 bytes of key.
func NewKey(b []byte) (*Key, error) {
	if len(b) != 32 {
		return nil, fmt.Errorf("power key: want 32 bytes, got %d", len(b))
	}
	blk, err := aes.NewCipher(b)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead}, nil
}

func additional(mac boot.MAC) []byte { return []byte("bootd power password for " + mac.String()) }

// Seal returns password encrypted for mac's record.
func (k *Key) Seal(mac boot.MAC, password string) (string, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := k.aead.Seal(nonce, nonce, []byte(password), additional(mac))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open returns the password sealed for mac.
func (k *Key) Open(mac boot.MAC, sealed string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", fmt.Errorf("%w: the node's BMC password is in an unknown form: set it again", boot.ErrPower)
	}
	ct, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(ct) < k.aead.NonceSize() {
		return "", fmt.Errorf("%w: the node's sealed BMC password is damaged: set it again", boot.ErrPower)
	}
	pt, err := k.aead.Open(nil, ct[:k.aead.NonceSize()], ct[k.aead.NonceSize():], additional(mac))
	if err != nil {
		return "", fmt.Errorf("%w: the node's BMC password does not open with this data folder's power key "+
			"(another key, or another node's record): set it again", boot.ErrPower)
	}
	return string(pt), nil
}
