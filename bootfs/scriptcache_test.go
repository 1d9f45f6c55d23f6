package bootfs

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/bootd/bootd/boot"
)

// TestScriptCacheGenerations checks that the cache keeps at most two
// generations and that an entry still asked for survives a turnover.
func TestScriptCacheGenerations(t *testing.T) {
	t.Parallel()
	var c scriptCache
	c.put("hot", []byte("hot"))
	for i := range 3 * scriptCacheSize {
		c.put(fmt.Sprint(i), []byte("x"))
		if i%1000 == 0 {
			if b, ok := c.get("hot"); !ok || string(b) != "hot" {
				t.Fatalf("after %d puts the entry asked for all along is gone", i)
			}
		}
	}
	if n := len(c.cur) + len(c.prev); n > 2*scriptCacheSize {
		t.Errorf("cache holds %d entries, want at most %d", n, 2*scriptCacheSize)
	}
	if _, ok := c.get("0"); ok {
		t.Errorf("an entry nobody asked for again outlived two turnovers")
	}
}

// TestScriptKeyDistinct checks that keys differ whenever an input of the
// script differs, also when text moves from one field to the next.
func TestScriptKeyDistinct(t *testing.T) {
	t.Parallel()
	mac, _ := boot.ParseMAC("52:54:00:12:34:56")
	plan := func() *boot.Plan {
		return &boot.Plan{Node: &boot.Node{MAC: mac, Hostname: "web1", Image: "debian"}, Netboot: true,
			Image: &boot.Image{Name: "debian", Cmdline: "console=ttyS0", Initrds: []string{"/a"}}}
	}
	variants := []*boot.Plan{plan()}
	for _, change := range []func(*boot.Plan){
		func(p *boot.Plan) { p.Node.Hostname = "web2" },
		func(p *boot.Plan) { p.Node.Image = "alpine" },
		func(p *boot.Plan) { p.Node.MAC, _ = boot.ParseMAC("52:54:00:12:34:57") },
		func(p *boot.Plan) { p.Netboot = false },
		func(p *boot.Plan) { p.Image.Cmdline = "console=ttyS1" },
		func(p *boot.Plan) { p.Node.Hostname, p.Node.Image = "web1debian", "" },
		func(p *boot.Plan) { p.Image.Initrds = nil },
		func(p *boot.Plan) { p.Image, p.Problem = nil, "gone" },
	} {
		p := plan()
		change(p)
		variants = append(variants, p)
	}
	seen := map[string]int{}
	for i, p := range variants {
		k := inputsOf(p).key()
		if j, ok := seen[k]; ok {
			t.Errorf("variants %d and %d share a key", j, i)
		}
		seen[k] = i
	}
}

// TestScriptKeyCoversInputs changes each field of scriptInputs, and each
// field of the image it holds, in turn, by reflection: every change must
// change the key. A field added to the inputs is covered without a key
// function to edit.
func TestScriptKeyCoversInputs(t *testing.T) {
	t.Parallel()
	mac, _ := boot.ParseMAC("52:54:00:12:34:56")
	base := func() scriptInputs {
		return scriptInputs{MAC: mac, Hostname: "web1", Image: "debian", Def: &boot.Image{Name: "debian"}}
	}
	want := base().key()
	changed := 0
	var walk func(path string, v reflect.Value, key func() string)
	walk = func(path string, v reflect.Value, key func() string) {
		for i := range v.NumField() {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			if f.Kind() == reflect.Struct {
				walk(name+".", f, key)
				continue
			}
			if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct {
				if f.IsNil() { // an optional section (Image.SecureBoot): setting it changes the key too
					f.Set(reflect.New(f.Type().Elem()))
					if key() == want {
						t.Errorf("setting %s left the script cache key as it was", name)
					}
					want = key()
				}
				walk(name+".", f.Elem(), key)
				continue
			}
			old := reflect.New(f.Type()).Elem()
			old.Set(f)
			if !setOther(f) {
				t.Fatalf("%s: the test cannot change a %s; teach setOther", name, f.Type())
			}
			if key() == want {
				t.Errorf("changing %s left the script cache key as it was", name)
			}
			f.Set(old)
			changed++
		}
	}
	in := base()
	walk("", reflect.ValueOf(&in).Elem(), func() string { return in.key() })
	if changed < 10 {
		t.Errorf("changed %d fields, want every field of the inputs and the image", changed)
	}
	// What the script is rendered from carries the same inputs.
	if want := base().key(); inputsOf(base().plan()).key() != want {
		got := inputsOf(base().plan()).key()
		t.Errorf("inputsOf(plan()) = %s, want %s", got, want)
	}
}

// setOther sets v to a value other than the one it holds.
func setOther(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.Append(v, reflect.ValueOf("x")))
			return true
		}
		if v.Type().Elem().Kind() == reflect.Uint8 { // a MAC
			b := append([]byte(nil), v.Bytes()...)
			b[len(b)-1]++
			v.SetBytes(b)
			return true
		}
		return false
	default:
		return false
	}
	return true
}

// BenchmarkScriptKey measures the cache key of one script (JSON of its
// inputs), paid on every request for a script without a token.
func BenchmarkScriptKey(b *testing.B) {
	mac, _ := boot.ParseMAC("52:54:00:12:34:56")
	in := scriptInputs{MAC: mac, Hostname: "web1", Image: "debian-12", Netboot: true,
		Def: &boot.Image{Name: "debian-12", Flavour: boot.FlavourInitramfsTools, Arch: "amd64", Kernel: "/srv/k/vmlinuz",
			Initrds: []string{"/srv/k/initrd.img"}, Cmdline: "console=ttyS0 boot=bootd root=/dev/rbd0 rw",
			Golden: boot.GoldenRef{Image: "debian-12", Snapshot: "v1"}, SizeBytes: 30 << 30}}
	for b.Loop() {
		in.key()
	}
}
