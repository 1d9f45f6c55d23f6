package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// settings are what map needs: bootd's node URL and token from the kernel
// command line, the volume from node.conf.
type settings struct {
	url      string // bootd=: the node's base URL, e.g. http://198.18.0.1:8080/boot/52-54-00-12-34-56
	token    string // bootd.token=: one-time, exchanged for the key
	monitors string // comma-separated IP:port list
	pool     string
	ns       string // RBD namespace
	image    string
	user     string // Ceph user id, without "client."
	options  string // extra map options, e.g. ms_mode=crc
	hostname string // the node's name, from bootd
	// fingerprint is the SHA-256 (hex) of bootd's node listener
	// certificate, pinned for the key exchange.
	fingerprint string
	// fallbacks are the other bootd instances' node URLs for this node,
	// each with its certificate's fingerprint (node.conf's fallback=).
	fallbacks [][2]string
}

// cmdline reads key=value words of the kernel command line.
func cmdline(b []byte) map[string]string {
	out := map[string]string{}
	for _, w := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(w, "=")
		out[k] = v
	}
	return out
}

func (e *env) readSettings() (*settings, error) {
	raw, err := os.ReadFile(e.path("/proc/cmdline"))
	if err != nil {
		return nil, err
	}
	cl := cmdline(raw)
	s := &settings{url: cl["bootd"], token: cl["bootd.token"]}
	if s.url == "" {
		return nil, fmt.Errorf("no bootd= on the kernel command line")
	}
	if u, err := url.Parse(s.url); err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("bootd=%s is not an https URL: the key is fetched over TLS only", s.url)
	}
	conf, err := os.ReadFile(e.path("/etc/bootd/node.conf"))
	if err != nil {
		return nil, fmt.Errorf("node settings: %w", err)
	}
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("node.conf: bad line %q", line)
		}
		if k = strings.TrimSpace(k); k == "fallback" {
			u, pin, ok := strings.Cut(strings.TrimSpace(v), " ")
			if !ok {
				return nil, fmt.Errorf("node.conf: bad fallback %q: want a URL and a fingerprint", v)
			}
			s.fallbacks = append(s.fallbacks, [2]string{u, strings.TrimSpace(pin)})
			continue
		}
		kv[k] = strings.TrimSpace(v)
	}
	s.monitors, s.pool, s.ns, s.image, s.user, s.options, s.hostname, s.fingerprint =
		kv["monitors"], kv["pool"], kv["namespace"], kv["image"], kv["user"], kv["options"], kv["hostname"], kv["fingerprint"]
	for name, v := range map[string]string{"monitors": s.monitors, "pool": s.pool, "image": s.image, "user": s.user} {
		if v == "" || strings.ContainsAny(v, " \t\n") {
			return nil, fmt.Errorf("node.conf: %s is missing or has spaces", name)
		}
	}
	return s, nil
}

// mapString is what the kernel's rbd driver takes on add_single_major
// (Documentation/ABI/testing/sysfs-bus-rbd): monitors, options, pool,
// image, snapshot ("-" for none). The key itself is named, not included:
// key=client.<user> refers to the keyring entry map adds just before.
func (s *settings) mapString() string {
	opts := "name=" + s.user + ",key=client." + s.user
	if s.ns != "" {
		opts += ",_pool_ns=" + s.ns
	}
	if s.options != "" {
		opts += "," + s.options
	}
	return strings.Join([]string{s.monitors, opts, s.pool, s.image, "-"}, " ")
}

// newClient returns a client of the node URL on the command line, with the
// other instances of node.conf after it.
func (s *settings) newClient() (*client, error) {
	c, err := newClient(s.url, s.fingerprint)
	if err != nil {
		return nil, err
	}
	for _, f := range s.fallbacks {
		if err := c.addFallback(f[0], f[1]); err != nil {
			return nil, fmt.Errorf("node.conf: fallback %s: %w", f[0], err)
		}
	}
	return c, nil
}
