package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

// bootd user <action> ...: the users API (web/api_users.go). A password
// comes from a file only its owner may read, or from standard input
// (--password-file -), never from an argument: arguments are visible to
// every user of the host (ps, /proc) and kept in shell histories.

// userAction is one action of bootd user.
type userAction struct {
	name string
	args string // what follows "bootd user <name>"
	// nargs: the positional arguments after the action's name.
	nargs int
	// role and password: the action takes --role (required) or
	// --password-file (required when needPassword).
	role, password, needPassword bool
	run                          func(ctx context.Context, c *client, inv invocation, o userOpts) error
}

func userActions() []userAction {
	return []userAction{
		{name: "add", args: "NAME --role viewer|operator|admin [--password-file FILE|-]", nargs: 1, role: true, password: true, run: runUserAdd},
		{name: "list", run: runUserList},
		{name: "remove", args: "NAME", nargs: 1, run: runUserRemove},
		{name: "role", args: "NAME viewer|operator|admin", nargs: 2, run: runUserRole},
		{name: "password", args: "NAME --password-file FILE|-", nargs: 1, password: true, needPassword: true, run: runUserPassword},
		{name: "token", args: "NAME", nargs: 1, run: runUserToken},
		{name: "revoke", args: "NAME TOKEN-ID", nargs: 2, run: runUserRevoke},
	}
}

type userOpts struct{ role, passwordFile *string }

func userFlags(fs *flag.FlagSet) any {
	return userOpts{
		role: fs.String("role", "", "the new user's role: viewer, operator or admin (user add)"),
		passwordFile: fs.String("password-file", "", "read the password from this file (mode 0600), or from standard "+
			"input with - (user add, user password); there is no flag taking the password itself"),
	}
}

// userAction returns the action inv names.
func (inv invocation) userAction() (userAction, bool) {
	for _, a := range userActions() {
		if a.name == inv.args[0] {
			return a, true
		}
	}
	return userAction{}, false
}

// checkUser refuses, as usage errors, an unknown action, a wrong number of
// arguments, a flag the action does not take, a bad role or user name.
func checkUser(inv invocation) error {
	a, ok := inv.userAction()
	if !ok {
		names := make([]string, 0, 7)
		for _, a := range userActions() {
			names = append(names, a.name)
		}
		return fmt.Errorf("%w: bootd user %q: want one of %s", errUsage, inv.args[0], strings.Join(names, ", "))
	}
	usage := fmt.Errorf("%w: bootd user %s", errUsage, strings.TrimSpace(a.name+" "+a.args))
	o := inv.flags.(userOpts)
	switch {
	case len(inv.args)-1 != a.nargs,
		*o.role != "" && !a.role, a.role && *o.role == "",
		*o.passwordFile != "" && !a.password, a.needPassword && *o.passwordFile == "":
		return usage
	}
	if a.nargs > 0 {
		if err := access.ValidName(inv.args[1]); err != nil {
			return fmt.Errorf("%w: bootd user %s: %s", errUsage, a.name, strings.TrimPrefix(err.Error(), access.ErrInvalid.Error()+": "))
		}
	}
	role := *o.role
	if a.name == "role" {
		role = inv.args[2]
	}
	if role != "" && !access.Role(role).Valid() {
		return fmt.Errorf("%w: bootd user %s: unknown role %q: want viewer, operator or admin", errUsage, a.name, role)
	}
	return nil
}

func runUser(ctx context.Context, c *client, inv invocation) error {
	a, _ := inv.userAction() // checked by checkUser
	return a.run(ctx, c, inv, inv.flags.(userOpts))
}

// password reads the password --password-file names ("" for none).
func (o userOpts) password(inv invocation) (string, error) {
	switch *o.passwordFile {
	case "":
		return "", nil
	case "-":
		return readSecretStdin("password", inv.in)
	}
	return readSecretFile("password", *o.passwordFile)
}

func userPath(name, suffix string) string { return "/api/v1/users/" + url.PathEscape(name) + suffix }

func runUserAdd(ctx context.Context, c *client, inv invocation, o userOpts) error {
	pw, err := o.password(inv)
	if err != nil {
		return err
	}
	body := map[string]string{"name": inv.args[1], "role": *o.role, "password": pw}
	var resp struct{ User access.User }
	raw, err := c.do(ctx, http.MethodPost, "/api/v1/users", body, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	how := "tokens only: bootd user token " + resp.User.Name + " makes one"
	if pw != "" {
		how = "a password, and tokens from bootd user token " + resp.User.Name
	}
	_, err = fmt.Fprintf(inv.out, "added user %s (%s), who signs in with %s\n", resp.User.Name, resp.User.Role, how)
	return err
}

func runUserList(ctx context.Context, c *client, inv invocation, _ userOpts) error {
	var resp struct{ Users []*access.User }
	raw, err := c.do(ctx, http.MethodGet, "/api/v1/users", nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	return writeUsers(inv.out, resp.Users)
}

func runUserRemove(ctx context.Context, c *client, inv invocation, _ userOpts) error {
	if _, err := c.do(ctx, http.MethodDelete, userPath(inv.args[1], ""), nil, nil); err != nil {
		return err
	}
	if inv.json {
		return writeRaw(inv.out, []byte(fmt.Sprintf(`{"removed":%q}`, inv.args[1])))
	}
	_, err := fmt.Fprintf(inv.out, "removed user %s and its tokens\n", inv.args[1])
	return err
}

func runUserRole(ctx context.Context, c *client, inv invocation, _ userOpts) error {
	return userChange(ctx, c, inv, "/role", map[string]string{"role": inv.args[2]}, "role")
}

func runUserPassword(ctx context.Context, c *client, inv invocation, o userOpts) error {
	pw, err := o.password(inv)
	if err != nil {
		return err
	}
	return userChange(ctx, c, inv, "/password", map[string]string{"password": pw}, "password")
}

// userChange PUTs body to the user's route and says what changed.
func userChange(ctx context.Context, c *client, inv invocation, suffix string, body any, what string) error {
	var resp struct{ User access.User }
	raw, err := c.do(ctx, http.MethodPut, userPath(inv.args[1], suffix), body, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	if what == "role" {
		_, err = fmt.Fprintf(inv.out, "user %s is now %s\n", resp.User.Name, resp.User.Role)
	} else {
		_, err = fmt.Fprintf(inv.out, "user %s has a new password\n", resp.User.Name)
	}
	return err
}

// runUserToken prints the new token alone on standard output, so that
// bootd user token NAME > FILE stores it, and says on standard error that
// it is shown once: bootd keeps only its hash.
func runUserToken(ctx context.Context, c *client, inv invocation, _ userOpts) error {
	var resp struct {
		User  string
		Token string
		Info  access.Token
	}
	raw, err := c.do(ctx, http.MethodPost, userPath(inv.args[1], "/tokens"), nil, &resp)
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.errOut, "new token %s for %s: shown this once only (bootd keeps its hash): store it in a file "+
		"of mode 0600 and pass it with --token-file; bootd user revoke %s %s revokes it\n",
		resp.Info.ID, resp.User, resp.User, resp.Info.ID)
	if inv.json {
		return writeRaw(inv.out, raw)
	}
	_, err = fmt.Fprintln(inv.out, resp.Token)
	return err
}

func runUserRevoke(ctx context.Context, c *client, inv invocation, _ userOpts) error {
	name, id := inv.args[1], inv.args[2]
	if _, err := c.do(ctx, http.MethodDelete, userPath(name, "/tokens/"+url.PathEscape(id)), nil, nil); err != nil {
		return err
	}
	if inv.json {
		return writeRaw(inv.out, []byte(fmt.Sprintf(`{"user":%q,"revoked":%q}`, name, id)))
	}
	_, err := fmt.Fprintf(inv.out, "revoked token %s of %s\n", id, name)
	return err
}

func runWhoami(ctx context.Context, c *client, inv invocation) error {
	var resp struct{ User access.User }
	raw, err := c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	_, err = fmt.Fprintf(inv.out, "%s, role %s\n", resp.User.Name, resp.User.Role)
	return err
}

type auditOpts struct{ mac, since, limit *string }

func auditFlags(fs *flag.FlagSet) any {
	return auditOpts{
		mac:   fs.String("mac", "", "only records about this machine"),
		since: fs.String("since", "", "only records since this long ago (24h) or this RFC 3339 time (default: all kept)"),
		limit: fs.String("limit", "", "at most this many records, the newest, 1 to 10000 (default 100)"),
	}
}

// checkAudit refuses a bad --mac, --since or --limit before asking.
func checkAudit(inv invocation) error {
	o := inv.flags.(auditOpts)
	if *o.mac != "" {
		if _, err := boot.ParseMAC(*o.mac); err != nil {
			return fmt.Errorf("%w: bootd audit --mac: %v", errUsage, err)
		}
	}
	if s := *o.since; s != "" {
		d, errD := time.ParseDuration(s)
		_, errT := time.Parse(time.RFC3339, s)
		if (errD != nil || d <= 0) && errT != nil {
			return fmt.Errorf("%w: bootd audit --since %q: want a duration such as 24h or an RFC 3339 time", errUsage, s)
		}
	}
	if s := *o.limit; s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 10000 {
			return fmt.Errorf("%w: bootd audit --limit %q: want 1 to 10000", errUsage, s)
		}
	}
	return nil
}

func runAudit(ctx context.Context, c *client, inv invocation) error {
	o := inv.flags.(auditOpts)
	q := url.Values{}
	if *o.mac != "" {
		mac, _ := boot.ParseMAC(*o.mac) // checked by checkAudit
		q.Set("mac", mac.String())
	}
	for k, v := range map[string]string{"since": *o.since, "limit": *o.limit} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/api/v1/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var resp struct{ Records []access.Record }
	raw, err := c.do(ctx, http.MethodGet, path, nil, &resp)
	if err != nil || inv.json {
		return orRaw(err, inv, raw)
	}
	return writeAudit(inv.out, resp.Records)
}
