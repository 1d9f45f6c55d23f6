package templates

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The boot scripts' tests run them under busybox sh, as the initramfs and
// Alpine do, with stand-ins that write the steps they are asked for to $LOG.

// lookBusybox returns the path of busybox, failing the test without it.
func lookBusybox(t *testing.T) string {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is needed (scripts/deps.d): %v", err)
	}
	return busybox
}

// bootdInitStub is a bootd-init for busybox sh: "map" logs map, prints
// /dev/rbd0 and exits with mapExit; "report" logs its words.
func bootdInitStub(busybox, mapExit string) string {
	return "#!" + busybox + " sh\n" + `case $1 in map) echo map >>"$LOG"; [ ` + mapExit +
		` = 0 ] && echo /dev/rbd0; exit ` + mapExit + `;; report) shift; echo "report $*" >>"$LOG";; esac` + "\n"
}

// runSteps runs script with busybox sh -c in env, with $LOG set to a fresh
// file, and returns the lines written there, each ended by "|", and what
// the script printed.
func runSteps(t *testing.T, busybox, script string, env []string) (steps, output string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "log")
	cmd := exec.Command(busybox, "sh", "-c", script)
	cmd.Env = append(env, "LOG="+log)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run() // a failing script is a case: its steps say how far it came
	got, _ := os.ReadFile(log)
	return strings.ReplaceAll(string(got), "\n", "|"), out.String()
}
