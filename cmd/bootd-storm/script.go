package main

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ipxeScript is what the simulator reads of an iPXE script: a boot script's
// kernel, initrds and command line, or a wait script's pause and the script
// to chain to after it. It reads the commands bootd's templates
// (templates/boot) and a hand-written script use; any other command is
// ignored, as the simulator runs nothing else.
type ipxeScript struct {
	kernel  string // absolute URL
	cmdline string // the kernel's arguments, initrd= included
	initrds []initrd
	// wait, when not nil, is the script to chain to after sleep: a script
	// with no kernel that says to ask again.
	wait  *url.URL
	sleep time.Duration
	// message is what the script echoes, for failures.
	message string
	// text is the script as served.
	text string
	// base is the folder of the script's URL path, with its slash.
	base string
}

type initrd struct {
	name string // --name, else the URL's last element
	url  string // absolute
}

// refusal is an echo of a script that will not boot this machine however
// long it waits (templates/boot/unknown.ipxe, problem.ipxe).
var refusal = regexp.MustCompile(`is not enrolled|cannot boot|network boot is off`)

// parseScript reads text, the script served at base.
func parseScript(base *url.URL, text string) (*ipxeScript, error) {
	s := &ipxeScript{text: text, base: base.Path[:strings.LastIndex(base.Path, "/")+1]}
	if !strings.HasPrefix(text, "#!ipxe") {
		return nil, fmt.Errorf("not an iPXE script: %.60q", text)
	}
	var echoes []string
	var chain string
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "||")
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ":") {
			continue
		}
		switch f[0] {
		case "echo":
			echoes = append(echoes, strings.Join(f[1:], " "))
		case "kernel", "chain", "imgexec":
			args := dropFlags(f[1:])
			if len(args) == 0 {
				return nil, fmt.Errorf("%q without a URL", line)
			}
			u, err := base.Parse(args[0])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", line, err)
			}
			if f[0] == "kernel" {
				s.kernel, s.cmdline = u.String(), strings.Join(args[1:], " ")
			} else if chain == "" {
				chain = u.String()
			}
		case "initrd", "module":
			name, args := "", f[1:]
			for len(args) > 1 && strings.HasPrefix(args[0], "-") {
				if args[0] == "--name" || args[0] == "-n" {
					name, args = args[1], args[2:]
					continue
				}
				args = args[1:]
			}
			if len(args) == 0 {
				return nil, fmt.Errorf("%q without a URL", line)
			}
			u, err := base.Parse(args[0])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", line, err)
			}
			if name == "" {
				name = u.Path[strings.LastIndex(u.Path, "/")+1:]
			}
			s.initrds = append(s.initrds, initrd{name: name, url: u.String()})
		case "sleep":
			if s.sleep == 0 && len(f) > 1 {
				n, err := strconv.Atoi(f[1])
				if err != nil || n < 0 || n > 3600 {
					return nil, fmt.Errorf("bad sleep %q", f[1])
				}
				s.sleep = time.Duration(n) * time.Second
			}
		}
	}
	s.message = strings.Join(echoes, " / ")
	if s.kernel != "" {
		return s, nil
	}
	if refusal.MatchString(s.message) {
		return nil, fmt.Errorf("refused: %s", s.message)
	}
	if chain == "" {
		return nil, errors.New("the script boots no kernel and chains to nothing: " + s.message)
	}
	s.wait, _ = url.Parse(chain)
	return s, nil
}

func dropFlags(args []string) []string {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	return args
}

// arg is the value of key= on the kernel command line, "" when absent.
func (s *ipxeScript) arg(key string) string {
	for _, w := range strings.Fields(s.cmdline) {
		if k, v, ok := strings.Cut(w, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// withoutSecrets is the script with its token and node URL taken off the
// kernel line: what a peer that releases no key serves to every node.
func (s *ipxeScript) withoutSecrets() string {
	var out []string
	for _, line := range strings.Split(s.text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "kernel ") {
			var keep []string
			for _, w := range strings.Fields(line) {
				if !strings.HasPrefix(w, "bootd.token=") && !strings.HasPrefix(w, "bootd=") {
					keep = append(keep, w)
				}
			}
			line = strings.Join(keep, " ")
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
