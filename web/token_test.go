package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLoadOrCreateToken(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", "api-token")
	tok, err := LoadOrCreateToken(path)
	if err != nil {
		t.Fatalf("LoadOrCreateToken(%s) = %v, want a new token", path, err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Errorf("LoadOrCreateToken(%s) = %q, want 64 hex digits", path, tok)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %04o, want %04o", p, got, want)
		}
	}
	again, err := LoadOrCreateToken(path)
	if err != nil || again != tok {
		t.Errorf("LoadOrCreateToken(%s) again = %q, %v; want %q", path, again, err, tok)
	}
}

func TestLoadOrCreateTokenReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		content  string
		mode     os.FileMode
		want     string
		wantErrs []string // parts of the error; nil means success
	}{
		{"trimmed", "  s3cret\n", 0o600, "s3cret", nil},
		{"owner read-only", "s3cret", 0o400, "s3cret", nil},
		{"world readable", "s3cret\n", 0o644, "", []string{"chmod 600", "api-token"}},
		{"group readable", "s3cret\n", 0o640, "", []string{"chmod 600"}},
		{"empty", "\n", 0o600, "", []string{"empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "api-token")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // WriteFile's mode passes through the umask
				t.Fatal(err)
			}
			got, err := LoadOrCreateToken(path)
			if tt.wantErrs == nil {
				if err != nil || got != tt.want {
					t.Errorf("LoadOrCreateToken(%s) = %q, %v; want %q", path, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadOrCreateToken(%s) = %q, nil; want an error", path, got)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("LoadOrCreateToken(%s) error %q lacks %q", path, err, want)
				}
			}
		})
	}
}
