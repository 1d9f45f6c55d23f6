package boot

import (
	"fmt"
	"net"
	"strings"
)

// A MAC is a 6-byte Ethernet hardware address. Its text form, used in the
// store, the API and logs, is the canonical lower-case colon form
// (52:54:00:12:34:56).
type MAC net.HardwareAddr

// ParseMAC accepts the common spellings of an Ethernet address:
// aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff and aabbccddeeff.
func ParseMAC(s string) (MAC, error) {
	t := strings.TrimSpace(s)
	if len(t) == 12 && isHex(t) {
		t = t[0:4] + "." + t[4:8] + "." + t[8:12]
	}
	hw, err := net.ParseMAC(t)
	if err != nil || len(hw) != 6 {
		return nil, invalid("bad MAC address %q: want six bytes like 52:54:00:12:34:56", s)
	}
	return MAC(hw), nil
}

// FromHardwareAddr converts a 6-byte hardware address to a MAC.
func FromHardwareAddr(hw net.HardwareAddr) (MAC, error) {
	if len(hw) != 6 {
		return nil, invalid("hardware address %v is not 6 bytes", hw)
	}
	return MAC(append(net.HardwareAddr(nil), hw...)), nil
}

// String returns the canonical lower-case colon form.
func (m MAC) String() string { return net.HardwareAddr(m).String() }

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	p, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = p
	return nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

var sprintf = fmt.Sprintf
