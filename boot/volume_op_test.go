package boot

import (
	"strings"
	"testing"
)

// TestVolumeOpVerbs: every operation has a verb of its own for its errors,
// and only reimage gives a node its first volume.
func TestVolumeOpVerbs(t *testing.T) {
	seen := map[string]volumeOp{}
	for op := opReimage; op <= opDescribe; op++ {
		v := op.String()
		if v == "" || strings.HasPrefix(v, "volumeOp(") {
			t.Errorf("volumeOp(%d).String() = %q, want a verb", int(op), v)
		}
		if prev, ok := seen[v]; ok {
			t.Errorf("volumeOp(%d) and volumeOp(%d) share the verb %q", int(prev), int(op), v)
		}
		seen[v] = op
		if got, want := op.makesVolume(), op == opReimage; got != want {
			t.Errorf("%v.makesVolume() = %v, want %v", op, got, want)
		}
	}
	if got := volumeOp(0).String(); got != "volumeOp(0)" {
		t.Errorf("volumeOp(0).String() = %q, want volumeOp(0)", got)
	}
}
