// Package tarcheck holds the checks every reader of an untrusted tar
// archive (a source upload being built or compared, a step's artifacts)
// makes on an entry's header before it reads or writes anything: a name
// that cannot leave the folder the archive is unpacked in, and sizes that
// stay under a cap. Callers wrap its errors in their own sentinel.
package tarcheck

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Name returns an entry's name as a clean relative slash path ("." for
// the top folder itself), or an error saying why it could leave the
// folder: empty, absolute, a backslash or NUL in it, or a ".." component
// anywhere (even one that cleaning would cancel out).
func Name(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("an entry with an empty name")
	case strings.HasPrefix(name, "/"):
		return "", fmt.Errorf("%q: absolute path", name)
	case strings.ContainsAny(name, "\\\x00"):
		return "", fmt.Errorf("%q: a backslash or NUL in the name", name)
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%q: contains \"..\"", name)
		}
	}
	return path.Clean(name), nil
}

// Budget adds up the sizes of an archive's entries against Max bytes.
type Budget struct {
	Max  int64
	used int64
}

// Take counts an entry of size bytes. It refuses a negative size and one
// that would pass Max, on the header, so a bomb costs nothing past the
// cap.
func (b *Budget) Take(size int64) error {
	if size < 0 || size > b.Max-b.used {
		return fmt.Errorf("unpacks to more than %d bytes", b.Max)
	}
	b.used += size
	return nil
}
