package boot

import "errors"

// Sentinel errors. Callers test them with errors.Is; the web layer maps each
// one to an HTTP status code in one place.
var (
	// ErrUnknown reports that no node is enrolled (or discovered) for a MAC address.
	ErrUnknown = errors.New("unknown machine")
	// ErrExists reports that a node is already enrolled for a MAC address.
	ErrExists = errors.New("machine already enrolled")
	// ErrUnknownImage reports that an image name is not in the catalog.
	ErrUnknownImage = errors.New("unknown image")
	// ErrInvalid reports input that fails validation; the wrapping error says which.
	ErrInvalid = errors.New("invalid input")
	// ErrNoVolumes reports that an operation needs a volume backend and bootd runs without one.
	ErrNoVolumes = errors.New("no volume backend configured")
)

// invalid returns an error wrapping ErrInvalid with a message naming the problem.
func invalid(format string, args ...any) error {
	return &validationError{msg: sprintf(format, args...)}
}

type validationError struct{ msg string }

func (e *validationError) Error() string { return e.msg }
func (e *validationError) Unwrap() error { return ErrInvalid }
