package power

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/bootd/bootd/boot"
)

// DefaultHookTimeout bounds one run of the hook.
const DefaultHookTimeout = 30 * time.Second

// Exit statuses of the hook, besides 0 (done).
const (
	// HookUnsupported: the hook cannot do this action (a PoE switch has no
	// one-time network boot); bootd says so and goes on where it can.
	HookUnsupported = 3
)

// Hook runs the operator's executable for each action:
//
//	HOOK <mac> <action>
//
// with action on, off, cycle, status or netboot-once, and in its
// environment BOOTD_MAC, BOOTD_ACTION, BOOTD_HOSTNAME, BOOTD_IMAGE,
// BOOTD_POWER_ADDRESS and BOOTD_POWER_USER (the node's power settings: a
// switch and port, a smart plug's name). A password, when the node has one,
// comes on standard input, one line, never in argv or the environment. Exit
// 0 is done (for status, the first word of its output: on or off), 3 is
// "not supported", anything else a failure whose last line of standard
// error is the message. A run past Timeout is killed, with its process
// group, and fails.
type Hook struct {
	Path    string
	Timeout time.Duration
}

// Do implements Driver.
func (h *Hook) Do(ctx context.Context, t Target, a boot.PowerAction) (boot.PowerState, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Path, t.MAC.String(), string(a))
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"BOOTD_MAC=" + t.MAC.String(), "BOOTD_ACTION=" + string(a), "BOOTD_HOSTNAME=" + t.Hostname,
		"BOOTD_IMAGE=" + t.Image, "BOOTD_POWER_ADDRESS=" + t.Address, "BOOTD_POWER_USER=" + t.User}
	if t.Password != "" {
		cmd.Stdin = strings.NewReader(t.Password + "\n")
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limited{b: &out}, &limited{b: &errOut}
	// Its own process group, so that a timeout ends whatever it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("%w: power hook %s %s: no answer within %s, killed", boot.ErrPower, a, t.MAC, timeout)
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		msg := lastLine(errOut.String())
		if ee.ExitCode() == HookUnsupported {
			return "", fmt.Errorf("%w: power hook: %s", boot.ErrPowerUnsupported, a)
		}
		if msg == "" {
			msg = "no message on standard error"
		}
		return "", fmt.Errorf("%w: power hook %s exited with status %d: %s", boot.ErrPower, a, ee.ExitCode(), msg)
	}
	if err != nil {
		return "", fmt.Errorf("%w: power hook: %v", boot.ErrPower, err)
	}
	switch f := strings.Fields(out.String()); {
	case len(f) > 0 && f[0] == "on":
		return boot.PowerStateOn, nil
	case len(f) > 0 && f[0] == "off":
		return boot.PowerStateOff, nil
	}
	return boot.PowerStateUnknown, nil
}

// lastLine is the last non-empty line of s, printable and short.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return firstLine(strings.TrimSpace(lines[len(lines)-1]))
}

// limited keeps the first 4 KiB written to it and drops the rest.
type limited struct{ b *bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if room := 4096 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
