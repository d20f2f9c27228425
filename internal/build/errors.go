package build

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnsafeArchive means the source archive holds an entry that could
	// write outside the workspace (absolute path, "..", a symlink leading
	// out, a device file) or exceeds the size or file-count caps.
	ErrUnsafeArchive = errors.New("build: unsafe source archive")
	// ErrSourceNotFound means the source digest is not in the blob store.
	ErrSourceNotFound = errors.New("build: source archive not found")
	// ErrInvalidRequest means a Request field is malformed; the error text
	// names the field.
	ErrInvalidRequest = errors.New("build: invalid request")
)

// BuildError is a build command that ran and failed. It is a property of the
// release's source, not of the machine: retrying gives the same answer.
type BuildError struct {
	ExitCode int
	// LogTail is the last lines the command printed.
	LogTail []string
}

func (e *BuildError) Error() string {
	msg := fmt.Sprintf("build command exited with code %d", e.ExitCode)
	if n := len(e.LogTail); n > 0 {
		msg += ": " + strings.TrimSpace(e.LogTail[n-1])
	}
	return msg
}
