package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/berthdev/berth/pkg/api"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		// Only unencodable values (a bug) get here; answer something valid.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"cannot encode the response"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write means the caller left
}

// decodeJSON reads one JSON object from the body into v, rejecting bodies
// over the limit, unknown fields and trailing data, with a message that
// says what is wrong and where.
func (s *server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return s.jsonError(err)
	}
	// One value only: "{}{}" or "{} x" is as malformed as "{".
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return s.jsonError(err)
		}
		return badRequest("malformed JSON body: unexpected data after the object at byte %d", dec.InputOffset())
	}
	return nil
}

func (s *server) jsonError(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return tooLarge(maxErr.Limit)
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty; expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON body: it ends before the object is complete")
	case errors.As(err, &syntaxErr):
		return badRequest("malformed JSON body at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return badRequest("malformed JSON body: expected a JSON object, got %s", typeErr.Value)
		}
		msg := fmt.Sprintf("expected %s, got %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		return badRequest("malformed JSON body: field %q: %s", field, msg).
			withDetails(api.FieldError{Field: field, Message: msg})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this; the text is stable.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if protectedFields[field] {
			// Fields that decide who owns or may do what are refused
			// loudly where a call does not take them (accepting an
			// invitation cannot pick its team or role).
			return invalidField(field, "may not be set in this call: it is decided by the server, not the caller")
		}
		return badRequest("unknown field %q in the JSON body", field).
			withDetails(api.FieldError{Field: field, Message: "unknown field"})
	default:
		return badRequest("malformed JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

// protectedFields are the ownership and privilege fields: sent to a call
// that does not take them, they answer 422 naming the field instead of the
// 400 of any unknown field.
var protectedFields = map[string]bool{
	"team": true, "team_id": true, "owner": true, "role": true, "user": true, "user_id": true,
	"platform_admin": true, "created_by": true, "accepted_by": true, "scope": true, "kind": true,
}

// jsonKind names a Go kind the way a JSON author would.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return kind
	}
}
