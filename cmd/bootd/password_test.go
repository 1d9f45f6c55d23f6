package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPasswordFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		mode          os.FileMode
		want, wantErr string
	}{
		{"trimmed", " hunter2 \n", 0o600, "hunter2", ""},
		{"group readable", "hunter2", 0o640, "", "chmod 600"},
		{"empty", "\n", 0o600, "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "pw")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := readPasswordFile(path)
			if got != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("readPasswordFile(%s) = %q, %v; want %q, error containing %q", tt.name, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if pw, err := readPasswordFile(""); pw != "" || err != nil {
		t.Errorf(`readPasswordFile("") = %q, %v; want "", nil`, pw, err)
	}
	if _, err := readPasswordFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("readPasswordFile(missing) = nil error")
	}
}
