package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// kernel is what map asks of the running kernel.
type kernel interface {
	// loadModule loads a module file; an already loaded module is not an error.
	loadModule(path string) error
	// addCephKey adds the secret as a "ceph" key called client.<user> to the user keyring.
	addCephKey(user string, secret []byte) error
	// clearKeys empties the user keyring once the kernel holds its own copy of the key.
	clearKeys() error
	setClock(t time.Time) error
	// setHostname names the machine; the name outlives the initramfs.
	setHostname(name string) error
}

type realKernel struct{}

func (realKernel) loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load module %s: %w", path, err)
	}
	return nil
}

// addCephKey adds the key as libceph's key type "ceph" (net/ceph/crypto.c:
// the payload is the decoded key, a 12-byte header and the 16-byte AES
// key). It goes to the user keyring (@u): in the initramfs a session
// keyring is thrown away before the map looks for it (make e2e's boots map
// with this; with @s the map fails with "key not found").
func (realKernel) addCephKey(user string, secret []byte) error {
	if _, err := unix.AddKey("ceph", "client."+user, secret, unix.KEY_SPEC_USER_KEYRING); err != nil {
		return fmt.Errorf("add_key ceph client.%s: %w", user, err)
	}
	return nil
}

func (realKernel) clearKeys() error {
	_, err := unix.KeyctlInt(unix.KEYCTL_CLEAR, unix.KEY_SPEC_USER_KEYRING, 0, 0, 0)
	return err
}

func (realKernel) setClock(t time.Time) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	return unix.Settimeofday(&tv)
}

func (realKernel) setHostname(name string) error { return unix.Sethostname([]byte(name)) }

// dryKernel only says what it would do (never the key), for tests.
type dryKernel struct{ out io.Writer }

func (d dryKernel) loadModule(path string) error {
	fmt.Fprintf(d.out, "dry-run: load module %s\n", path)
	return nil
}

func (d dryKernel) addCephKey(user string, secret []byte) error {
	fmt.Fprintf(d.out, "dry-run: add ceph key client.%s (%d bytes)\n", user, len(secret))
	return nil
}

func (d dryKernel) clearKeys() error {
	fmt.Fprintln(d.out, "dry-run: clear user keyring")
	return nil
}

func (d dryKernel) setClock(t time.Time) error {
	fmt.Fprintf(d.out, "dry-run: set clock to %s\n", t.UTC().Format(time.RFC3339))
	return nil
}

func (d dryKernel) setHostname(name string) error {
	fmt.Fprintf(d.out, "dry-run: set hostname to %s\n", name)
	return nil
}
