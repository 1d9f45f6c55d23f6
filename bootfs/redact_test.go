package bootfs

import (
	"net/netip"
	"reflect"
	"regexp"
	"testing"

	"github.com/bootd/bootd/boot"
)

// redactedSettings says, for every field of settings, what redacted does
// with it: "shared" with Explain's copy as it is, or "replaced" because it
// hands out secrets (tokens, keys). A field missing here fails
// TestRedactedCoversSettings, so a new setting cannot reach Explain
// unconsidered.
var redactedSettings = map[string]string{
	"nodes":   "shared",   // answers which machine is which; no secrets
	"ipxeDir": "shared",   // a folder name
	"retry":   "shared",   // seconds
	"log":     "shared",   // the logger
	"tmpl":    "shared",   // the boot templates
	"layout":  "shared",   // URLs
	"node":    "shared",   // the node listener's URL and certificate fingerprint (public)
	"initDir": "shared",   // a folder name
	"rbd":     "replaced", // IssueBootToken hands out one-time tokens: placeholderRBD
}

// secretName matches names of fields and methods that look like they
// hold or hand out a secret.
var secretName = regexp.MustCompile(`(?i)token|secret|key|password|credential`)

// secretLooking reports the first method or field name of t (or of *t, and
// of the fields of a struct of this package) that looks secret, or "".
func secretLooking(t reflect.Type) string {
	types := []reflect.Type{t}
	if t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer {
		types = append(types, reflect.PointerTo(t))
	}
	for _, tt := range types {
		for i := range tt.NumMethod() {
			if name := tt.Method(i).Name; secretName.MatchString(name) {
				return name
			}
		}
	}
	if t.Kind() == reflect.Struct && t.PkgPath() == reflect.TypeFor[settings]().PkgPath() {
		for i := range t.NumField() {
			f := t.Field(i)
			if secretName.MatchString(f.Name) {
				return f.Name
			}
			if name := secretLooking(f.Type); name != "" {
				return f.Name + "." + name
			}
		}
	}
	return ""
}

// TestRedactedCoversSettings: every setting is classified in
// redactedSettings; none that looks secret is shared; the replaced ones
// hand out no secret in the copy, and all others are the same.
func TestRedactedCoversSettings(t *testing.T) {
	t.Parallel()
	if secretLooking(reflect.TypeFor[RBDNodes]()) == "" {
		t.Fatal("secretLooking(RBDNodes) = \"\", want IssueBootToken: the check below could not fail")
	}
	st := reflect.TypeFor[settings]()
	for i := range st.NumField() {
		fld := st.Field(i)
		switch how := redactedSettings[fld.Name]; how {
		case "replaced":
		case "shared":
			if name := secretLooking(fld.Type); name != "" {
				t.Errorf("settings.%s (%s) has %s, which looks secret, but redacted shares it: replace it in redacted "+
					"with one that hands out none, and mark it replaced here", fld.Name, fld.Type, name)
			}
		default:
			t.Errorf("settings.%s is not in redactedSettings: does Explain's copy (redacted) share it or replace it?", fld.Name)
		}
	}
	for name := range redactedSettings {
		if _, ok := st.FieldByName(name); !ok {
			t.Errorf("redactedSettings names %s, which settings does not have", name)
		}
	}

	f, err := New(Config{Nodes: nodesStub{}, RBD: tokenRBD{}, BootURL: "http://198.18.0.1:8080",
		NodeURL: "https://198.18.0.1:8443", NodeFingerprint: "5a5a", IPXEDir: "/ipxe", InitDir: "/init", Retry: 3})
	if err != nil {
		t.Fatal(err)
	}
	g := f.redacted()
	if tok, err := g.rbd.IssueBootToken(boot.MAC{}, netip.Addr{}); tok != TokenPlaceholder || err != nil {
		t.Errorf("redacted IssueBootToken = %q, %v; want %q", tok, err, TokenPlaceholder)
	}
	// Field by field: shared ones the very same value (pointers the same
	// pointer), replaced ones not.
	fv, gv := reflect.ValueOf(f.settings), reflect.ValueOf(g.settings)
	for i := range st.NumField() {
		name := st.Field(i).Name
		switch equal := gv.Field(i).Equal(fv.Field(i)); {
		case redactedSettings[name] == "shared" && !equal:
			t.Errorf("redacted settings.%s differs from f's; want it shared", name)
		case redactedSettings[name] == "replaced" && equal:
			t.Errorf("redacted settings.%s is f's; want it replaced", name)
		}
	}
}

// tokenRBD hands out a real-looking token.
type tokenRBD struct{ RBDNodes }

func (tokenRBD) IssueBootToken(boot.MAC, netip.Addr) (string, error) { return "0123456789abcdef", nil }

// nodesStub knows no machine; New only needs one.
type nodesStub struct{ Nodes }
