package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/boot/storedump"
	"github.com/bootd/bootd/boot/storetest"
)

// TestCLIStoreExportImport: bootd store export writes a populated data
// folder's state to a file, bootd store import puts it into a new data
// folder, whose export is the same file; a second import is refused, and so
// is an operation that is neither.
func TestCLIStoreExportImport(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	db, err := store.Open(filepath.Join(src, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Populate(t, storetest.Backend{Store: db, Leases: db, Users: db,
		Audit: func(rt access.Retention) access.AuditLog { return db.AuditLog(rt) }})
	db.Close()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	getenv := func(string) string { return "" }
	bootd := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(t.Context(), args, &out, &errOut, getenv)
		return code, out.String() + errOut.String()
	}
	for _, step := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"store", "export", a, "--data-dir", src}, 0, "exported 6 nodes, 2 leases, 1 users, 3 audit records"},
		{[]string{"store", "import", a, "--data-dir", dst}, 0, "imported 6 nodes"},
		{[]string{"store", "export", b, "--data-dir", dst}, 0, "exported 6 nodes"},
		{[]string{"store", "import", a, "--data-dir", dst}, 1, "not empty"},
		{[]string{"store", "copy", a, "--data-dir", dst}, 2, "want export or import"},
	} {
		if code, out := bootd(step.args...); code != step.code || !strings.Contains(out, step.want) {
			t.Errorf("bootd %s = %d, %q; want %d and %q", strings.Join(step.args, " "), code, out, step.code, step.want)
		}
	}
	storetest.SameDump(t, "export of the imported folder", readDump(t, b), readDump(t, a))
}

func readDump(t *testing.T, path string) *storedump.Dump {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d storedump.Dump
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}
