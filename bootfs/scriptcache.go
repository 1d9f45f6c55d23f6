package bootfs

import (
	"encoding/json"
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

// scriptInputs is everything a script without a one-time token is
// rendered from. The cache keys on all of it (key) and the script is
// rendered from it alone (plan), so nothing the script uses can be missing
// from its key: a field added here is in both at once (TestScriptKeyCoversInputs).
type scriptInputs struct {
	MAC      boot.MAC
	Hostname string
	Image    string // the node's image name
	Netboot  bool
	Problem  string
	Def      *boot.Image // the catalog's image; nil when it is not in the catalog
}

func inputsOf(p *boot.Plan) scriptInputs {
	n := p.Node
	return scriptInputs{MAC: n.MAC, Hostname: n.Hostname, Image: n.Image, Netboot: p.Netboot, Problem: p.Problem, Def: p.Image}
}

// plan is a Plan that carries exactly these inputs.
func (in scriptInputs) plan() *boot.Plan {
	return &boot.Plan{Node: &boot.Node{MAC: in.MAC, Hostname: in.Hostname, Image: in.Image},
		Netboot: in.Netboot, Problem: in.Problem, Image: in.Def}
}

// key encodes every field of in, nested ones too (JSON: each value quoted
// and named, so text cannot move from one field to the next unseen). ""
// (never cache) if it cannot, which no field of scriptInputs does.
func (in scriptInputs) key() string {
	b, err := json.Marshal(in)
	if err != nil {
		return ""
	}
	return string(b)
}
