package boot

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// The MACs and address of the token tests.
var (
	tokenMAC   = MAC{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	tokenOther = MAC{0x52, 0x54, 0, 0, 0, 1}
	tokenAddr  = netip.MustParseAddr("198.18.0.10")
)

// newTestTokens returns tokens good for 5 minutes on a clock the test moves
// through *now, and the MACs and address the tests use.
func newTestTokens() (*BootTokens, *time.Time, MAC, MAC, netip.Addr) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return NewBootTokens(5*time.Minute, func() time.Time { return now }), &now, tokenMAC, tokenOther, tokenAddr
}

func TestBootTokens(t *testing.T) {
	t.Parallel()
	tk, now, mac, other, addr := newTestTokens()

	tok, err := tk.Issue(mac, addr)
	if err != nil || len(tok) != 48 {
		t.Fatalf("Issue = %q, %v", tok, err)
	}
	if err := tk.Redeem(tok, mac, addr); err != nil {
		t.Errorf("first Redeem = %v, want nil", err)
	}
	if err := tk.Redeem(tok, mac, addr); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("second Redeem = %v, want ErrTokenRefused (tokens work once)", err)
	}

	for _, tc := range []struct {
		name string
		mac  MAC
		addr netip.Addr
		wait time.Duration
	}{
		{"other MAC", other, addr, 0},
		{"other address", mac, netip.MustParseAddr("198.18.0.11"), 0},
		{"expired", mac, addr, 6 * time.Minute},
	} {
		tok, _ := tk.Issue(mac, addr)
		*now = now.Add(tc.wait)
		if err := tk.Redeem(tok, tc.mac, tc.addr); !errors.Is(err, ErrTokenRefused) {
			t.Errorf("%s: Redeem = %v, want ErrTokenRefused", tc.name, err)
		}
		if err := tk.Redeem(tok, mac, addr); !errors.Is(err, ErrTokenRefused) {
			t.Errorf("%s: the right node's Redeem after a refused one = %v, want the token burnt", tc.name, err)
		}
	}
	if err := tk.Redeem("nonsense", mac, addr); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("Redeem(unknown) = %v", err)
	}
	v4in6 := netip.MustParseAddr("::ffff:198.18.0.10")
	tok, _ = tk.Issue(mac, v4in6)
	if err := tk.Redeem(tok, mac, addr); err != nil {
		t.Errorf("Redeem with the IPv4 form of an IPv4-mapped address = %v", err)
	}
}

// TestBootTokensPerNode checks that a node holds at most tokensPerNode
// tokens (a new one retires its oldest), that one node's flood leaves other
// nodes' tokens alone, and that used and expired tokens are let go.
func TestBootTokensPerNode(t *testing.T) {
	t.Parallel()
	tk, now, mac, other, addr := newTestTokens()
	otherTok, _ := tk.Issue(other, addr)
	var toks []string
	for range 1000 {
		tok, err := tk.Issue(mac, addr)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	if n := tk.Outstanding(); n != tokensPerNode+1 {
		t.Errorf("after 1,000 scripts for one node, %d tokens outstanding, want %d", n, tokensPerNode+1)
	}
	if err := tk.Redeem(toks[len(toks)-tokensPerNode-1], mac, addr); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("a retired token = %v, want ErrTokenRefused", err)
	}
	if err := tk.Redeem(toks[len(toks)-tokensPerNode], mac, addr); err != nil {
		t.Errorf("the oldest token still held = %v, want it good", err)
	}
	if err := tk.Redeem(otherTok, other, addr); err != nil {
		t.Errorf("another node's token after the flood = %v, want it good", err)
	}
	*now = now.Add(6 * time.Minute)
	if _, err := tk.Issue(mac, addr); err != nil {
		t.Fatal(err)
	}
	if n := tk.Outstanding(); n != 1 {
		t.Errorf("after expiry and a new token, %d outstanding, want 1", n)
	}
}
