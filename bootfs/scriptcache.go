package bootfs

import (
	"strconv"
	"strings"
	"sync"

	"github.com/bootd/bootd/boot"
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

// scriptKey is everything a script without a one-time token is rendered
// from, NUL-separated (no field can hold a NUL: they come from validated
// names and the catalog's text): the node's MAC, hostname, image and netboot
// switch, the plan's problem, and the image's command line template and
// number of initrds.
func scriptKey(plan *boot.Plan) string {
	n := plan.Node
	var cmdline, initrds string
	if img := plan.Image; img != nil {
		cmdline, initrds = img.Cmdline, strconv.Itoa(len(img.Initrds))
	}
	netboot := "off"
	if plan.Netboot {
		netboot = "on"
	}
	var k strings.Builder
	for _, s := range []string{n.MAC.String(), n.Hostname, n.Image, netboot, plan.Problem, cmdline, initrds} {
		k.WriteString(s)
		k.WriteByte(0)
	}
	return k.String()
}
