// Package power drives machines' power for bootd: IPMI v2.0 over LAN
// (lanplus, github.com/bougou/go-ipmi) for iDRAC 8 and iLO 4 class BMCs,
// Redfish over HTTPS for iDRAC 9, iLO 5 and newer, and a command hook (the
// operator's executable) for machines without a BMC, such as Raspberry Pis
// on a PoE switch. A Controller implements boot.Power: it turns a node's
// stored settings into a Target (the password unsealed with the data
// folder's key, or read from the file the node names), picks the driver,
// and retries only failures that may pass (a timeout, a 503) a bounded
// number of times; a refused password is never retried, and the node's
// BMC is not asked again with the same password for AuthHold.
//
// In bootd's configuration:
//
//	power_hook: /etc/bootd/power-hook   # the command hook, for nodes with driver hook
//	power_hook_timeout: 30s
//
// and per node, through the CLI (the password comes from a file, never a flag):
//
//	bootd power set 52:54:00:12:34:56 --driver ipmi --address 10.0.0.21 --user root --password-file ./r630.pw
//
// Package power is pure Go (no cgo) and is not part of bootd-init.
package power
