package main

import (
	"flag"
	"regexp"
	"strings"
	"testing"
)

// runBootd runs the bootd binary without a daemon.
func runBootd(t *testing.T, args ...string) result {
	t.Helper()
	return runBootdEnv(t, nil, args...)
}

// TestCommandTable: every subcommand of the table has what its help needs,
// and one way to run.
func TestCommandTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range commands() {
		if c.name == "" || c.name == "help" || strings.HasPrefix(c.name, "-") || seen[c.name] {
			t.Errorf("command name %q: empty, reserved or repeated", c.name)
		}
		seen[c.name] = true
		if c.summary == "" || c.about == "" || c.example == "" {
			t.Errorf("bootd %s: summary %q, about %q, example %q; want all three", c.name, c.summary, c.about, c.example)
		}
		if (c.client == nil) == (c.local == nil) {
			t.Errorf("bootd %s: want exactly one of client and local", c.name)
		}
		if c.nargs+c.optional > 0 && c.args == "" {
			t.Errorf("bootd %s takes arguments but its usage line names none", c.name)
		}
		fs, _, _ := c.flagSet()
		fs.VisitAll(func(f *flag.Flag) {
			if strings.TrimSpace(f.Usage) == "" {
				t.Errorf("bootd %s --%s has no help text", c.name, f.Name)
			}
		})
	}
}

// TestHelpCoversEveryCommand walks the table: for each subcommand, --help,
// -h and bootd help <sub> exit 0 and print the same help, with its usage
// line, its example, and every flag its flag set defines with its default
// and environment variable.
func TestHelpCoversEveryCommand(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := []string{"Usage: " + strings.TrimSpace("bootd "+c.name+" "+c.args) + "\n"}
			for _, line := range strings.Split(c.example, "\n") {
				want = append(want, "\n  "+line+"\n")
			}
			var flags []*regexp.Regexp
			fs, _, _ := c.flagSet()
			fs.VisitAll(func(f *flag.Flag) {
				dash := "--"
				if len(f.Name) == 1 {
					dash = "-"
				}
				flags = append(flags, regexp.MustCompile(`(?m)^  `+dash+regexp.QuoteMeta(f.Name)+`( [a-z]+)?$`))
				if sf, ok := f.Value.(*stringFlag); ok {
					if sf.env != "" {
						want = append(want, "env "+sf.env)
					}
					if sf.def != "" {
						want = append(want, "default "+sf.def)
					}
				}
			})
			if c.client != nil && len(flags) < 4 {
				t.Errorf("bootd %s: %d flags, want the client flags at least", c.name, len(flags))
			}
			var first string
			for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
				r := runBootd(t, args...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("bootd %s = exit %d, stderr %q; want exit 0 and nothing on stderr", strings.Join(args, " "), r.code, r.stderr)
				}
				if first == "" {
					first = r.stdout
				} else if r.stdout != first {
					t.Errorf("bootd %s printed other help than bootd %s --help:\n%s", strings.Join(args, " "), c.name, r.stdout)
				}
			}
			for _, re := range flags {
				if !re.MatchString(first) {
					t.Errorf("bootd %s --help lists no flag matching %s:\n%s", c.name, re, first)
				}
			}
			for _, w := range want {
				if !strings.Contains(first, w) {
					t.Errorf("bootd %s --help lacks %q:\n%s", c.name, w, first)
				}
			}
		})
	}
}

// TestServeHelpListsConfigTable: bootd serve --help shows each setting of
// the configuration table with its flag and environment variable.
func TestServeHelpListsConfigTable(t *testing.T) {
	t.Parallel()
	r := runBootd(t, "serve", "--help")
	var cfg serveConfig
	for _, f := range cfg.fields() {
		re := regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(f.flag) + ` string\n(      .*\n)*?      (default .*, )?env ` + f.env + `\n`)
		if !re.MatchString(r.stdout) {
			t.Errorf("bootd serve --help lacks --%s with env %s:\n%s", f.flag, f.env, r.stdout)
		}
	}
}

// TestHelpListsCommands: bootd help (and -h, --help) lists every subcommand
// with its summary, on stdout, and exits 0.
func TestHelpListsCommands(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"help", "help"}} {
		r := runBootd(t, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("bootd %s = exit %d, stderr %q; want exit 0", strings.Join(args, " "), r.code, r.stderr)
		}
		for _, c := range commands() {
			re := regexp.MustCompile(`(?m)^  ` + c.name + ` +` + regexp.QuoteMeta(c.summary) + `$`)
			if !re.MatchString(r.stdout) {
				t.Errorf("bootd %s does not list %s with its summary:\n%s", strings.Join(args, " "), c.name, r.stdout)
			}
		}
	}
}

// TestHelpUsageErrors: unknown subcommands and bad flags or arguments say
// so on stderr, print nothing on stdout, and exit 2.
func TestHelpUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage: bootd <subcommand>"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"frobnicate", "--help"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "list", "show"}, "bootd help [subcommand]"},
		{[]string{"list", "--bogus"}, "flag provided but not defined: -bogus (bootd list --help lists its flags)"},
		{[]string{"serve", "--bogus"}, "flag provided but not defined: -bogus (bootd serve --help lists its flags)"},
		{[]string{"serve", "--data-dir"}, "flag needs an argument: -data-dir"},
		{[]string{"serve", "extra"}, "bootd serve [flags]"},
		{[]string{"reimage", "--keep=maybe", "52:54:00:00:00:01"}, "invalid boolean value"},
		{[]string{"version", "extra"}, "usage: bootd version"},
	} {
		r := runBootd(t, tc.args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("bootd %s = exit %d, stdout %q, stderr %q; want exit 2, no stdout, stderr with %q",
				strings.Join(tc.args, " "), r.code, r.stdout, r.stderr, tc.want)
		}
	}
}
