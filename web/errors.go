package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/bootfs"
)

// Errors of the HTTP layer itself. status maps them with the domain's.
var (
	errNoRoute    = errors.New("no such route")
	errMethod     = errors.New("method not allowed on this route")
	errToken      = errors.New("missing or wrong API token")
	errBadRequest = errors.New("bad request")
	errForbidden  = errors.New("forbidden") // a dashboard form without its CSRF token
	errThrottled  = errors.New("too many failed attempts from this address or for this user: wait a minute")
)

// internalMessage is all a client learns of a 500.
const internalMessage = "internal server error; the server log has the details"

// requestError is a request the API cannot read: bad JSON, a missing field,
// a body too large. It wraps errBadRequest.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return errBadRequest }

// badRequest returns a requestError with a message for the client.
func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// missingError marks an error as naming a resource that does not exist
// (404), whatever it wraps: an unknown image is bad input when a node is
// enrolled with it, but a missing resource at GET /api/v1/images/{name}.
type missingError struct{ error }

func (e missingError) Unwrap() error { return e.error }

// namingImage makes sure an error about an unknown image names the image,
// whatever the catalog's message says.
func namingImage(name string, err error) error {
	if errors.Is(err, boot.ErrUnknownImage) && !strings.Contains(err.Error(), name) {
		return fmt.Errorf("%w %q", err, name)
	}
	return err
}

// status maps an error to an HTTP status code and the message the client
// sees. It is the one place where domain errors become statuses. Errors it
// does not know are 500s with a generic message: their text may name server
// files or internals, so it goes to the log only.
func status(err error) (int, string) {
	var missing missingError
	switch {
	case errors.As(err, &missing), errors.Is(err, errNoRoute), errors.Is(err, boot.ErrUnknown),
		errors.Is(err, boot.ErrNotFound), errors.Is(err, access.ErrUnknownUser), errors.Is(err, access.ErrUnknownToken),
		errors.Is(err, bootfs.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, errBadRequest), errors.Is(err, boot.ErrInvalid), errors.Is(err, boot.ErrUnknownImage),
		errors.Is(err, bootfs.ErrBadName), errors.Is(err, access.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, boot.ErrExists), errors.Is(err, boot.ErrNoVolumes), errors.Is(err, boot.ErrBusy),
		errors.Is(err, boot.ErrFenced), errors.Is(err, boot.ErrUnprotected), errors.Is(err, boot.ErrNoPower),
		errors.Is(err, boot.ErrPowerUnsupported),
		errors.Is(err, access.ErrExists), errors.Is(err, access.ErrLastAdmin):
		return http.StatusConflict, err.Error()
	case errors.Is(err, boot.ErrPower):
		// The BMC's or hook's failure, in words that name no secret.
		return http.StatusBadGateway, err.Error()
	case errors.Is(err, boot.ErrDenied):
		// Ceph refused bootd's own user: the operation and Ceph's errno,
		// which the operator needs to put its caps right.
		return http.StatusBadGateway, err.Error()
	case errors.Is(err, errToken):
		return http.StatusUnauthorized, err.Error()
	case errors.Is(err, errThrottled):
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, err.Error()
	default:
		return http.StatusInternalServerError, internalMessage
	}
}

// errorBody is the body of every failed request.
type errorBody struct {
	Error string `json:"error"`
}

// fail answers a request with err's status and message, and logs the cause
// of a 500 (at Debug when the client went away, at Error otherwise).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := status(err)
	switch {
	case code == http.StatusUnauthorized:
		// RFC 6750 section 3: a 401 names the scheme the client must use.
		w.Header().Set("WWW-Authenticate", "Bearer")
	case code == http.StatusInternalServerError && errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		s.log.Debug("request abandoned by client", "method", r.Method, "path", r.URL.Path, "err", err)
	case code == http.StatusInternalServerError, errors.Is(err, boot.ErrDenied):
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.writeJSON(w, r, code, errorBody{Error: msg})
}
