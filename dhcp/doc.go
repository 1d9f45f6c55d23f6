// Package dhcp is bootd's DHCP server for network-booting machines: x86
// BIOS and UEFI PXE, UEFI HTTP boot, iPXE and the Raspberry Pi 4
// bootloader. It knows nothing of nodes or images: it classifies each
// client by its firmware (Client, Class), asks a Decider whether and what
// the client boots, lets its Policy turn that into the boot information of
// the reply (the one place that decides it: bootd explain describes it
// with Policy.Explain), builds the reply with github.com/insomniacslk/dhcp,
// and reports every packet it receives and sends as an Event.
//
// It runs in one of two modes. In proxy mode (PXE 2.1 proxyDHCP) it answers
// network-booting clients only, with boot information and no address, on
// ports 67 and 4011, beside the site's DHCP server. In full mode it is the
// network's DHCP server: addresses from a Pool with static reservations,
// leases written durably through a LeaseStore before each ACK leaves,
// DECLINE and RELEASE honoured.
//
//	srv, err := dhcp.New(dhcp.Config{
//		Mode:      dhcp.ModeFull,
//		ServerIP:  netip.MustParseAddr("198.18.0.1"),
//		Interface: "br0",
//		HTTPBoot:  "http://198.18.0.1:8080/boot/ipxe/",
//		Pool: dhcp.Pool{
//			Subnet: netip.MustParsePrefix("198.18.0.0/24"),
//			Start:  netip.MustParseAddr("198.18.0.100"),
//			End:    netip.MustParseAddr("198.18.0.199"),
//		},
//		Leases:  store,   // a LeaseStore, e.g. bootd's bbolt store
//		Decider: decider, // what each MAC boots
//	})
//	...
//	err = srv.ListenAndServe(ctx)
//
// What each firmware gets is in docs/dhcp.md.
package dhcp
