// Package tftptest is a small TFTP client for tests. Unlike a real client it
// sends names exactly as given (NUL bytes, backslashes and all), and it can
// abandon a transfer the way firmware does when it only probes a file.
package tftptest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options shape one read request.
type Options struct {
	// BlockSize, when not zero, asks for the blksize option (RFC 2348).
	BlockSize int
	// TSize asks for the tsize option (RFC 2349).
	TSize bool
	// AbortAfter, when positive, makes the client send an ERROR after that
	// many DATA blocks, as the Raspberry Pi bootloader does to probe a file.
	// A negative value aborts right after the option acknowledgement, as
	// OVMF does to learn a file's size.
	AbortAfter int
	// Timeout bounds the wait for each packet; zero means 3 seconds.
	Timeout time.Duration
	// From, when not nil, is the client's own address (any of 127.0.0.0/8
	// on loopback); nil means the server's address family's default.
	From net.IP
	// Resend, when positive, is how many times the client sends its read
	// request again while no answer has come, one Timeout apart, as
	// firmware does (RFC 1350 section 2: the request is retransmitted on
	// timeout; a request lost in a full socket buffer is lost for good
	// otherwise).
	Resend int
	// Retransmit, when positive, is how many times in a row the client
	// sends its last acknowledgement again when the next packet does not
	// come within Timeout once the transfer has started (RFC 1350 section
	// 2), as firmware does; zero gives up at the first timeout.
	Retransmit int
}

// A Result is what a read got.
type Result struct {
	Data []byte
	// OACK holds the options the server acknowledged; nil when it sent none.
	OACK map[string]string
	// Blocks counts the DATA packets received.
	Blocks int
}

// ErrorPacket is an ERROR packet from the server.
type ErrorPacket struct {
	Code    uint16
	Message string
}

func (e *ErrorPacket) Error() string {
	return fmt.Sprintf("tftp error %d: %s", e.Code, e.Message)
}

// ErrAborted is returned when the client aborted the transfer as Options asked.
var ErrAborted = errors.New("aborted by the client")

const (
	opRRQ   = 1
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// Get reads name from the server at addr (host:port).
func Get(addr, name string, o Options) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	local := raddr.IP
	if o.From != nil {
		local = o.From
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: local, Port: 0})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rrq := request(name, o)
	if _, err := conn.WriteToUDP(rrq, raddr); err != nil {
		return nil, err
	}
	resends := o.Resend
	blksize := 512
	res := &Result{}
	buf := make([]byte, 65536)
	var peer *net.UDPAddr
	var last []byte // the last packet sent to peer, sent again on a timeout
	retrans := o.Retransmit
	for {
		conn.SetReadDeadline(time.Now().Add(o.Timeout))
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil && peer == nil && resends > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			resends--
			if _, err := conn.WriteToUDP(rrq, raddr); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && peer != nil && last != nil && retrans > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			retrans--
			if _, err := conn.WriteToUDP(last, peer); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return res, fmt.Errorf("after %d blocks: %w", res.Blocks, err)
		}
		retrans = o.Retransmit
		if peer == nil {
			peer = from
		} else if from.Port != peer.Port || !from.IP.Equal(peer.IP) {
			// Another transfer answering a resent request: RFC 1350
			// section 4 has the client tell it the TID is unknown.
			conn.WriteToUDP(errorPacket(5, "unknown transfer ID"), from)
			continue
		}
		if n < 4 {
			return res, fmt.Errorf("short packet of %d bytes", n)
		}
		p := buf[:n]
		switch binary.BigEndian.Uint16(p) {
		case opERROR:
			return res, &ErrorPacket{Code: binary.BigEndian.Uint16(p[2:]), Message: strings.TrimRight(string(p[4:]), "\x00")}
		case opOACK:
			res.OACK = parseOptions(p[2:])
			if v, ok := res.OACK["blksize"]; ok {
				blksize, _ = strconv.Atoi(v)
			}
			if o.AbortAfter < 0 {
				conn.WriteToUDP(errorPacket(8, "probe done"), peer)
				return res, ErrAborted
			}
			last = ack(0)
			conn.WriteToUDP(last, peer)
		case opDATA:
			block := binary.BigEndian.Uint16(p[2:])
			if block != uint16(res.Blocks+1) {
				conn.WriteToUDP(ack(block), peer) // a resent block: acknowledge again
				continue
			}
			res.Blocks++
			res.Data = append(res.Data, p[4:]...)
			if o.AbortAfter > 0 && res.Blocks >= o.AbortAfter {
				conn.WriteToUDP(errorPacket(0, "probe done"), peer)
				return res, ErrAborted
			}
			last = ack(block)
			conn.WriteToUDP(last, peer)
			if n-4 < blksize {
				return res, nil
			}
		default:
			return res, fmt.Errorf("unexpected opcode %d", binary.BigEndian.Uint16(p))
		}
	}
}

func request(name string, o Options) []byte {
	p := binary.BigEndian.AppendUint16(nil, opRRQ)
	p = append(append(p, name...), 0)
	p = append(append(p, "octet"...), 0)
	if o.BlockSize > 0 {
		p = append(append(p, "blksize\x00"...), strconv.Itoa(o.BlockSize)+"\x00"...)
	}
	if o.TSize {
		p = append(p, "tsize\x000\x00"...)
	}
	return p
}

func ack(block uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, opACK), block)
}

func errorPacket(code uint16, msg string) []byte {
	p := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, opERROR), code)
	return append(append(p, msg...), 0)
}

func parseOptions(b []byte) map[string]string {
	parts := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	m := map[string]string{}
	for i := 0; i+1 < len(parts); i += 2 {
		m[strings.ToLower(parts[i])] = parts[i+1]
	}
	return m
}
