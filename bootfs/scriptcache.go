package bootfs

import (
	"strings"
	"sync"
)

// scriptCache keeps rendered scripts by everything they are rendered from,
// so that a machine asking for its script again (iPXE retries, a boot storm)
// costs a map lookup instead of a template run. A key holds all of the
// template's inputs, so an entry can never be stale: a changed node or image
// makes another key. Only scripts of enrolled machines without a one-time
// token are kept (a token makes each script unique). It holds at most about
// two generations of scriptCacheSize entries: when the newer fills up, the
// older is dropped, which keeps what is still asked for.
type scriptCache struct {
	mu        sync.Mutex
	cur, prev map[string][]byte
}

const scriptCacheSize = 8192

func (c *scriptCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.cur[key]; ok {
		return b, true
	}
	if b, ok := c.prev[key]; ok {
		c.putLocked(key, b)
		return b, true
	}
	return nil, false
}

func (c *scriptCache) put(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(key, b)
}

func (c *scriptCache) putLocked(key string, b []byte) {
	if c.cur == nil || len(c.cur) >= scriptCacheSize {
		c.prev, c.cur = c.cur, make(map[string][]byte, scriptCacheSize)
	}
	c.cur[key] = b
}

// cacheKey is the template name and d's fields, NUL-separated (no field
// can hold a NUL: they come from validated names and the catalog's text).
func cacheKey(tmpl string, d scriptData) string {
	var k strings.Builder
	k.Grow(len(tmpl) + len(d.MAC) + len(d.Hostname) + len(d.Image) + len(d.Cmdline) + len(d.Problem) + 64)
	for _, s := range []string{tmpl, d.MAC, d.Hostname, d.Image, d.Cmdline, d.Kernel, d.Initramfs, d.Problem} {
		k.WriteString(s)
		k.WriteByte(0)
	}
	for _, r := range d.Initrds {
		k.WriteString(r.Name)
		k.WriteByte(0)
		k.WriteString(r.Path)
		k.WriteByte(0)
	}
	return k.String()
}
