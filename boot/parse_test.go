package boot

import (
	"errors"
	"testing"
)

func TestParseMAC(t *testing.T) {
	t.Parallel()
	want := "52:54:00:12:34:56"
	for _, in := range []string{"52:54:00:12:34:56", "52-54-00-12-34-56", "5254.0012.3456",
		"525400123456", "52:54:00:12:34:56 ", "52:54:00:12:34:56"} {
		m, err := ParseMAC(in)
		if err != nil || m.String() != want {
			t.Errorf("ParseMAC(%q) = %v, %v; want %s", in, m, err, want)
		}
	}
	for _, in := range []string{"", "52:54:00:12:34", "52:54:00:12:34:56:78", "zz:54:00:12:34:56",
		"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "52545400123456", "hello"} {
		if m, err := ParseMAC(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMAC(%q) = %v, %v; want ErrInvalid", in, m, err)
		}
	}
}

func TestMACText(t *testing.T) {
	t.Parallel()
	var m MAC
	if err := m.UnmarshalText([]byte("AA-BB-CC-DD-EE-FF")); err != nil || m.String() != "aa:bb:cc:dd:ee:ff" {
		t.Errorf("UnmarshalText = %v, %v; want aa:bb:cc:dd:ee:ff", m, err)
	}
	if b, _ := m.MarshalText(); string(b) != "aa:bb:cc:dd:ee:ff" {
		t.Errorf("MarshalText = %s", b)
	}
	if DefaultHostname(m) != "node-aabbccddeeff" {
		t.Errorf("DefaultHostname(%v) = %s, want node-aabbccddeeff", m, DefaultHostname(m))
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"20G": 20 << 30, "20GiB": 20 << 30, "20g": 20 << 30, "512M": 512 << 20,
		"1T": 1 << 40, "4096": 4096, "8K": 8 << 10, "3GB": 3 << 30, " 1G ": 1 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1G", "G", "1.5G", "20X", "99999999999T", "1GG"} {
		if got, err := ParseSize(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSize(%q) = %d, %v; want ErrInvalid", in, got, err)
		}
	}
	for n, want := range map[int64]string{20 << 30: "20G", 512 << 20: "512M", 1000: "1000", 1536 << 20: "1536M"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestValidHostname(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"web1", "a", "node-525400123456", "x-y-z"} {
		if err := ValidHostname(h); err != nil {
			t.Errorf("ValidHostname(%q) = %v, want nil", h, err)
		}
	}
	for _, h := range []string{"", "-a", "a-", "Web1", "a.b", "a_b", "a b", string(make([]byte, 64))} {
		if err := ValidHostname(h); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidHostname(%q) = %v, want ErrInvalid", h, err)
		}
	}
}
