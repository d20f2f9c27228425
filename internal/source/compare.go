package source

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/berthdev/berth/internal/tarcheck"
)

// Caps on what SameExcept reads of each archive. An archive within the
// upload cap (MaxArchiveSize, compressed) may still unpack to gigabytes,
// as zeros compress a thousandfold, and the server compares while an
// apply or a rollback waits (a rollback in its write transaction). The
// comparison only spares a rollout, so past a cap it gives up with
// ErrCompareTooLarge, which callers take as "not the same code".
const (
	MaxCompareBytes   = 256 << 20 // per archive, unpacked
	MaxCompareEntries = 200_000   // per archive, as build's extraction allows
)

// ErrCompareTooLarge is SameExcept giving up on an archive past
// MaxCompareBytes or MaxCompareEntries.
var ErrCompareTooLarge = errors.New("source: archive too large to compare")

// compareLimits are the caps one comparison applies to each archive.
type compareLimits struct {
	bytes   int64
	entries int
}

// SameExcept reports whether two archives as Pack writes them hold the
// same entries (names, types, modes, link targets, contents), apart from
// the top-level files named in skip. berth.yaml travels in the archive of
// the folder it describes, so two archives of the same code with a
// different berth.yaml never have the same digest; the server asks this
// to tell that apart from a change of code. Archives whose entries come
// in another order compare unequal, which only ever costs a rollout.
// Reading an archive past MaxCompareBytes or MaxCompareEntries is
// ErrCompareTooLarge.
func SameExcept(a, b io.Reader, skip ...string) (bool, error) {
	return sameExcept(a, b, compareLimits{MaxCompareBytes, MaxCompareEntries}, skip)
}

func sameExcept(a, b io.Reader, lim compareLimits, skip []string) (bool, error) {
	ea, err := newEntries(a, lim, skip)
	if err != nil {
		return false, err
	}
	eb, err := newEntries(b, lim, skip)
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
	lim  compareLimits
	// bytes and entries count what was read so far, skipped entries too.
	bytes   tarcheck.Budget
	entries int
}

func newEntries(r io.Reader, lim compareLimits, skip []string) (*archEntries, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("source: read archive: %w", err)
	}
	return &archEntries{tr: tar.NewReader(gz), skip: skip, lim: lim, bytes: tarcheck.Budget{Max: lim.bytes}}, nil
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
		// Checked on the header, before the content is read: a bomb costs
		// nothing past the cap.
		e.entries++
		if e.entries > e.lim.entries {
			return archEntry{}, fmt.Errorf("%w: more than %d entries", ErrCompareTooLarge, e.lim.entries)
		}
		if err := e.bytes.Take(hdr.Size); err != nil {
			return archEntry{}, fmt.Errorf("%w: %w", ErrCompareTooLarge, err)
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
