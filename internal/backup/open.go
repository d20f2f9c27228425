package backup

import (
	"io"
	"os"
)

// OpenFile returns the opener Restore reads a backup file with.
func OpenFile(path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}
