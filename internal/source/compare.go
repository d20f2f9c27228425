package source

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
)

// SameExcept reports whether two archives as Pack writes them hold the
// same entries (names, types, modes, link targets, contents), apart from
// the top-level files named in skip. berth.yaml travels in the archive of
// the folder it describes, so two archives of the same code with a
// different berth.yaml never have the same digest; the server asks this
// to tell that apart from a change of code. Archives whose entries come
// in another order compare unequal, which only ever costs a rollout.
func SameExcept(a, b io.Reader, skip ...string) (bool, error) {
	ea, err := newEntries(a, skip)
	if err != nil {
		return false, err
	}
	eb, err := newEntries(b, skip)
	if err != nil {
		return false, err
	}
	for {
		x, errA := ea.next()
		y, errB := eb.next()
		endA, endB := errors.Is(errA, io.EOF), errors.Is(errB, io.EOF)
		switch {
		case errA != nil && !endA:
			return false, errA
		case errB != nil && !endB:
			return false, errB
		case endA && endB:
			return true, nil
		case endA || endB:
			return false, nil
		case x != y:
			return false, nil
		}
	}
}

// archEntry is what SameExcept compares of one archive entry; the content by
// its hash, so a large file is never held in memory.
type archEntry struct {
	name, link string
	typ        byte
	mode       int64
	size       int64
	sum        [sha256.Size]byte
}

type archEntries struct {
	tr   *tar.Reader
	skip []string
}

func newEntries(r io.Reader, skip []string) (*archEntries, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("source: read archive: %w", err)
	}
	return &archEntries{tr: tar.NewReader(gz), skip: skip}, nil
}

// next is the next entry not skipped; io.EOF at the end.
func (e *archEntries) next() (archEntry, error) {
	for {
		hdr, err := e.tr.Next()
		if errors.Is(err, io.EOF) {
			return archEntry{}, io.EOF
		}
		if err != nil {
			return archEntry{}, fmt.Errorf("source: read archive: %w", err)
		}
		if slices.Contains(e.skip, hdr.Name) {
			continue
		}
		out := archEntry{name: hdr.Name, link: hdr.Linkname, typ: hdr.Typeflag, mode: hdr.Mode, size: hdr.Size}
		h := sha256.New()
		if _, err := io.Copy(h, e.tr); err != nil {
			return archEntry{}, fmt.Errorf("source: read archive: %s: %w", hdr.Name, err)
		}
		copy(out.sum[:], h.Sum(nil))
		return out, nil
	}
}
