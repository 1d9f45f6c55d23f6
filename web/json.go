package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

// writeJSON answers with v as JSON and the status code.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// The status is sent; all that is left is to say why the body is short.
		s.log.Debug("writing response failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// readJSON decodes the request body, one JSON object of at most maxBody
// bytes with no unknown fields, into v. Its errors are requestErrors whose
// messages say what is wrong with the body.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return badRequest("bad JSON body: want one JSON object and nothing after it")
	}
	return nil
}

// bodyError turns a decoding error into a message for the client.
func bodyError(err error) error {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("empty request body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("bad JSON body: it ends too early")
	case errors.As(err, &tooLarge):
		return badRequest("request body is larger than %d KiB", maxBody>>10)
	case errors.As(err, &syntax):
		return badRequest("bad JSON body at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ) && typ.Field != "":
		return badRequest("bad JSON body: field %q must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind()), typ.Value)
	case errors.As(err, &typ):
		return badRequest("bad JSON body: want a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for DisallowUnknownFields.
		return badRequest("bad JSON body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return badRequest("bad JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

// jsonKind names the JSON type that decodes into a Go kind.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "number"
	}
}
