package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A stringFlag is a string flag that bootd help shows with its environment
// variable and its effective default. Both apply after parsing (serve's
// configuration, the client's options), so the flag's own default is empty
// and def only says what an absent flag means.
type stringFlag struct {
	val *string
	env string // the environment variable read when the flag is absent; "" for none
	def string // the default help shows; "" for none
	set bool   // given on the command line
}

func (f *stringFlag) String() string {
	if f == nil || f.val == nil {
		return ""
	}
	return *f.val
}

func (f *stringFlag) Set(s string) error {
	*f.val, f.set = s, true
	return nil
}

// defineString defines a stringFlag on fs that parses into p.
func defineString(fs *flag.FlagSet, p *string, name, env, def, usage string) *stringFlag {
	f := &stringFlag{val: p, env: env, def: def}
	fs.Var(f, name, usage)
	return f
}

// Where the client subcommands find the daemon and its token by default.
const (
	defaultServer  = "https://127.0.0.1:9443"
	defaultDataDir = "/var/lib/bootd"
)

// defineClientFlags defines the flags every client subcommand takes; their
// environment variables and defaults apply in clientOptions.resolve.
func defineClientFlags(fs *flag.FlagSet) *clientOptions {
	o := new(clientOptions)
	defineString(fs, &o.server, "server", "BOOTD_SERVER", defaultServer, "URL of the daemon's admin listener")
	defineString(fs, &o.tokenFile, "token-file", "BOOTD_TOKEN_FILE", "<data-dir>/"+tokenFileName, "file holding the API token")
	defineString(fs, &o.dataDir, "data-dir", "BOOTD_DATA_DIR", defaultDataDir, "the daemon's data folder, where api-token and admin-tls.crt are")
	defineString(fs, &o.caFile, "ca-file", "BOOTD_CA_FILE", "", "verify the admin listener's certificate against these CAs (PEM)")
	defineString(fs, &o.fingerprint, "fingerprint", "BOOTD_FINGERPRINT", "<data-dir>/admin-tls.crt's", "pin the admin listener's certificate by its SHA-256 (bootd version shows it)")
	defineString(fs, &o.output, "o", "", "table", "output format: table or json")
	return o
}

// flagSet builds the subcommand's flag set, which run parses and help
// lists: the client flags for a client subcommand, then its own. It
// returns the client options and what c.flags returned, to read after
// parsing.
func (c command) flagSet() (*flag.FlagSet, *clientOptions, any) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help is bootd help's
	var o *clientOptions
	if c.client != nil {
		o = defineClientFlags(fs)
	}
	var extra any
	if c.flags != nil {
		extra = c.flags(fs)
	}
	return fs, o, extra
}

// writeOverview prints what bootd help alone prints: every subcommand with
// its summary.
func writeOverview(w io.Writer) error {
	fmt.Fprint(w, "bootd: a network boot server for diskless machines with disks in Ceph.\n\n"+
		"Usage: bootd <subcommand> [arguments] [flags]\n\nSubcommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "  help\tthis list, or with a subcommand its usage, flags and an example\n")
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, "\nbootd help <subcommand> (or bootd <subcommand> --help) shows its usage, flags and an example.\n"+
		"Every subcommand but serve and version talks to a running daemon: --server (BOOTD_SERVER) finds it,\n"+
		"--token-file (BOOTD_TOKEN_FILE) or --data-dir (BOOTD_DATA_DIR) its API token, and --fingerprint\n"+
		"(BOOTD_FINGERPRINT), --ca-file (BOOTD_CA_FILE) or the data folder's admin-tls.crt verify its certificate.\n")
	return err
}

// writeHelp prints a subcommand's help: its usage line, what it does, its
// flags with their defaults and environment variables, and an example.
func writeHelp(w io.Writer, c command) error {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", strings.TrimSpace("bootd "+c.name+" "+c.args), wrap(c.about, "", 80))
	fs, _, _ := c.flagSet()
	common := flag.NewFlagSet("", flag.ContinueOnError)
	if c.client != nil {
		defineClientFlags(common)
	}
	var own, client []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if common.Lookup(f.Name) != nil {
			client = append(client, f)
		} else {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		writeFlags(w, own)
	}
	if len(client) > 0 {
		fmt.Fprintln(w, "\nClient flags (every subcommand that talks to the daemon):")
		writeFlags(w, client)
	}
	fmt.Fprintln(w, "\nExample:")
	for _, line := range strings.Split(c.example, "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	return nil
}

// writeFlags prints flags much as flag.PrintDefaults does, with two dashes,
// and under each its default and environment variable, if it has them.
func writeFlags(w io.Writer, flags []*flag.Flag) {
	for _, f := range flags {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		name, usage := flag.UnquoteUsage(f)
		if name == "value" { // a stringFlag
			name = "string"
		}
		var notes []string
		def, env := f.DefValue, ""
		if sf, ok := f.Value.(*stringFlag); ok {
			def, env = sf.def, sf.env
		}
		if def != "" && def != "false" {
			notes = append(notes, "default "+def)
		}
		if env != "" {
			notes = append(notes, "env "+env)
		}
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(w, "  %s%s%s\n%s\n", dash, f.Name, name, wrap(usage, "      ", 80))
		if len(notes) > 0 {
			fmt.Fprintf(w, "      %s\n", strings.Join(notes, ", "))
		}
	}
}

// wrap breaks s into lines of at most width characters (longer words stay
// whole), each starting with indent.
func wrap(s, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(s) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}
