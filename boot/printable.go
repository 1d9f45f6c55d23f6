package boot

// Printable returns text from outside bootd (a node's report, a problem shown
// on a console) as one line that an iPXE script, a log or a terminal shows
// as is: control characters become spaces, and other bytes outside printable
// ASCII, and '$' (which starts a setting's expansion in an iPXE script,
// https://ipxe.org/cfg), become '?'.
func Printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c < 0x20 || c == 0x7f:
			b[i] = ' '
		case c > 0x7e || c == '$':
			b[i] = '?'
		}
	}
	return string(b)
}
