package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/berthdev/berth/pkg/api"
)

// ErrorInfo is the server's error body. It is embedded in APIError under
// this name because a field named Error would clash with the Error method;
// its fields (Code, Message, Details, RequestID) are promoted.
type ErrorInfo = api.Error

// APIError is a failure the server answered with.
type APIError struct {
	Status int
	ErrorInfo
}

// Error is the message, then each detail on its own line as
// "  field: message".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if b.Len() == 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	for _, d := range e.Details {
		b.WriteString("\n  ")
		if d.Field != "" {
			b.WriteString(d.Field)
			b.WriteString(": ")
		}
		b.WriteString(d.Message)
		if d.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", d.Line)
		}
	}
	return b.String()
}

// maxErrorBody bounds how much of a failed answer is read.
const maxErrorBody = 1 << 20

// readAPIError turns a non-2xx answer into an *APIError, also when it is not
// Berth's error shape (a proxy's HTML page, say).
func readAPIError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body api.ErrorBody
	if err := json.Unmarshal(raw, &body); err == nil && body.Error.Code != "" {
		return &APIError{Status: resp.StatusCode, ErrorInfo: body.Error}
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	text := fmt.Sprintf("HTTP %s", resp.Status)
	if msg != "" {
		text += ": " + msg
	}
	return &APIError{Status: resp.StatusCode, ErrorInfo: api.Error{
		Code:      codeForStatus(resp.StatusCode),
		Message:   text,
		RequestID: resp.Header.Get("X-Request-ID"),
	}}
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return api.CodeBadRequest
	case http.StatusUnauthorized:
		return api.CodeUnauthorized
	case http.StatusNotFound:
		return api.CodeNotFound
	case http.StatusConflict:
		return api.CodeConflict
	case http.StatusRequestEntityTooLarge:
		return api.CodeTooLarge
	case http.StatusUnprocessableEntity:
		return api.CodeInvalid
	case http.StatusMethodNotAllowed:
		return api.CodeMethodNotAllowed
	case http.StatusServiceUnavailable:
		return api.CodeUnavailable
	default:
		return api.CodeInternal
	}
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// IsNotFound reports whether the server answered 404 (unknown app or release).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsUnauthorized reports whether the server rejected the token (401).
func IsUnauthorized(err error) bool { return statusOf(err) == http.StatusUnauthorized }

// IsInvalid reports whether the server rejected the input: a spec or
// parameter that fails validation (422) or a malformed request (400).
func IsInvalid(err error) bool {
	s := statusOf(err)
	return s == http.StatusUnprocessableEntity || s == http.StatusBadRequest
}

// IsConflict reports whether the server answered 409 (e.g. a name taken).
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }
