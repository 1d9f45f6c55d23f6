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
// Firmware often asks for a file only to learn that it exists or how large it
// is, and then abandons the transfer with an ERROR packet: the Raspberry Pi
// bootloader after the first block, OVMF right after the option
// acknowledgement. Such transfers end as [Aborted], a normal outcome logged
// at Debug, not as failures.
package tftp
