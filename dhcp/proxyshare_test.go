package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestProxyInstancesAgree: two proxy-mode servers of two bootd instances
// (each its own address, boot URLs on its own address, as cmd wires them)
// over one shared state give every client the same decision: both answer
// or neither does, with the same boot file, on port 67 and 4011, for every
// firmware and every kind of client (enrolled to boot, enrolled not to
// boot, not enrolled, in known mode too). Only the server's own address
// may differ. Whichever answers first, the other does not contradict it.
func TestProxyInstancesAgree(t *testing.T) {
	t.Parallel()
	// The shared state: what the store says of each MAC.
	var mu sync.Mutex
	state := map[string]Answer{}
	decider := func(server netip.Addr) Decider {
		return DeciderFunc(func(_ context.Context, c Client) (Answer, error) {
			mu.Lock()
			a, ok := state[c.MAC.String()]
			mu.Unlock()
			if !ok {
				return Answer{Boot: true, Script: "http://" + server.String() + ":8080/boot/unknown.ipxe"}, nil
			}
			if a.Boot {
				a.Script = "http://" + server.String() + ":8080/boot/" + strings.ReplaceAll(c.MAC.String(), ":", "-") + "/boot.ipxe"
			}
			return a, nil
		})
	}
	ips := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")}
	from := &net.UDPAddr{IP: net.IPv4(198, 18, 0, 77), Port: 68}
	for _, clients := range []Clients{ClientsAll, ClientsKnown} {
		var srvs []*Server
		for _, ip := range ips {
			srv, err := New(Config{Mode: ModeProxy, ServerIP: ip, Clients: clients,
				HTTPBoot: "http://" + ip.String() + ":8080/boot/ipxe/", Decider: decider(ip)})
			if err != nil {
				t.Fatal(err)
			}
			srvs = append(srvs, srv)
		}
		for _, kind := range []string{"boot", "noboot", "unknown"} {
			for _, f := range fixtures {
				mac := f.pkt(dhcpv4.MessageTypeDiscover).ClientHWAddr.String()
				mu.Lock()
				switch kind {
				case "boot":
					state[mac] = Answer{Boot: true, Known: true}
				case "noboot":
					state[mac] = Answer{Known: true}
				default:
					delete(state, mac)
				}
				mu.Unlock()
				for _, step := range []struct {
					mt  dhcpv4.MessageType
					pxe bool
				}{{dhcpv4.MessageTypeDiscover, false}, {dhcpv4.MessageTypeRequest, true}} {
					var got []string
					for i, srv := range srvs {
						r := srv.handle(context.Background(), f.pkt(step.mt).ToBytes(), from, step.pxe)
						got = append(got, decision(r, ips[i]))
					}
					name := fmt.Sprintf("%s/%s/%s/%s", clients, kind, f.name, step.mt)
					if got[0] != got[1] {
						t.Errorf("%s: the instances disagree:\n%s: %s\n%s: %s", name, ips[0], got[0], ips[1], got[1])
					}
					// plain is not network-booting; arm64 has no iPXE binary by default.
					if kind == "boot" && f.name != "plain" && f.name != "arm64-uefi" && got[0] == "no reply" {
						t.Errorf("%s: no reply, want a boot decision", name)
					}
				}
			}
		}
	}
}

// decision is what a reply decides for its client, the server's own
// address written as SERVER: its type, boot fields and options (the server
// identifier left out once checked).
func decision(r *reply, server netip.Addr) string {
	if r == nil {
		return "no reply"
	}
	own := func(b []byte) string {
		return string(bytes.ReplaceAll(b, []byte(server.String()), []byte("SERVER")))
	}
	p := r.pkt
	siaddr := p.ServerIPAddr.String()
	if toAddr(p.ServerIPAddr) == server {
		siaddr = "SERVER"
	}
	out := []string{p.MessageType().String(), "siaddr=" + siaddr, "sname=" + own([]byte(p.ServerHostName)),
		"file=" + own([]byte(p.BootFileName))}
	var codes []int
	for c := range p.Options {
		codes = append(codes, int(c))
	}
	slices.Sort(codes)
	for _, c := range codes {
		v := p.Options[uint8(c)]
		if c == int(dhcpv4.OptionServerIdentifier.Code()) {
			if toAddr(net.IP(v)) != server {
				out = append(out, fmt.Sprintf("option 54 = %v, not the server's own", net.IP(v)))
			}
			continue
		}
		out = append(out, fmt.Sprintf("%d=%q", c, own(v)))
	}
	return strings.Join(out, " ")
}
