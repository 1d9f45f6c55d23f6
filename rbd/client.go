package rbd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"
)

// Config configures a Client. Monitors and KeyringFile, when set, win over
// what ConfFile says; one of ConfFile and Monitors is required.
type Config struct {
	// ConfFile is a ceph.conf to read first (monitors, keyring, options).
	ConfFile string
	// Monitors is a mon_host value: "198.18.0.1", "198.18.0.1:6789,198.18.0.2:6789"
	// or "[v2:198.18.0.1:3300,v1:198.18.0.1:6789]".
	Monitors string
	// User is bootd's own Ceph user, without "client."; empty means "bootd".
	User string
	// KeyringFile holds User's key.
	KeyringFile string
	// Pool holds the nodes' volumes; empty means "rbd".
	Pool string
	// GoldenNamespace is where golden images live when an image's definition
	// names no namespace; empty means "golden".
	GoldenNamespace string
	// MsMode is the messenger mode nodes' kernels map their volumes with,
	// the krbd option ms_mode (rbd(8), kernel map options; Linux 5.11 and
	// later): "" or "legacy" is msgr v1 (monitor port 6789, no ms_mode
	// option, understood by every kernel); "crc", "secure", "prefer-crc"
	// and "prefer-secure" are msgr2 (port 3300). "secure" encrypts the disk
	// traffic with AES-GCM.
	MsMode string
	// Timeout bounds each monitor and OSD operation; zero means 30 s.
	Timeout time.Duration
	// Logger receives state changes; nil discards them.
	Logger *slog.Logger
	// Checkpoint, when set, is called after each step of Create and Remove
	// (volume:namespace, volume:clone, volume:resize, volume:user;
	// volume:images, volume:user-removed, volume:namespace-removed). For
	// crash tests only.
	Checkpoint func(step string)
}

// Client is a connection to a Ceph cluster that keeps nodes' volumes. It is
// safe for concurrent use.
type Client struct {
	conn    *rados.Conn
	cfg     Config
	log     *slog.Logger
	golden  string
	goldens goldenCache
	// parents keeps the golden each volume's root was cloned from, as
	// Holders found it, for the Confine of the same key release; changes
	// of a root through this client drop its entry.
	parents parentCache
	// monitors keeps the monitor map's answer (Target) for a while: every
	// booting node's node.cpio names the monitors.
	monitors ttlCache[struct{}, monDump]
	// capsWrites counts Confine's writes of a node user's caps.
	capsWrites atomic.Int64
}

var _ boot.Volumes = (*Client)(nil)

// Open connects to the cluster and checks that the pool exists.
func Open(cfg Config) (*Client, error) {
	if cfg.ConfFile == "" && cfg.Monitors == "" {
		return nil, errors.New("rbd: Config needs ConfFile or Monitors")
	}
	if cfg.User == "" {
		cfg.User = "bootd"
	}
	if cfg.Pool == "" {
		cfg.Pool = "rbd"
	}
	if cfg.GoldenNamespace == "" {
		cfg.GoldenNamespace = "golden"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if err := CheckMsMode(cfg.MsMode); err != nil {
		return nil, err
	}
	conn, err := rados.NewConnWithUser(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("ceph: %w", err)
	}
	c := &Client{conn: conn, cfg: cfg, log: cfg.Logger, golden: cfg.GoldenNamespace}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.configure(); err != nil {
		conn.Shutdown()
		return nil, err
	}
	if err := conn.Connect(); err != nil {
		conn.Shutdown()
		return nil, fmt.Errorf("ceph: connect to monitors as client.%s: %w", cfg.User, err)
	}
	if _, err := conn.GetPoolByName(cfg.Pool); err != nil {
		conn.Shutdown()
		return nil, fmt.Errorf("ceph: pool %s: %w", cfg.Pool, err)
	}
	return c, nil
}

func (c *Client) configure() error {
	if c.cfg.ConfFile != "" {
		if err := c.conn.ReadConfigFile(c.cfg.ConfFile); err != nil {
			return fmt.Errorf("ceph: read %s: %w", c.cfg.ConfFile, err)
		}
	}
	secs := strconv.Itoa(max(1, int(c.cfg.Timeout.Seconds())))
	opts := [][2]string{{"rados_mon_op_timeout", secs}, {"rados_osd_op_timeout", secs}, {"client_mount_timeout", secs}}
	if c.cfg.Monitors != "" {
		opts = append(opts, [2]string{"mon_host", c.cfg.Monitors})
	}
	if c.cfg.KeyringFile != "" {
		opts = append(opts, [2]string{"keyring", c.cfg.KeyringFile})
	}
	for _, o := range opts {
		if err := c.conn.SetConfigOption(o[0], o[1]); err != nil {
			return fmt.Errorf("ceph: set %s: %w", o[0], err)
		}
	}
	return nil
}

// msModes are the values Config.MsMode takes.
var msModes = []string{"", "legacy", "crc", "secure", "prefer-crc", "prefer-secure"}

// CheckMsMode returns an error unless m is one of msModes (Config.MsMode).
func CheckMsMode(m string) error {
	if !slices.Contains(msModes, m) {
		return fmt.Errorf("rbd: ms_mode %q: want legacy, crc, secure, prefer-crc or prefer-secure", m)
	}
	return nil
}

// Pool returns the pool of the nodes' volumes.
func (c *Client) Pool() string { return c.cfg.Pool }

// User returns bootd's Ceph entity, client.<id>.
func (c *Client) User() string { return "client." + c.cfg.User }

// Close closes the connection. The Client must not be used after.
func (c *Client) Close() error {
	c.conn.Shutdown()
	return nil
}

// step calls the checkpoint hook.
func (c *Client) step(name string) {
	if c.cfg.Checkpoint != nil {
		c.cfg.Checkpoint(name)
	}
}

// ioctx opens an I/O context on pool (the volume pool when empty) set to
// namespace ns. The caller destroys it.
func (c *Client) ioctx(pool, ns string) (*rados.IOContext, error) {
	if pool == "" {
		pool = c.cfg.Pool
	}
	io, err := c.conn.OpenIOContext(pool)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", pool, err)
	}
	io.SetNamespace(ns)
	return io, nil
}

// user is the Ceph entity of volume name's node.
func user(name string) string { return "client." + name }

// monCommand runs a monitor command and decodes its JSON answer into out
// (when not nil). Errors carry the monitor's message.
func (c *Client) monCommand(ctx context.Context, cmd map[string]any, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd["format"] = "json"
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	buf, status, err := c.conn.MonCommand(b)
	if err != nil {
		if status != "" {
			return denied(fmt.Errorf("%s: %s: %w", cmd["prefix"], status, err))
		}
		return denied(fmt.Errorf("%s: %w", cmd["prefix"], err))
	}
	if out != nil {
		if err := json.Unmarshal(buf, out); err != nil {
			return fmt.Errorf("%s: bad answer: %w", cmd["prefix"], err)
		}
	}
	return nil
}

// denied wraps err with boot.ErrDenied when it is Ceph refusing bootd's
// user (EACCES: a cap it lacks; EPERM: an operation the cap does not
// allow), so callers tell a misconfigured user from a cluster that is down.
func denied(err error) error {
	if err == nil || errors.Is(err, boot.ErrDenied) {
		return err
	}
	if hasErrno(err, syscall.EACCES) || hasErrno(err, syscall.EPERM) {
		return fmt.Errorf("%w: %w", boot.ErrDenied, err)
	}
	return err
}

// isNotFound reports whether err is Ceph's ENOENT.
func isNotFound(err error) bool {
	return errors.Is(err, rbd.ErrNotFound) || errors.Is(err, rados.ErrNotFound) || hasErrno(err, syscall.ENOENT)
}

// hasErrno reports whether err is a go-ceph error with errno e.
func hasErrno(err error, e syscall.Errno) bool {
	var ce interface{ ErrorCode() int }
	if errors.As(err, &ce) {
		return ce.ErrorCode() == -int(e) || ce.ErrorCode() == int(e)
	}
	return false
}

// spec writes pool/namespace/image the way the rbd CLI does.
func spec(pool, ns, image string) string {
	if ns == "" {
		return pool + "/" + image
	}
	return strings.Join([]string{pool, ns, image}, "/")
}

// goldenCacheTTL is how long a golden snapshot found protected (and its
// size) is trusted without asking the cluster again. Enrolling a rack
// checks the same golden hundreds of times a minute; a snapshot unprotected
// meanwhile is noticed within this time, and the clone itself still fails
// if the snapshot is gone.
const goldenCacheTTL = 10 * time.Second

type goldenInfo struct {
	protected bool
	size      uint64
}

// goldenCache remembers recent golden checks.
type goldenCache struct {
	c ttlCache[boot.GoldenRef, goldenInfo]
}

func (gc *goldenCache) get(g boot.GoldenRef) (goldenInfo, bool) { return gc.c.get(g, goldenCacheTTL) }

// put merges what was learnt about g into the cache.
func (gc *goldenCache) put(g boot.GoldenRef, info goldenInfo) {
	gc.c.update(g, goldenCacheTTL, func(old goldenInfo, ok bool) goldenInfo {
		if ok {
			info.protected = info.protected || old.protected
			info.size = max(info.size, old.size)
		}
		return info
	})
}

// parentCache is a ttlCache of roots' parents that a change of the root
// cannot race: Holders reads the parent after taking the volume's
// generation, and its put is ignored when a drop (a change of the root)
// came in between.
type parentCache struct {
	mu  sync.Mutex
	gen map[string]uint64 // drops so far, by volume; only ever grows
	c   ttlCache[string, boot.GoldenRef]
}

func (p *parentCache) generation(name string) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen[name]
}

func (p *parentCache) get(name string) (boot.GoldenRef, bool) { return p.c.get(name, parentCacheTTL) }

// put keeps g as name's parent, read at generation gen.
func (p *parentCache) put(name string, gen uint64, g boot.GoldenRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen[name] == gen {
		p.c.put(name, parentCacheTTL, g)
	}
}

func (p *parentCache) drop(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == nil {
		p.gen = map[string]uint64{}
	}
	p.gen[name]++
	p.c.drop(name)
}

// ttlCache keeps values for a while: answers of the cluster that a storm
// of enrolls or key releases would otherwise ask for again and again.
// Expired entries go when the map has grown past maxEntries.
type ttlCache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

// ttlCacheMax is how many entries a cache holds before it prunes expired ones.
const ttlCacheMax = 4096

// get returns k's value when it was put less than ttl ago.
func (c *ttlCache[K, V]) get(k K, ttl time.Duration) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Since(e.at) >= ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, ttl time.Duration, v V) {
	c.update(k, ttl, func(V, bool) V { return v })
}

// update puts f(old value, whether it is fresh) for k.
func (c *ttlCache[K, V]) update(k K, ttl time.Duration, f func(old V, fresh bool) V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]ttlEntry[V]{}
	}
	if len(c.m) >= ttlCacheMax {
		for key, e := range c.m {
			if time.Since(e.at) >= ttl {
				delete(c.m, key)
			}
		}
	}
	old, ok := c.m[k]
	c.m[k] = ttlEntry[V]{v: f(old.v, ok && time.Since(old.at) < ttl), at: time.Now()}
}

func (c *ttlCache[K, V]) drop(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}
