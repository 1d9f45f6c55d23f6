package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateToken returns the API token kept in the file at path. When the
// file does not exist it creates it, and its folder when missing (mode
// 0700), with a new token: 32 random bytes, hex-encoded, mode 0600. It
// refuses a token file that group or others may read or write, and an
// empty one.
func LoadOrCreateToken(path string) (string, error) {
	tok, err := readToken(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create token folder: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate API token: %w", err)
	}
	tok = hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it since we looked: use its token.
		return readToken(path)
	}
	if err != nil {
		return "", fmt.Errorf("create API token file: %w", err)
	}
	_, err = f.WriteString(tok + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // a half-written token would lock every client out
		return "", fmt.Errorf("write API token file: %w", err)
	}
	return tok, nil
}

// readToken reads an existing token file, checking its permissions.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read API token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read API token: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("API token file %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("API token file %s has mode %04o: other users may read it; run chmod 600 %s",
			path, st.Mode().Perm(), path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("read API token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("API token file %s is empty; remove it to have a new token made", path)
	}
	return tok, nil
}
