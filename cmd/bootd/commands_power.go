package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/bootd/bootd/boot"
)

type powerOpts struct {
	driver, address, user, passwordFile, passwordPath, fingerprint *string
}

func powerFlags(fs *flag.FlagSet) any {
	return powerOpts{
		driver:  fs.String("driver", "", "power set: ipmi, redfish, hook, or none to remove the settings"),
		address: fs.String("address", "", "power set: the BMC's host[:port] (ipmi), https:// URL (redfish), or what the hook reads (a switch port)"),
		user:    fs.String("user", "", "power set: the BMC user"),
		passwordFile: fs.String("password-file", "", "power set: file (mode 0600) with the BMC password, or - for standard input; "+
			"sent to bootd, which keeps it encrypted"),
		passwordPath: fs.String("password-path", "", "power set: instead, a file (mode 0600) on bootd's host that bootd reads at each action; "+
			"bootd keeps only its path"),
		fingerprint: fs.String("fingerprint-bmc", "", "power set: pin the Redfish BMC's TLS certificate by its SHA-256 (hex)"),
	}
}

// checkPower: bootd power <mac> on|off|cycle|status, or power set <mac> --driver ...
func checkPower(inv invocation) error {
	o := inv.flags.(powerOpts)
	if inv.args[0] == "set" {
		if _, err := boot.ParseMAC(inv.args[1]); err != nil {
			return fmt.Errorf("%w: bootd power set <mac> --driver ...: %v", errUsage, err)
		}
		if *o.driver == "" {
			return fmt.Errorf("%w: bootd power set <mac> --driver ipmi|redfish|hook|none", errUsage)
		}
		if *o.passwordFile != "" && *o.passwordPath != "" {
			return fmt.Errorf("%w: bootd power set: --password-file or --password-path, not both", errUsage)
		}
		return nil
	}
	if _, err := boot.ParseMAC(inv.args[0]); err != nil {
		return fmt.Errorf("%w: bootd power <mac> on|off|cycle|status: %v", errUsage, err)
	}
	if _, err := boot.ParsePowerAction(inv.args[1]); err != nil {
		return fmt.Errorf("%w: bootd power <mac> on|off|cycle|status, not %q", errUsage, inv.args[1])
	}
	for _, f := range []*string{o.driver, o.address, o.user, o.passwordFile, o.passwordPath, o.fingerprint} {
		if *f != "" {
			return fmt.Errorf("%w: --driver, --address, --user and the password flags go with bootd power set", errUsage)
		}
	}
	return nil
}

func runPower(ctx context.Context, c *client, inv invocation) error {
	if inv.args[0] == "set" {
		return runPowerSet(ctx, c, inv)
	}
	a, _ := boot.ParsePowerAction(inv.args[1]) // checked by checkPower
	var resp struct {
		MAC   boot.MAC        `json:"mac"`
		Power boot.PowerState `json:"power"`
	}
	method, body := http.MethodPost, any(map[string]string{"action": string(a)})
	if a == boot.PowerStatus {
		method, body = http.MethodGet, nil
	}
	raw, err := c.do(ctx, method, macPath(inv.args[0], "/power"), body, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	if a == boot.PowerStatus {
		_, err = fmt.Fprintf(inv.out, "%s: power %s\n", resp.MAC, resp.Power)
		return err
	}
	_, err = fmt.Fprintf(inv.out, "power %s of %s: done; power is %s\n", a, resp.MAC, resp.Power)
	return err
}

// runPowerSet: bootd power set <mac> --driver D [--address A] [--user U]
// [--password-file FILE|- | --password-path PATH] [--fingerprint-bmc SHA256].
func runPowerSet(ctx context.Context, c *client, inv invocation) error {
	o := inv.flags.(powerOpts)
	var pw string
	var err error
	switch *o.passwordFile {
	case "":
	case "-":
		pw, err = readSecretStdin("BMC password", inv.in)
	default:
		pw, err = readSecretFile("BMC password", *o.passwordFile)
	}
	if err != nil {
		return err
	}
	body := map[string]string{"driver": *o.driver, "address": *o.address, "user": *o.user, "password": pw,
		"password_file": *o.passwordPath, "fingerprint": *o.fingerprint}
	inv.args = inv.args[1:] // the MAC
	return nodeAction(ctx, c, inv, http.MethodPut, "/power/settings", body)
}

// powerTimeout bounds a request that drives a machine's power off and on
// around a reimage: BMCs take their time.
const powerTimeout = 3 * time.Minute
