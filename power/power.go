package power

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bootd/bootd/boot"
)

// Errors of the drivers. Each wraps boot.ErrPower, so the API answers them
// with the driver's message.
var (
	// ErrAuth reports that the BMC refused the user name or password. It is
	// never retried.
	ErrAuth = fmt.Errorf("%w: the BMC refused the user name or password", boot.ErrPower)
	// ErrTemporary reports a failure that may pass: no answer, a timeout, a
	// BMC busy (503). The Controller retries it a bounded number of times.
	ErrTemporary = fmt.Errorf("%w: the BMC did not answer or is busy", boot.ErrPower)
)

// A Target is one machine as a driver sees it: where its BMC is and how to
// log in, with the password in clear (in memory only, for one call).
type Target struct {
	MAC      boot.MAC
	Hostname string
	Image    string
	// UEFI says the machine's firmware is UEFI (its last DHCP's class), for
	// IPMI's boot flags.
	UEFI        bool
	Address     string
	User        string
	Password    string
	Fingerprint string
}

// A Driver performs power actions on one kind of BMC. Do is called
// concurrently for different machines; it returns the machine's power state
// after the action (boot.PowerStateUnknown when it cannot tell) or an
// error wrapping ErrAuth, ErrTemporary, boot.ErrPower or
// boot.ErrPowerUnsupported.
type Driver interface {
	Do(ctx context.Context, t Target, a boot.PowerAction) (boot.PowerState, error)
}

// DriverFunc adapts a function to Driver.
type DriverFunc func(ctx context.Context, t Target, a boot.PowerAction) (boot.PowerState, error)

// Do calls f.
func (f DriverFunc) Do(ctx context.Context, t Target, a boot.PowerAction) (boot.PowerState, error) {
	return f(ctx, t, a)
}

// retryAfter is an ErrTemporary with the BMC's own idea of when to ask again.
type retryAfter struct {
	error
	after time.Duration
}

func (e *retryAfter) Unwrap() error { return e.error }

// Defaults of a Controller.
const (
	DefaultAttempts = 3
	DefaultBackoff  = time.Second
	DefaultAuthHold = 30 * time.Second
	// maxWait caps a Retry-After the BMC asks for.
	maxWait = 10 * time.Second
)

// Config configures a Controller.
type Config struct {
	// Key seals and opens the passwords kept in the store (LoadKey); required.
	Key *Key
	// Drivers by name; nil entries fall back to the built-in ones
	// (IPMI, Redfish, and Hook when HookPath is set).
	Drivers map[string]Driver
	// HookPath is the command hook's executable; empty: no hook driver.
	HookPath string
	// HookTimeout bounds one run of the hook; 0 means DefaultHookTimeout.
	HookTimeout time.Duration
	// Attempts bounds the tries of one action (ErrTemporary only); 0 means
	// DefaultAttempts. Backoff is the wait before the second, doubled after;
	// 0 means DefaultBackoff.
	Attempts int
	Backoff  time.Duration
	// AuthHold is how long a refused password is not tried again on the
	// same BMC; 0 means DefaultAuthHold.
	AuthHold time.Duration
	Logger   *slog.Logger
}

// A Controller implements boot.Power over the drivers.
type Controller struct {
	cfg     Config
	drivers map[string]Driver
	log     *slog.Logger
	now     func() time.Time

	mu    sync.Mutex
	busy  map[string]*sync.Mutex // one action at a time per machine
	holds map[string]hold        // refused passwords, by MAC
}

// hold remembers a refused login, by a digest of the settings and password.
type hold struct {
	digest [32]byte
	until  time.Time
}

// New returns a Controller for cfg.
func New(cfg Config) (*Controller, error) {
	if cfg.Key == nil {
		return nil, errors.New("power: Config needs a Key")
	}
	c := &Controller{cfg: cfg, log: cfg.Logger, now: time.Now, busy: map[string]*sync.Mutex{}, holds: map[string]hold{},
		drivers: map[string]Driver{boot.DriverIPMI: IPMI{}, boot.DriverRedfish: &Redfish{}}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg.HookPath != "" {
		c.drivers[boot.DriverHook] = &Hook{Path: cfg.HookPath, Timeout: cfg.HookTimeout}
	}
	for name, d := range cfg.Drivers {
		if d != nil {
			c.drivers[name] = d
		}
	}
	if c.cfg.Attempts <= 0 {
		c.cfg.Attempts = DefaultAttempts
	}
	if c.cfg.Backoff <= 0 {
		c.cfg.Backoff = DefaultBackoff
	}
	if c.cfg.AuthHold <= 0 {
		c.cfg.AuthHold = DefaultAuthHold
	}
	return c, nil
}

// Seal implements boot.Power.
func (c *Controller) Seal(mac boot.MAC, password string) (string, error) {
	return c.cfg.Key.Seal(mac, password)
}

// Power implements boot.Power: it performs a on n through n's driver.
func (c *Controller) Power(ctx context.Context, n *boot.Node, a boot.PowerAction) (boot.PowerState, error) {
	ps := n.Power
	if ps == nil {
		return "", fmt.Errorf("%w: %s has no power driver", boot.ErrNoPower, n.MAC)
	}
	d, ok := c.drivers[ps.Driver]
	if !ok {
		if ps.Driver == boot.DriverHook {
			return "", fmt.Errorf("%w: driver hook, but bootd has no power_hook configured", boot.ErrNoPower)
		}
		return "", fmt.Errorf("%w: unknown power driver %q", boot.ErrInvalid, ps.Driver)
	}
	t := Target{MAC: n.MAC, Hostname: n.Hostname, Image: n.Image, UEFI: strings.Contains(n.Arch, "uefi"),
		Address: ps.Address, User: ps.User, Fingerprint: ps.Fingerprint}
	var err error
	if t.Password, err = c.password(n.MAC, ps.Secret); err != nil {
		return "", err
	}
	key := n.MAC.String()
	lock := c.lock(key)
	lock.Lock()
	defer lock.Unlock()
	digest := sha256.Sum256([]byte(ps.Driver + "\x00" + ps.Address + "\x00" + ps.User + "\x00" + t.Password))
	if err := c.held(key, digest); err != nil {
		return "", err
	}
	wait := c.cfg.Backoff
	for attempt := 1; ; attempt++ {
		st, err := d.Do(ctx, t, a)
		switch {
		case err == nil:
			return st, nil
		case errors.Is(err, ErrAuth):
			c.hold(key, digest)
			c.log.Warn("power: the BMC refused the login", "mac", key, "driver", ps.Driver, "address", ps.Address, "user", ps.User)
			return "", err
		case !errors.Is(err, ErrTemporary) || attempt >= c.cfg.Attempts:
			if attempt > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return "", err
		}
		w := wait
		if ra, ok := errors.AsType[*retryAfter](err); ok && ra.after > 0 {
			w = min(ra.after, maxWait)
		}
		c.log.Info("power: retrying", "mac", key, "action", string(a), "attempt", attempt, "wait", w, "err", err)
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w: %v", boot.ErrPower, ctx.Err())
		case <-time.After(w):
		}
		wait *= 2
	}
}

// password returns the password a node's Secret names.
func (c *Controller) password(mac boot.MAC, secret string) (string, error) {
	switch {
	case secret == "":
		return "", nil
	case strings.HasPrefix(secret, "file:"):
		return ReadPasswordFile(strings.TrimPrefix(secret, "file:"))
	default:
		return c.cfg.Key.Open(mac, secret)
	}
}

// ReadPasswordFile reads a password from a file that only its owner may
// read (mode 0600 or less), without its trailing newline.
func ReadPasswordFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: BMC password file: %v", boot.ErrPower, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: BMC password file %s is readable by others (mode %v): chmod 600 it", boot.ErrPower, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: BMC password file: %v", boot.ErrPower, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (c *Controller) lock(key string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.busy[key]
	if !ok {
		m = new(sync.Mutex)
		c.busy[key] = m
	}
	return m
}

// held fails while the same login was refused less than AuthHold ago.
func (c *Controller) held(key string, digest [32]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.holds[key]
	if !ok || h.digest != digest || !c.now().Before(h.until) {
		return nil
	}
	return fmt.Errorf("%w (not asked again until %s, so as not to lock the account: fix the password with bootd power set)",
		ErrAuth, h.until.Format(time.TimeOnly))
}

func (c *Controller) hold(key string, digest [32]byte) {
	c.mu.Lock()
	c.holds[key] = hold{digest: digest, until: c.now().Add(c.cfg.AuthHold)}
	c.mu.Unlock()
}
