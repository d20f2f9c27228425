package release

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
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

// Targets reads an app and its releases; a store.Store outside any
// transaction does.
type Targets interface {
	GetApp(ctx context.Context, name string) (store.App, error)
	GetRelease(ctx context.Context, app string, number int) (store.Release, error)
}

// Precompared makes, before the caller's write transaction, the one
// comparison an apply of canonical and source to app is about to ask code
// for, and returns a comparer that answers it from memory: reading two
// archives of up to 64 MiB each takes about a second, which a write
// transaction (SQLite's one write lock) should not wait for. Any other
// pair (the target moved meanwhile) goes to code, inside the transaction.
// Nothing here is authorization: the answer is only used by Apply, after
// the caller's checks.
func Precompared(ctx context.Context, st Targets, code CodeComparer, app string, canonical []byte, source string) CodeComparer {
	if code == nil {
		return nil
	}
	a, err := st.GetApp(ctx, app)
	if err != nil || a.TargetRelease == 0 {
		return code
	}
	target, err := st.GetRelease(ctx, app, a.TargetRelease)
	if err != nil || target.Source == source || !runOnlyChange(a, target, canonical) {
		return code
	}
	same, err := code.SameCode(ctx, target.Source, source)
	if ctx.Err() != nil {
		return code
	}
	// A failed comparison is remembered too: an archive too large to
	// compare (source.ErrCompareTooLarge) or unreadable would only fail
	// again, after as long a read, inside the transaction.
	return knownCode{next: code, a: target.Source, b: source, same: same, err: err}
}

// knownCode answers one comparison made already.
type knownCode struct {
	next CodeComparer
	a, b string
	same bool
	err  error
}

func (k knownCode) SameCode(ctx context.Context, a, b string) (bool, error) {
	if a == k.a && b == k.b {
		return k.same, k.err
	}
	return k.next.SameCode(ctx, a, b)
}
