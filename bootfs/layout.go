package bootfs

import (
	"strconv"
	"strings"

	"github.com/bootd/bootd/boot"
)

// The boot URL layout: where every file machines fetch lives, over HTTP
// and TFTP, and where bootd-init reaches the node listener. The iPXE
// scripts, kernel command lines and config.txt (through scriptData), web's
// routes, the DHCP answers (cmd/bootd), the TFTP names and Explain all
// take their paths from here, so moving a file is one edit here.
// TestLayoutServed (package web) fetches every URL a Layout produces
// through web's handlers, so the routes cannot drift from it.
//
//	<base>/boot/ipxe/<binary>        iPXE binaries (UEFI HTTP boot)
//	<base>/boot/<mac>/<name>         a file of the node's tree (names below)
//	<node base>/boot/<mac>/<endpoint>  the node listener: time, key, report
//	<prefix>/<name>                  over TFTP, prefix a MAC or a Pi serial
//
// <mac> is the MAC address with hyphens (52-54-00-12-34-56), the form
// MACName returns.
const (
	// Root is the HTTP path all boot files are under.
	Root = "/boot"
	// IPXEFolder is the folder of iPXE binaries under Root.
	IPXEFolder = "ipxe"
)

// Names of the files of a node's tree, relative to its folder: the same in
// HTTP URLs and TFTP names.
const (
	ScriptFile    = "boot.ipxe"   // the iPXE script
	KernelFile    = "kernel"      // the image's kernel, for iPXE
	PiConfigFile  = "config.txt"  // a Raspberry Pi's config.txt
	PiCmdlineFile = "cmdline.txt" // a Raspberry Pi's kernel command line
	PiKernel      = "kernel8.img" // the kernel config.txt names
	PiInitramfs   = "initrd.img"  // the image's initrds as one file, for config.txt
	OverlayFile   = "overlay.cpio"
	NodeCPIOFile  = "node.cpio"
	ApkovlFile    = "node.apkovl.tar.gz"
	ModloopFile   = "modloop"
	initrdFolder  = "initrd/" // InitrdFile
)

// Endpoints of the node listener under a node's folder (web.NewNode).
// cmd/bootd-init spells them too, as it imports nothing of bootd's; its
// tests serve them from these names.
const (
	TimeEndpoint   = "time"
	KeyEndpoint    = "key"
	ReportEndpoint = "report"
	// InventoryEndpoint takes the machine's hardware, once a boot.
	InventoryEndpoint = "inventory"
)

// InitrdFile is the name of the image's n-th initrd, from 0.
func InitrdFile(n int) string { return initrdFolder + strconv.Itoa(n) }

// initrdIndex is the inverse of InitrdFile: n, or false when name is not
// exactly InitrdFile(n) for some n >= 0.
func initrdIndex(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, initrdFolder)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

// MACName is mac as it appears in URLs and TFTP prefixes: hyphens
// between lower-case hex pairs (52-54-00-12-34-56).
func MACName(mac boot.MAC) string { return strings.ReplaceAll(mac.String(), ":", "-") }

// TFTPName is the TFTP name of the file name in the tree of the node
// whose prefix is prefix (MACName, or a Raspberry Pi serial).
func TFTPName(prefix, name string) string { return prefix + "/" + name }

// splitTFTP splits a TFTP name into its node prefix and the name in that
// node's tree; ok is false for a name without a prefix (an iPXE binary).
func splitTFTP(name string) (prefix, rest string, ok bool) { return strings.Cut(name, "/") }

// A Layout builds the URLs of boot files under one base URL. The zero
// Layout builds paths alone (/boot/...).
type Layout struct {
	base string // scheme and authority, no trailing slash; "" for paths
}

// NewLayout returns the Layout under base, a URL of scheme and authority
// as machines reach bootd (http://198.18.0.1:8080), or "" for paths.
func NewLayout(base string) Layout { return Layout{base: strings.TrimSuffix(base, "/")} }

// Base is the base URL the Layout was made with, "" for paths alone.
func (l Layout) Base() string { return l.base }

// IPXEFolder is the URL of the folder of iPXE binaries, with a trailing
// slash: DHCP's HTTP boot answer appends the binary's name.
func (l Layout) IPXEFolder() string { return l.base + Root + "/" + IPXEFolder + "/" }

// IPXE is the URL of the iPXE binary file.
func (l Layout) IPXE(file string) string { return l.IPXEFolder() + file }

// Node is the URL of mac's folder, without a trailing slash: the kernel
// command line's bootd= and the base of File.
func (l Layout) Node(mac boot.MAC) string { return l.base + Root + "/" + MACName(mac) }

// File is the URL of name in mac's folder: a file of its tree, or an
// endpoint of the node listener.
func (l Layout) File(mac boot.MAC, name string) string { return l.Node(mac) + "/" + name }

// Script is the URL of mac's iPXE script, which DHCP hands iPXE.
func (l Layout) Script(mac boot.MAC) string { return l.File(mac, ScriptFile) }
