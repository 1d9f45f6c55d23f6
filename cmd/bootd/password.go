package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readPasswordFile reads the dashboard password from path ("" means no
// password). Like the API token, it must be a regular file that only its
// owner may read, and not empty.
func readPasswordFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	return readSecretFile("dashboard password", path)
}

// readSecretFile reads a password from path, a regular file that only its
// owner may read; what names it in errors. The password is the file's
// content without surrounding white space, and must not be empty. The
// errors never contain it.
func readSecretFile(what, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s file %s is not a regular file", what, path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s file %s has mode %04o: other users may read it; run chmod 600 %s",
			what, path, st.Mode().Perm(), path)
	}
	pw, err := readSecret(f)
	if err != nil {
		return "", fmt.Errorf("%s file %s: %w", what, path, err)
	}
	return pw, nil
}

// readSecretStdin reads a password from standard input, which must not be
// a terminal: typed there it would be echoed.
func readSecretStdin(what string, in *os.File) (string, error) {
	if _, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err == nil { // a terminal
		return "", fmt.Errorf("%s: standard input is a terminal, which would show the password: "+
			"pipe it in or use a file of mode 0600", what)
	}
	pw, err := readSecret(in)
	if err != nil {
		return "", fmt.Errorf("%s on standard input: %w", what, err)
	}
	return pw, nil
}

// maxSecret bounds what readSecret reads; longer is refused, not cut.
const maxSecret = 4096

func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSecret+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecret {
		return "", fmt.Errorf("longer than %d bytes", maxSecret)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", errors.New("is empty")
	}
	return pw, nil
}
