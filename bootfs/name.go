package bootfs

import (
	"fmt"
	"io/fs"
	"strings"
)

// Errors of Files' methods. ErrNotFound wraps fs.ErrNotExist and ErrBadName
// wraps fs.ErrPermission, so protocol servers can map them without
// importing this package.
var (
	// ErrNotFound reports that there is no such file (for this machine).
	ErrNotFound error = &sentinel{"file not found", fs.ErrNotExist}
	// ErrBadName reports a name refused by CheckName.
	ErrBadName error = &sentinel{"file name refused", fs.ErrPermission}
)

// sentinel is an error that also matches a standard one in errors.Is.
type sentinel struct {
	msg string
	is  error
}

func (e *sentinel) Error() string        { return e.msg }
func (e *sentinel) Is(target error) bool { return target == e.is }

// Limits on names.
const (
	MaxNameLen   = 255
	MaxNameDepth = 16
)

// CheckName checks a file name from the network. It returns an error
// wrapping ErrBadName, saying why, when the name is not a relative
// slash-separated path of at most MaxNameLen bytes and MaxNameDepth
// elements, each made of ASCII letters, digits and . _ - + , = @ ~ and not
// starting with a dot. The error quotes the name (Go-escaped), nothing else.
func CheckName(name string) error {
	switch {
	case name == "":
		return badName(name, "empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes long, more than %d", ErrBadName, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return badName(name, fmt.Sprintf("byte %#02x is not allowed", name[i]))
		}
	}
	elems := strings.Split(name, "/")
	if len(elems) > MaxNameDepth {
		return badName(name, "too deep")
	}
	for _, e := range elems {
		switch {
		case e == "":
			return badName(name, "empty path element (absolute, or a doubled or trailing slash)")
		case e[0] == '.':
			return badName(name, "a path element starts with a dot")
		}
	}
	return nil
}

func nameByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("._-+,=@~/", c) >= 0
}

func badName(name, why string) error {
	return fmt.Errorf("%w: %q: %s", ErrBadName, name, why)
}

// notFound returns an error wrapping ErrNotFound that names what is missing
// in the client's terms (never a path on the server's disk).
func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}
