package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cliAs runs the bootd binary against d with the token in tokenFile.
func (d *daemon) cliAs(t *testing.T, tokenFile string, args ...string) result {
	t.Helper()
	return runBootdEnv(t, []string{"BOOTD_SERVER=" + d.url, "BOOTD_TOKEN_FILE=" + tokenFile, "BOOTD_DATA_DIR=" + d.dataDir}, args...)
}

// writeSecret writes s to a new file of mode 0600 and returns its path.
func writeSecret(t *testing.T, name, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// auditRecord is what the tests read of bootd audit -o json.
type auditRecord struct {
	User, Via, Action, MAC, Outcome, Error string
}

func auditJSON(t *testing.T, r result) []auditRecord {
	t.Helper()
	var resp struct{ Records []auditRecord }
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || r.code != 0 {
		t.Fatalf("audit -o json = %+v, decode: %v", r, err)
	}
	return resp.Records
}

// TestUsersRolesAudit: the first admin (the api-token file) adds an
// operator with a password and a viewer with a token; the viewer may list
// but not enroll, the operator enrolls, and bootd audit shows both, with
// their users and via cli.
func TestUsersRolesAudit(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	const mac, other = "52:54:00:00:14:01", "52:54:00:00:14:02"
	pwFile := writeSecret(t, "op.pw", "correct horse battery\n")
	for _, args := range [][]string{
		{"user", "add", "op", "--role", "operator", "--password-file", pwFile},
		{"user", "add", "vic", "--role", "viewer"},
	} {
		if r := d.cli(t, args...); r.code != 0 || !strings.Contains(r.stdout, "added user "+args[2]) {
			t.Fatalf("bootd %s = %+v", strings.Join(args, " "), r)
		}
	}
	tokenOf := func(name string) string {
		r := d.cli(t, "user", "token", name)
		token := strings.TrimSpace(r.stdout)
		if r.code != 0 || !strings.HasPrefix(token, "bootd_") || strings.Contains(token, "\n") || !strings.Contains(r.stderr, "shown this once") {
			t.Fatalf("user token %s = %+v; want the token alone on stdout and a note that it is shown once", name, r)
		}
		return writeSecret(t, name+".token", token+"\n")
	}
	vic, op := tokenOf("vic"), tokenOf("op")

	for _, tc := range []struct {
		who   string
		token string
		want  string
	}{{"admin", d.tokenFile, "admin, role admin"}, {"viewer", vic, "vic, role viewer"}, {"operator", op, "op, role operator"}} {
		if r := d.cliAs(t, tc.token, "whoami"); r.code != 0 || strings.TrimSpace(r.stdout) != tc.want {
			t.Errorf("whoami as %s = %+v, want %q", tc.who, r, tc.want)
		}
	}

	r := d.cliAs(t, vic, "enroll", mac, "--image", "debian-12")
	if r.code != 1 || !strings.Contains(r.stderr, "needs the operator role") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("enroll as viewer = %+v; want exit 1 and one line naming the operator role", r)
	}
	if r = d.cliAs(t, vic, "list"); r.code != 0 {
		t.Errorf("list as viewer = %+v", r)
	}
	if r = d.cliAs(t, vic, "user", "list"); r.code != 1 || !strings.Contains(r.stderr, "admin role") {
		t.Errorf("user list as viewer = %+v; want a refusal naming the admin role", r)
	}
	for _, m := range []string{mac, other} {
		if r = d.cliAs(t, op, "enroll", m, "--image", "debian-12"); r.code != 0 {
			t.Fatalf("enroll %s as operator = %+v", m, r)
		}
	}

	r = d.cli(t, "user", "list")
	for _, want := range []string{"NAME", "admin", "legacy", "op", "operator", "vic", "viewer"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("user list = %+v, want %q in it", r, want)
		}
	}

	recs := auditJSON(t, d.cli(t, "audit", "-o", "json"))
	var enrolled, denied bool
	for _, rec := range recs {
		if rec.Via != "cli" {
			t.Errorf("audit record %+v: via %q, want cli", rec, rec.Via)
		}
		enrolled = enrolled || rec.Action == "enroll" && rec.User == "op" && rec.MAC == mac && rec.Outcome == "ok"
		denied = denied || rec.Action == "enroll" && rec.User == "vic" && rec.Outcome == "denied"
	}
	if !enrolled || !denied {
		t.Errorf("audit = %+v; want op's enroll of %s (ok) and vic's (denied)", recs, mac)
	}
	recs = auditJSON(t, d.cli(t, "audit", "--mac", "5254.0000.1401", "-o", "json"))
	if len(recs) != 1 || recs[0].MAC != mac || recs[0].User != "op" {
		t.Errorf("audit --mac %s = %+v, want op's one enroll", mac, recs)
	}
	if recs = auditJSON(t, d.cli(t, "audit", "--limit", "2", "--since", "1h", "-o", "json")); len(recs) != 2 {
		t.Errorf("audit --limit 2 = %d records, want 2", len(recs))
	}
	if r = d.cli(t, "audit", "--mac", mac); r.code != 0 || !strings.Contains(r.stdout, "op ") ||
		!strings.Contains(r.stdout, " cli ") || !strings.Contains(r.stdout, "OUTCOME") {
		t.Errorf("audit --mac table = %+v", r)
	}
	if r = d.cli(t, "audit", "--since", "2999-01-01T00:00:00Z"); r.code != 0 || !strings.Contains(r.stdout, "no audit records") {
		t.Errorf("audit --since the future = %+v, want none", r)
	}

	// vic's token revoked stops working; op's role and password change.
	id := strings.SplitN(strings.TrimSpace(readFile(t, vic)), "_", 3)[1] // bootd_<id>_<secret>
	if r = d.cli(t, "user", "revoke", "vic", id); r.code != 0 {
		t.Fatalf("user revoke vic %s = %+v", id, r)
	}
	if r = d.cliAs(t, vic, "list"); r.code != 1 || !strings.Contains(r.stderr, "refused the API token") {
		t.Errorf("list with a revoked token = %+v", r)
	}
	if r = d.cli(t, "user", "role", "op", "admin"); r.code != 0 || !strings.Contains(r.stdout, "op is now admin") {
		t.Errorf("user role op admin = %+v", r)
	}
	cmd := exec.Command(bootdBin, "user", "password", "op", "--password-file", "-")
	cmd.Env = append(cleanEnv(), "BOOTD_SERVER="+d.url, "BOOTD_TOKEN_FILE="+d.tokenFile, "BOOTD_DATA_DIR="+d.dataDir)
	cmd.Stdin = strings.NewReader("another long password\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "op has a new password") {
		t.Errorf("user password op --password-file - = %v, %s", err, out)
	}
	if r = d.cli(t, "user", "remove", "vic"); r.code != 0 {
		t.Errorf("user remove vic = %+v", r)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUserErrors: bad input to bootd user and bootd audit is one line and
// exit 2 (usage) or 1 (refused); a password is never an argument.
func TestUserErrors(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	open := filepath.Join(t.TempDir(), "open.pw")
	os.WriteFile(open, []byte("long enough password\n"), 0o644)
	short := writeSecret(t, "short.pw", "short\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"last admin", []string{"user", "remove", "admin"}, 1, "last admin cannot be removed"},
		{"last admin demoted", []string{"user", "role", "admin", "viewer"}, 1, "last admin"},
		{"password flag", []string{"user", "add", "ann", "--role", "viewer", "--password", "hunter22"}, 2, "flag provided but not defined: -password"},
		{"bad role", []string{"user", "add", "ann", "--role", "boss"}, 2, `unknown role "boss": want viewer, operator or admin`},
		{"bad role to set", []string{"user", "role", "admin", "root"}, 2, `unknown role "root"`},
		{"no role", []string{"user", "add", "ann"}, 2, "bootd user add NAME --role"},
		{"role on list", []string{"user", "list", "--role", "admin"}, 2, "bootd user list"},
		{"password needs file", []string{"user", "password", "admin"}, 2, "--password-file FILE|-"},
		{"unknown action", []string{"user", "promote", "ann"}, 2, `bootd user "promote": want one of add, list`},
		{"extra argument", []string{"user", "token", "ann", "more"}, 2, "bootd user token NAME"},
		{"bad name", []string{"user", "add", "Ann!", "--role", "viewer"}, 2, `user name "Ann!"`},
		{"readable password file", []string{"user", "add", "ann", "--role", "viewer", "--password-file", open}, 1, "chmod 600"},
		{"missing password file", []string{"user", "add", "ann", "--role", "viewer", "--password-file", "/nonexistent/pw"}, 1, "no such file"},
		{"empty standard input", []string{"user", "add", "ann", "--role", "viewer", "--password-file", "-"}, 1, "password on standard input: is empty"},
		{"short password", []string{"user", "add", "ann", "--role", "viewer", "--password-file", short}, 1, "at least 8 characters"},
		{"user exists", []string{"user", "add", "admin", "--role", "viewer"}, 1, "user exists"},
		{"unknown user", []string{"user", "token", "nobody"}, 1, "unknown user"},
		{"unknown token", []string{"user", "revoke", "admin", "0123456789ab"}, 1, "unknown token"},
		{"audit bad since", []string{"audit", "--since", "yesterday"}, 2, `--since "yesterday"`},
		{"audit bad limit", []string{"audit", "--limit", "0"}, 2, `--limit "0": want 1 to 10000`},
		{"audit bad mac", []string{"audit", "--mac", "52:54"}, 2, "bad MAC address"},
	} {
		r := d.cli(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: bootd %s = exit %d, stderr %q; want exit %d and one line with %q", tc.name,
				strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
		if strings.Contains(r.stderr, "hunter22") || strings.Contains(r.stderr, "long enough") {
			t.Errorf("%s: stderr shows the password: %q", tc.name, r.stderr)
		}
	}
	if r := d.cli(t, "user", "list", "-o", "json"); r.code != 0 || strings.Contains(r.stdout, `"ann"`) {
		t.Errorf("after the refusals, user list = %+v; want no user ann", r)
	}
	d.stop(t) // its log is whole
	if strings.Contains(d.stderr.String(), "long enough") || strings.Contains(d.stderr.String(), "hunter22") {
		t.Errorf("the daemon logged a password")
	}
}
