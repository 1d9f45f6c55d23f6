package boot

import (
	"context"
	"sync"
	"time"
)

// Refused loaders. UEFI Secure Boot refuses an unsigned first stage (iPXE,
// which no distribution signs) without a word on the network: the firmware
// fetches it whole, then moves on to its next boot option, which asks DHCP
// again. The Service notes each iPXE binary a machine fetched; when the
// same machine's firmware (not iPXE) asks DHCP again soon after, and no
// iPXE of its asked in between, its timeline gets a warning saying what
// most likely happened and what to do.

// loaderRefusedWithin is how soon after a fetch of iPXE a firmware's new
// DHCP exchange counts as the firmware having refused to run it. A fetched
// iPXE asks DHCP itself within seconds.
const loaderRefusedWithin = 2 * time.Minute

// loaderFetch is an iPXE binary a machine fetched, and when.
type loaderFetch struct {
	file string
	at   time.Time
}

// loaders holds the machines' latest iPXE fetches, pruned by age.
type loaders struct {
	mu sync.Mutex
	m  map[string]loaderFetch
}

// maxLoaders bounds the fetches remembered (a rack's worth booting at once).
const maxLoaders = 4096

// LoaderFetched notes that mac fetched the iPXE binary file.
func (s *Service) LoaderFetched(mac MAC, file string) {
	now := s.now()
	l := &s.loaders
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]loaderFetch{}
	}
	if len(l.m) >= maxLoaders {
		for k, f := range l.m {
			if now.Sub(f.at) > loaderRefusedWithin {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxLoaders {
			return
		}
	}
	l.m[mac.String()] = loaderFetch{file: file, at: now}
}

// FirmwareAsked tells the Service that mac's network boot client asked
// DHCP: iPXE (which means the iPXE it fetched runs), or the firmware
// itself. When the firmware asks within loaderRefusedWithin of a fetch of
// iPXE, the fetched iPXE never ran: the machine's timeline gets a warning.
func (s *Service) FirmwareAsked(ctx context.Context, mac MAC, ipxe bool) {
	now := s.now()
	l := &s.loaders
	l.mu.Lock()
	f, ok := l.m[mac.String()]
	if ok {
		delete(l.m, mac.String())
	}
	l.mu.Unlock()
	if !ok || ipxe || now.Sub(f.at) > loaderRefusedWithin {
		return
	}
	msg := "the firmware fetched " + f.file + " and asked DHCP again instead of running it: UEFI Secure Boot " +
		"refuses unsigned iPXE; boot this machine on an image with secure_boot (docs/images.md), or turn Secure Boot off"
	s.log.Warn("boot: the firmware did not run iPXE", "mac", mac.String(), "file", f.file)
	if _, err := s.Record(ctx, mac, Event{Stage: StageWarning, Detail: msg}); err != nil {
		s.log.Warn("recording a warning failed", "mac", mac.String(), "err", err)
	}
}
