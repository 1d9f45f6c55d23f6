package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// modulesDir holds the rbd modules the overlay adds, named NN-name.ko so
// that their lexical order is their load order.
const modulesDir = "/usr/lib/bootd/modules"

// mapVolume maps the node's volume and prints its device. On failure it
// reports the failure to bootd, best effort, and returns the error for the
// console.
func (e *env) mapVolume(ctx context.Context) error {
	s, err := e.readSettings()
	if err != nil {
		return err
	}
	cl, err := s.newClient()
	if err != nil {
		return err
	}
	cl.auth = s.token
	dev, err := e.mapWith(ctx, s, cl)
	if err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.report(rctx, "failed", err.Error())
		return err
	}
	// The hardware report goes on the connection the key came by (one
	// request more, no handshake); it never fails the boot.
	if err := e.postInventory(ctx, cl); err != nil {
		e.say("hardware not reported: %v", err)
	}
	fmt.Fprintln(os.Stdout, dev)
	return nil
}

func (e *env) mapWith(ctx context.Context, s *settings, cl *client) (string, error) {
	if err := e.waitRandom(ctx); err != nil {
		return "", err
	}
	// cephx refuses a client whose clock is far off, and a Pi 4 has no RTC.
	if now, err := cl.serverTime(ctx); err != nil {
		return "", fmt.Errorf("cannot reach bootd at %s: %w", s.url, err)
	} else if d := time.Since(now); d > time.Second || d < -time.Second {
		if err := e.kernel.setClock(now); err != nil {
			e.say("cannot set the clock: %v", err)
		}
	}
	if s.hostname != "" {
		if err := e.kernel.setHostname(s.hostname); err != nil {
			e.say("cannot set the hostname: %v", err)
		}
	}
	cl.report(ctx, "network", "")
	if err := e.loadModules(); err != nil {
		return "", err
	}
	if s.token == "" {
		return "", fmt.Errorf("no bootd.token on the kernel command line: cannot fetch the key")
	}
	key, err := e.fetchKey(ctx, cl, s.token)
	if err != nil {
		return "", err
	}
	if err := e.saveSecret(cl.auth); err != nil {
		e.say("cannot keep the report secret: %v", err)
	}
	if err := e.kernel.addCephKey(s.user, key); err != nil {
		return "", err
	}
	clear(key)
	defer e.kernel.clearKeys()
	if err := e.writeMap(s.mapString()); err != nil {
		return "", err
	}
	dev, err := e.waitDevice(ctx, s)
	if err != nil {
		return "", err
	}
	cl.report(ctx, "volume", dev)
	return dev, nil
}

// How long bootd-init waits for Ceph at the key: keyTries requests, the
// waits between them from keyFirstWait doubling to keyMaxWait (or bootd's
// Retry-After when longer, up to keyMaxWait): 10+10+20+8*30 = 280 s at most
// with bootd's Retry-After of 10 s,
// inside bootd's default boot window of 5 minutes, after which the token
// would be refused anyway.
const (
	keyTries     = 12
	keyFirstWait = 5 * time.Second
	keyMaxWait   = 30 * time.Second
)

// fetchKey asks bootd for the key, and while bootd answers "Ceph
// unavailable, retry" (its token not spent), or does not answer at all,
// says on the console that the node waits for Ceph and asks again,
// keyTries times at most. Any other answer ends it.
func (e *env) fetchKey(ctx context.Context, cl *client, token string) ([]byte, error) {
	wait := keyFirstWait
	for try := 1; ; try++ {
		key, err := cl.key(ctx, token)
		var u *unavailableError
		var refused *serverError
		switch {
		case err == nil, errors.As(err, &refused), ctx.Err() != nil:
			return key, err
		case !errors.As(err, &u):
			// No answer (bootd's release outlasted the client's timeout,
			// or the connection broke): bootd answers the same token from
			// this address "under way, retry", never a second key.
			u = &unavailableError{msg: err.Error()}
		}
		if try == keyTries {
			return nil, fmt.Errorf("gave up waiting for Ceph after %d tries: %w", keyTries, err)
		}
		d := min(max(wait, u.retryAfter), keyMaxWait)
		e.say("waiting for Ceph: bootd cannot release this node's key yet (%s); asking again in %s (%d of %d)", u.msg, d, try, keyTries)
		if err := e.pause(ctx, d); err != nil {
			return nil, err
		}
		wait = min(2*wait, keyMaxWait)
	}
}

// pause waits d, or less when ctx ends (e.sleep in tests).
func (e *env) pause(ctx context.Context, d time.Duration) error {
	if e.sleep != nil {
		return e.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *env) loadModules() error {
	files, err := filepath.Glob(e.path(modulesDir) + "/*.ko*")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := e.kernel.loadModule(f); err != nil {
			return err
		}
	}
	return nil
}

// writeMap writes the map string to add_single_major, or to add on kernels
// without single-major support.
func (e *env) writeMap(s string) error {
	target := e.path("/sys/bus/rbd/add_single_major")
	if _, err := os.Stat(target); err != nil {
		target = e.path("/sys/bus/rbd/add")
	}
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("rbd driver not loaded: %w", err)
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("map %q: %w", s, err)
	}
	return nil
}

// waitDevice finds the mapped device in /sys/bus/rbd/devices and waits for
// its /dev node.
func (e *env) waitDevice(ctx context.Context, s *settings) (string, error) {
	deadline := time.Now().Add(e.deviceWait)
	for {
		if dev := e.findDevice(s); dev != "" {
			if _, err := os.Stat(e.path(dev)); err == nil {
				return dev, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("volume %s/%s/%s mapped, but no device appeared", s.pool, s.ns, s.image)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (e *env) findDevice(s *settings) string {
	dirs, _ := filepath.Glob(e.path("/sys/bus/rbd/devices") + "/*")
	for _, d := range dirs {
		read := func(f string) string {
			b, _ := os.ReadFile(filepath.Join(d, f))
			return strings.TrimSpace(string(b))
		}
		if read("pool") == s.pool && read("name") == s.image && read("pool_ns") == s.ns {
			return "/dev/rbd" + filepath.Base(d)
		}
	}
	return ""
}

// waitRandom waits until the kernel's random number generator is ready
// (getrandom(2) blocks until then), which TLS needs for its key exchange.
// A server has RDRAND and a Pi 4 its own generator, so this is at once;
// a virtual machine with neither may take many seconds, and bootd-init
// says so rather than letting the node listener give up on a handshake
// it started too early.
func (e *env) waitRandom(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := rand.Read(b[:])
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Second):
		e.say("waiting for the kernel's random number generator (TLS needs it)")
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("the kernel's random number generator is not ready after 5 minutes: give the machine a hardware RNG")
	}
}
