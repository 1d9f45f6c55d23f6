package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bootd/bootd/boot"
)

const childEnv = "BOOTD_STORE_CRASH_CHILD"

// TestMain runs the test binary as the enrolling process that
// TestKillMidEnroll kills when the environment asks for it.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		crashChild(path)
	}
	os.Exit(m.Run())
}

// crashChild enrolls nodes from 8 goroutines and prints each acknowledged
// one, until it is killed.
func crashChild(path string) {
	db, err := Open(path, Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	svc, err := boot.NewService(boot.Config{Store: db, Catalog: catalog{}})
	if err != nil {
		fmt.Println("service:", err)
		os.Exit(2)
	}
	start, _ := strconv.Atoi(os.Getenv(childEnv + "_START"))
	done := make(chan int)
	for w := range 8 {
		go func() {
			for i := start + w; ; i += 8 {
				if _, err := svc.Enroll(context.Background(), boot.EnrollRequest{MAC: macN(i), Image: "debian"}); err != nil {
					fmt.Println("enroll:", err)
					os.Exit(2)
				}
				done <- i
			}
		}()
	}
	for i := range done {
		fmt.Println("done", i)
	}
}

// TestKillMidEnroll kills an enrolling process with SIGKILL at several points
// and checks that the reopened store holds every acknowledged node, whole,
// and no partial one.
func TestKillMidEnroll(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), FileName)
	acked := map[string]bool{}
	for round, killAfter := range []int{1, 17, 60, 150} {
		start := round * 100000
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+path, childEnv+"_START="+strconv.Itoa(start))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < killAfter && sc.Scan() {
			line := sc.Text()
			if i, ok := strings.CutPrefix(line, "done "); ok {
				acked[macN(atoi(t, i)).String()] = true
				n++
			} else {
				t.Logf("child: %s", line)
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if n < killAfter {
			t.Fatalf("round %d: child stopped after %d enrolls, before the kill", round, n)
		}
		checkWhole(t, path, acked)
	}
}

func atoi(t *testing.T, s string) int {
	i, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad child output %q", s)
	}
	return i
}

func checkWhole(t *testing.T, path string, acked map[string]bool) {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	nodes, err := db.Nodes(context.Background())
	if err != nil {
		t.Fatalf("Nodes after kill: %v", err)
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.MAC.String()] = true
		if n.State != boot.StateEnrolled || n.Image != "debian" || n.Hostname != boot.DefaultHostname(n.MAC) ||
			!n.Netboot || n.SizeBytes != 1<<30 || n.Created.IsZero() {
			t.Errorf("node after kill is not whole: %+v", n)
		}
	}
	for mac := range acked {
		if !seen[mac] {
			t.Errorf("acknowledged enroll of %s lost after kill", mac)
		}
	}
	t.Logf("after kill: %d nodes, %d acknowledged", len(nodes), len(acked))
}
