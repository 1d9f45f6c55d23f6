package access

import (
	"strings"
	"testing"
)

var cheap = HashParams{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h := HashPassword("correct horse", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, "correct horse") {
		t.Fatalf("HashPassword() = %q, want a PHC argon2id string", h)
	}
	if h2 := HashPassword("correct horse", cheap); h2 == h {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false, "correct horse ": false} {
		if ok, err := VerifyPassword(h, pw); ok != want || err != nil {
			t.Errorf("VerifyPassword(h, %q) = %v, %v, want %v", pw, ok, err, want)
		}
	}
	parts := strings.Split(h, "$")
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4194304,t=1,p=1$" + parts[4] + "$" + parts[5], // 4 GiB: refused
		"$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$"} {
		if ok, err := VerifyPassword(bad, "correct horse"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v, want an error", bad, ok, err)
		}
	}
}

// TestDefaultHash checks the default parameters hash and verify; it costs
// two full hashes (more under the race detector).
func TestDefaultHash(t *testing.T) {
	if testing.Short() {
		t.Skip("costs two 64 MiB hashes")
	}
	t.Parallel()
	h := HashPassword("pw", DefaultHashParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Fatalf("HashPassword(defaults) = %q", h)
	}
	if ok, err := VerifyPassword(h, "pw"); !ok || err != nil {
		t.Errorf("VerifyPassword = %v, %v", ok, err)
	}
}

// BenchmarkHashPassword measures one hash with the defaults (the figure in
// DefaultHashParams' comment).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		HashPassword("correct horse battery staple", DefaultHashParams)
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	for pw, ok := range map[string]bool{"1234567": false, "12345678": true, "ééééééé": false, "éééééééé": true,
		strings.Repeat("x", MaxPassword): true, strings.Repeat("x", MaxPassword+1): false} {
		if err := checkPassword(pw); (err == nil) != ok {
			t.Errorf("checkPassword(%d bytes) = %v, want ok %v", len(pw), err, ok)
		}
	}
}
