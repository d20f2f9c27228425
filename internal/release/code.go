package release

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/spec"
)

// CodeComparer tells whether two source archives hold the same code, the
// spec file apart: berth.yaml travels in the archive of its folder, so a
// change of its pipeline section alone gives another digest.
type CodeComparer interface {
	SameCode(ctx context.Context, a, b string) (bool, error)
}

// BlobCode compares archives kept in a blob store.
type BlobCode struct{ Blobs blob.Store }

// SameCode reads both archives (only called once the specs differ in
// pipeline runs' sections alone) and compares them entry by entry.
func (c BlobCode) SameCode(ctx context.Context, a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	if a == "" || b == "" || c.Blobs == nil {
		return false, nil
	}
	ra, _, err := c.Blobs.Open(ctx, a)
	if err != nil {
		return false, fmt.Errorf("source archive %s: %w", a, err)
	}
	defer ra.Close()
	rb, _, err := c.Blobs.Open(ctx, b)
	if err != nil {
		return false, fmt.Errorf("source archive %s: %w", b, err)
	}
	defer rb.Close()
	return source.SameExcept(ra, rb, spec.FileNames...)
}
