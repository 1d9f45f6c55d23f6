package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"
)

type discoverOpts struct{ length *string }

func discoverFlags(fs *flag.FlagSet) any {
	return discoverOpts{length: fs.String("for", "10m", "how long the window stays open (at most 24h)")}
}

// runDiscover: bootd discover open [--for D] | close | status.
func runDiscover(ctx context.Context, c *client, inv invocation) error {
	o := inv.flags.(discoverOpts)
	var method string
	var body any
	switch inv.args[0] {
	case "open":
		method, body = http.MethodPost, map[string]string{"for": *o.length}
	case "close":
		method = http.MethodDelete
	case "status":
		method = http.MethodGet
	default:
		return fmt.Errorf("%w: bootd discover open|close|status, not %q", errUsage, inv.args[0])
	}
	var resp struct {
		Open  bool      `json:"open"`
		Until time.Time `json:"until"`
	}
	raw, err := c.do(ctx, method, "/api/v1/discover", body, &resp)
	if ae, ok := errors.AsType[*apiError](err); ok && ae.Status == http.StatusNotFound {
		return errors.New("this bootd runs no DHCP server (dhcp_mode off): the discover window is its DHCP server's")
	}
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	if !resp.Open {
		_, err = fmt.Fprintln(inv.out, "discover window closed")
		return err
	}
	_, err = fmt.Fprintf(inv.out, "discover window open until %s\n", resp.Until.Local().Format(time.DateTime))
	return err
}
