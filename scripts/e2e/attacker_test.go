//go:build e2e

package e2e

import (
	"bytes"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// attackerMAC is the outsider's own MAC: never enrolled, so bootd knows it
// only as an unknown machine that asked for an address.
const attackerMAC = "52:54:00:b0:07:1f"

// attacker is a host on the boot LAN that is not a node: a network namespace
// of its own on a veth in the rig's br0, with an address leased by bootd's
// DHCP, from which it speaks to bootd with curl as any machine could.
type attacker struct {
	ns   string
	addr string // the address bootd leased it
}

// newAttacker joins a new namespace to br0 and takes a DHCP lease for
// attackerMAC from bootd (busybox udhcpc, which quits once bound and leaves
// the address on eth0). The namespace, and with it the veth pair, is
// removed when the test ends.
func (r *rig) newAttacker(t *testing.T) *attacker {
	t.Helper()
	a := &attacker{ns: r.ns.name + "-atk"}
	var remove func()
	a.addr, remove = r.lanHost(t, a.ns, "atk0", attackerMAC)
	t.Cleanup(remove)
	t.Logf("attacker %s leased %s from bootd", attackerMAC, a.addr)
	return a
}

// curl runs curl in the attacker's namespace and returns everything it
// printed: the response body, the status line curl is told to add, and any
// error (a refused connection is an answer too, and carries no key). form,
// when not nil, is POSTed. Certificates are not checked (-k): the attacker
// does not care whose server it talks to.
func (a *attacker) curl(t *testing.T, rawURL string, form url.Values) []byte {
	t.Helper()
	return a.run(t, rawURL, form, "")
}

// curlAuth is curl's GET with "Authorization: Bearer token" when token is
// not empty.
func (a *attacker) curlAuth(t *testing.T, rawURL, token string) []byte {
	t.Helper()
	return a.run(t, rawURL, nil, token)
}

func (a *attacker) run(t *testing.T, rawURL string, form url.Values, token string) []byte {
	t.Helper()
	args := []string{"netns", "exec", a.ns, "curl", "-sS", "-k", "-m", "10", "--noproxy", "*",
		"-w", "\n[HTTP %{http_code}]"}
	if form != nil {
		args = append(args, "--data-raw", form.Encode())
	}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	out, _ := exec.Command("ip", append(args, rawURL)...).CombinedOutput()
	return out
}

var reBootToken = regexp.MustCompile(`bootd\.token=([^\s"'&]+)`)

// tokens returns the bootd.token values in an iPXE script.
func tokens(script []byte) []string {
	var out []string
	for _, m := range reBootToken.FindAllSubmatch(script, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// secret is a node's cephx key, in the two forms it could leak in: the
// base64 text of a keyring and the decoded bytes the kernel keyring takes.
type secret struct {
	b64 string
	raw []byte
}

// leaks reports which form of the key b contains ("" when none).
func (s secret) leaks(b []byte) string {
	switch {
	case bytes.Contains(b, []byte(s.b64)):
		return "base64"
	case len(s.raw) > 0 && bytes.Contains(b, s.raw):
		return "raw bytes"
	}
	return ""
}

// redact hides the key's base64 text in s, for failure messages.
func (s secret) redact(str string) string {
	return strings.ReplaceAll(str, s.b64, "<node key>")
}
