// Package tftp is bootd's TFTP server (RFC 1350, with the blksize and tsize
// options of RFC 2348 and RFC 2349), built on github.com/pin/tftp/v3 in its
// default mode: a goroutine and an ephemeral UDP socket per transfer.
//
// It knows nothing of nodes or images. For each read request it asks an
// [Opener] for the file; it reports every transfer as [Event]s (started,
// then done, not found, aborted or failed, with bytes and duration) to a
// function the caller gives. Write requests are refused.
//
//	srv, err := tftp.New(tftp.Config{
//		Opener: tftp.OpenerFunc(func(ctx context.Context, req tftp.Request) (tftp.File, error) {
//			...
//		}),
//		Report: func(ev tftp.Event) { ... },
//		Logger: log,
//	})
//	conn, err := tftp.Listen(":69")
//	go srv.Serve(conn)
//	...
//	srv.Shutdown()
//
// Block sizes up to the MTU of the interface a request came in on are
// accepted (pin/tftp clamps larger ones). Timeouts are sized for a LAN: one
// second per packet and five retries by default, so a client that vanished
// frees its transfer within seconds.
//
// Transfers are capped in all (Config.MaxTransfers, default 512) and per
// client address (Config.MaxPerClient, default 8); a request beyond a cap
// gets a short ERROR and is counted in bootd_tftp_refused_total. Each
// transfer holds one socket and, once data flows, a 64 KiB read-ahead.
//
// A forged source address turns TFTP into a reflector (RFC 1350 answers a
// dozen bytes with a 512-byte block, resent on each timeout). Config.Known
// says which addresses did a DHCP exchange lately (a [Recent] set, fed by
// the DHCP server), and Config.Unknown what the others get: [Allow],
// [Limit] (served only when the first answer is an OACK, RFC 2347, which
// the client must acknowledge before any file byte leaves) or [Refuse].
//
// Firmware often asks for a file only to learn that it exists or how large it
// is, and then abandons the transfer with an ERROR packet: the Raspberry Pi
// bootloader after the first block, OVMF right after the option
// acknowledgement. Such transfers end as [Aborted], a normal outcome logged
// at Debug, not as failures.
package tftp
