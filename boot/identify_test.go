package boot

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// tickingService is a Service whose clock moves a second per reading.
func tickingService(t *testing.T) *Service {
	t.Helper()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := NewService(Config{Store: newMemStore(), Catalog: catalog{"debian": debian},
		Now: func() time.Time { now = now.Add(time.Second); return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidPiSerial(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"d1c4f2a9": true, "00000000": true, "D1C4F2A9": false, "d1c4f2a": false,
		"d1c4f2a90": false, "g1c4f2a9": false, "": false, "../../et": false,
	} {
		if got := ValidPiSerial(s); got != want {
			t.Errorf("ValidPiSerial(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNodeByAddr(t *testing.T) {
	t.Parallel()
	s := tickingService(t)
	ctx := context.Background()
	a, b := MAC{2, 0, 0, 0, 0, 1}, MAC{2, 0, 0, 0, 0, 2}
	ip := net.IPv4(198, 18, 0, 10)
	if _, err := s.Enroll(ctx, EnrollRequest{MAC: a, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NodeByAddr(ctx, ip); !errors.Is(err, ErrUnknown) {
		t.Errorf("NodeByAddr(%v) before any sighting = %v, want ErrUnknown", ip, err)
	}
	for _, mac := range []MAC{a, b} { // b takes the address over from a
		if _, err := s.Discover(ctx, Sighting{MAC: mac, Addr: ip}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ip      net.IP
		want    MAC
		wantErr error
	}{
		{ip, b, nil},
		{ip.To16(), b, nil},
		{net.IPv4(198, 18, 0, 11), nil, ErrUnknown},
		{nil, nil, ErrUnknown},
		{net.IPv4zero, nil, ErrUnknown},
	}
	for _, tt := range tests {
		n, err := s.NodeByAddr(ctx, tt.ip)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("NodeByAddr(%v) = %v, %v; want %v", tt.ip, n, err, tt.wantErr)
			}
			continue
		}
		if err != nil || n.MAC.String() != tt.want.String() {
			t.Errorf("NodeByAddr(%v) = %v, %v; want %s", tt.ip, n, err, tt.want)
		}
	}
	// A boot event from a seen later moves the address back to it.
	if _, err := s.Record(ctx, a, Event{Stage: StageTFTP, Source: ip.String()}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.NodeByAddr(ctx, ip); err != nil || n.MAC.String() != a.String() {
		t.Errorf("NodeByAddr(%v) after a's event = %v, %v; want %s", ip, n, err, a)
	}
}

func TestBindPiSerial(t *testing.T) {
	t.Parallel()
	s := tickingService(t)
	ctx := context.Background()
	pi, other := MAC{0xdc, 0xa6, 0x32, 0, 0, 1}, MAC{0xdc, 0xa6, 0x32, 0, 0, 2}
	for _, mac := range []MAC{pi, other} {
		if _, err := s.Enroll(ctx, EnrollRequest{MAC: mac, Image: "debian"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.NodeBySerial(ctx, "d1c4f2a9"); !errors.Is(err, ErrUnknown) {
		t.Errorf("NodeBySerial before binding = %v, want ErrUnknown", err)
	}
	n, err := s.BindPiSerial(ctx, pi, "d1c4f2a9")
	if err != nil || n.PiSerial != "d1c4f2a9" {
		t.Fatalf("BindPiSerial = %+v, %v", n, err)
	}
	if n, err := s.NodeBySerial(ctx, "d1c4f2a9"); err != nil || n.MAC.String() != pi.String() {
		t.Errorf("NodeBySerial = %v, %v; want %s", n, err, pi)
	}
	tests := []struct {
		mac     MAC
		serial  string
		wantErr error
	}{
		{pi, "d1c4f2a9", nil},                           // again: no change
		{pi, "0badcafe", ErrExists},                     // a node keeps its serial
		{other, "d1c4f2a9", ErrExists},                  // a serial has one node
		{MAC{2, 0, 0, 0, 0, 9}, "12345678", ErrUnknown}, // no such node
		{pi, "D1C4F2A9", ErrInvalid},
		{pi, "../x", ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := s.BindPiSerial(ctx, tt.mac, tt.serial); !errors.Is(err, tt.wantErr) {
			t.Errorf("BindPiSerial(%s, %q) = %v, want %v", tt.mac, tt.serial, err, tt.wantErr)
		}
	}
	if n, _ := s.Node(ctx, other); n.PiSerial != "" {
		t.Errorf("other node got serial %q", n.PiSerial)
	}
}
