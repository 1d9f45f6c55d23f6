package images

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/bootd/bootd/boot"
)

// definition is an image file as written, before checking.
type definition struct {
	Name       string   `yaml:"name"`
	Flavour    string   `yaml:"flavour"`
	Arch       string   `yaml:"arch"`
	Kernel     string   `yaml:"kernel"`
	Initrds    []string `yaml:"initrds"`
	Cmdline    string   `yaml:"cmdline"`
	Modloop    string   `yaml:"modloop"`
	Repository string   `yaml:"repository"`
	Firmware   string   `yaml:"firmware"`
	Modules    string   `yaml:"modules"`
	Golden     golden   `yaml:"golden"`
	Size       string   `yaml:"size"`
	// SecureBoot is the secure_boot: section (shim and GRUB, signed).
	SecureBoot *secureBoot `yaml:"secure_boot"`
}

// secureBoot is the secure_boot: section of an image file.
type secureBoot struct {
	Shim string `yaml:"shim"`
	Grub string `yaml:"grub"`
}

// golden is the golden: section of an image file.
type golden struct {
	Pool      string `yaml:"pool"`
	Namespace string `yaml:"namespace"`
	Image     string `yaml:"image"`
	Snapshot  string `yaml:"snapshot"`
}

// parse reads and checks one image file. file names it in messages; base is
// the folder its relative paths resolve against. It returns the image, or
// nil and at least one error.
func parse(data []byte, file, base string) (*boot.Image, []error) {
	var def definition
	errs, ok := decode(data, file, &def)
	if !ok {
		return nil, errs
	}
	img, cerrs := check(&def, file, base)
	if errs = append(errs, cerrs...); len(errs) > 0 {
		return nil, errs
	}
	return img, nil
}

// decode reads the single YAML document of data into def, refusing keys
// that definition does not have. ok reports whether def is worth checking:
// after an unknown key or a value of the wrong type, the decoder still
// fills in the other fields, and checking them finds the other problems.
func decode(data []byte, file string, def *definition) (errs []error, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(def)
	if errors.Is(err, io.EOF) {
		return []error{problem(file, "", "empty file: want one image definition")}, false
	}
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		return []error{problem(file, "", "%v", err)}, false
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return []error{problem(file, "", "more than one YAML document: want one image per file")}, false
	}
	if te != nil {
		return typeErrors(file, te), true
	}
	return nil, true
}

// unknownField matches the message yaml gives for a key not in definition.
var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// typeErrors turns a YAML type error into one error per problem, each
// naming file.
func typeErrors(file string, te *yaml.TypeError) []error {
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		msg = unknownField.ReplaceAllString(msg, `unknown key "$1"`)
		errs = append(errs, problem(file, "", "%s", msg))
	}
	return errs
}

// An invalidError is one problem in an image file. It wraps boot.ErrInvalid,
// and the error that caused it if any.
type invalidError struct {
	file  string
	field string // "" for the whole file
	msg   string
	err   error
}

// problem returns an invalidError for field of file. A %w verb in format
// makes the error also wrap its argument.
func problem(file, field, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	e := &invalidError{file: file, field: field, msg: err.Error()}
	if errors.Unwrap(err) != nil {
		e.err = err
	}
	return e
}

func (e *invalidError) Error() string {
	if e.field == "" {
		return e.file + ": " + e.msg
	}
	return e.file + ": " + e.field + ": " + e.msg
}

func (e *invalidError) Unwrap() []error {
	if e.err == nil {
		return []error{boot.ErrInvalid}
	}
	return []error{boot.ErrInvalid, e.err}
}
