package dhcp

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/bootd/bootd/internal/dhcptest"
)

// TestFreeSetNext checks next against a plain scan over sizes that cross
// word and summary boundaries.
func TestFreeSetNext(t *testing.T) {
	t.Parallel()
	for _, size := range []uint32{1, 63, 64, 65, 4095, 4097, 9000} {
		f := newFreeSet(size)
		member := map[uint32]bool{}
		for i := uint32(0); i < size; i += 1 + i%97 {
			f.add(i)
			member[i] = true
		}
		f.remove(0)
		delete(member, 0)
		for _, from := range []uint32{0, 1, size / 2, size - 1, size} {
			want, ok := uint32(0), false
			for k := range size {
				i := (from%size + k) % size
				if member[i] {
					want, ok = i, true
					break
				}
			}
			if got, gok := f.next(from); got != want || gok != ok {
				t.Errorf("size %d: next(%d) = %d, %v; want %d, %v", size, from, got, gok, want, ok)
			}
		}
		if f.n != len(member) {
			t.Errorf("size %d: n = %d, want %d", size, f.n, len(member))
		}
	}
}

// BenchmarkPick measures offering an address on a pool three quarters
// leased, at 256 and 65,536 addresses: the cost should barely change.
func BenchmarkPick(b *testing.B) {
	for _, size := range []int{256, 65536} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			p := Pool{Subnet: netip.MustParsePrefix("10.0.0.0/8"), Start: netip.MustParseAddr("10.1.0.0"),
				LeaseTime: time.Hour, MaxOffers: 1 << 20}
			p.End = addr4(ip4(p.Start) + uint32(size) - 1)
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			pl, err := newPool(context.Background(), p, netip.MustParseAddr("10.0.0.1"), newMemLeases(), now)
			if err != nil {
				b.Fatal(err)
			}
			for i := range size * 3 / 4 {
				mac := dhcptest.MAC(5, i)
				ip, _ := pl.offer(mac, netip.Addr{}, true, now)
				pl.bind(context.Background(), mac, ip, true, now.Add(time.Hour), now)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				mac := dhcptest.MAC(6, i)
				ip, err := pl.offer(mac, netip.Addr{}, true, now)
				if err != nil {
					b.Fatal(err)
				}
				pl.cancelOffer(mac, now)
				_ = ip
			}
		})
	}
}
