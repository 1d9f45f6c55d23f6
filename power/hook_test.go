package power_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/power"
)

// hookScript records each call (argv, the environment bootd set, standard
// input) and acts on $2: status prints the state file, netboot-once is not
// supported (3), "fail" in the address fails, "hang" sleeps with a child.
const hookScript = `#!/bin/sh
d=$(dirname "$0")
pw=$(cat)
echo "argv=$* mac=$BOOTD_MAC action=$BOOTD_ACTION host=$BOOTD_HOSTNAME image=$BOOTD_IMAGE port=$BOOTD_POWER_ADDRESS stdin=$pw" >> "$d/calls"
env >> "$d/env"
case "$BOOTD_POWER_ADDRESS" in
fail) echo "switch1: no such port" >&2; exit 1 ;;
hang) sleep 30 & echo $! > "$d/child"; sleep 30 ;;
esac
case "$2" in
on|off) echo "$2" > "$d/state" ;;
cycle) echo on > "$d/state" ;;
status) cat "$d/state" 2>/dev/null || echo off ;;
netboot-once) exit 3 ;;
esac
`

func writeHook(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "hook")
	if err := os.WriteFile(p, []byte(hookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return p, dir
}

// TestHook: the hook gets the MAC and action in argv, the node's names in
// its environment and the password on standard input only; its exit
// statuses and output are read as documented.
func TestHook(t *testing.T) {
	t.Parallel()
	path, dir := writeHook(t)
	h := &power.Hook{Path: path}
	tgt := power.Target{MAC: testMAC, Hostname: "pi4-07", Image: "debian-12-pi4", Address: "poe1:7", Password: "plug-secret"}
	ctx := context.Background()
	for _, s := range []struct {
		a    boot.PowerAction
		want boot.PowerState
	}{{boot.PowerOn, boot.PowerStateUnknown}, {boot.PowerStatus, boot.PowerStateOn}, {boot.PowerOff, boot.PowerStateUnknown},
		{boot.PowerStatus, boot.PowerStateOff}, {boot.PowerCycle, boot.PowerStateUnknown}, {boot.PowerStatus, boot.PowerStateOn}} {
		if got, err := h.Do(ctx, tgt, s.a); err != nil || got != s.want {
			t.Fatalf("Do(%s) = %v, %v, want %v", s.a, got, err, s.want)
		}
	}
	if _, err := h.Do(ctx, tgt, boot.PowerNetbootOnce); !errors.Is(err, boot.ErrPowerUnsupported) {
		t.Errorf("Do(netboot-once) = %v, want ErrPowerUnsupported (exit 3)", err)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	first := strings.Split(string(calls), "\n")[0]
	want := "argv=52:54:00:12:34:56 on mac=52:54:00:12:34:56 action=on host=pi4-07 image=debian-12-pi4 port=poe1:7 stdin=plug-secret"
	if first != want {
		t.Errorf("first call:\n%s\nwant\n%s", first, want)
	}
	if n := strings.Count(string(calls), "\n"); n != 7 {
		t.Errorf("%d calls, want 7:\n%s", n, calls)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	if strings.Contains(string(env), "plug-secret") {
		t.Error("the password is in the hook's environment")
	}
}

// TestHookFailure: a non-zero exit is an error with the hook's last line
// of standard error.
func TestHookFailure(t *testing.T) {
	t.Parallel()
	path, _ := writeHook(t)
	_, err := (&power.Hook{Path: path}).Do(context.Background(), power.Target{MAC: testMAC, Address: "fail"}, boot.PowerOn)
	if !errors.Is(err, boot.ErrPower) || !strings.Contains(err.Error(), "status 1: switch1: no such port") {
		t.Errorf("Do = %v, want the hook's status and message", err)
	}
}

// TestHookTimeout: a hook that runs past its timeout is killed with what it
// started, and the action fails saying so.
func TestHookTimeout(t *testing.T) {
	t.Parallel()
	path, dir := writeHook(t)
	start := time.Now()
	_, err := (&power.Hook{Path: path, Timeout: 500 * time.Millisecond}).Do(context.Background(),
		power.Target{MAC: testMAC, Address: "hang"}, boot.PowerOn)
	if !errors.Is(err, boot.ErrPower) || !strings.Contains(err.Error(), "no answer within 500ms") {
		t.Fatalf("Do = %v, want a timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the timeout took %s", took)
	}
	b, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// The child is gone, or a zombie of a parent that was killed too.
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err := syscall.Kill(pid, 0); err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the hook's child %d outlived the timeout", pid)
		}
	}
}
