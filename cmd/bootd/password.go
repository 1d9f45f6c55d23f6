package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// readPasswordFile reads the dashboard password from path ("" means no
// password). Like the API token, it must be a regular file that only its
// owner may read, and not empty.
func readPasswordFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("dashboard password: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("dashboard password: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("dashboard password file %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("dashboard password file %s has mode %04o: other users may read it; run chmod 600 %s",
			path, st.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("dashboard password: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("dashboard password file %s is empty", path)
	}
	return pw, nil
}
