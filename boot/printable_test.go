package boot

import "testing"

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"root mounted", "root mounted"},
		{"line one\nline two\r\x00\x7f", "line one line two   "},
		{"echo ${net0/ip}", "echo ?{net0/ip}"},
		{"caf\u00e9", "caf??"},
		{"", ""},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHolderList(t *testing.T) {
	for _, tc := range []struct {
		hs   []Holder
		want string
	}{
		{nil, "nobody"},
		{[]Holder{{Addr: "198.18.0.5:0/4242"}}, "198.18.0.5:0/4242"},
		{[]Holder{{Addr: "198.18.0.5:0/4242", Client: "client.4123", Lock: true}, {Addr: "198.18.0.6:0/1"}},
			"client.4123 at 198.18.0.5:0/4242 (lock owner), 198.18.0.6:0/1"},
	} {
		if got := HolderList(tc.hs); got != tc.want {
			t.Errorf("HolderList(%v) = %q, want %q", tc.hs, got, tc.want)
		}
	}
}
