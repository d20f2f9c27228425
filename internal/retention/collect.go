package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/store"
)

// DefaultGrace is how old an unreferenced blob must be before it is
// deleted. Writers put a blob first and record what refers to it after
// (an upload, then the apply that names it; a step's archive, then the
// step's end): for that moment the blob is referred to by nothing. An
// hour is far longer than any writer takes between the two.
const DefaultGrace = time.Hour

// Collected is what one pass of CollectBlobs found and deleted.
type Collected struct {
	// Stored and StoredBytes count the blobs found, before deleting.
	Stored      int
	StoredBytes int64
	// Deleted and DeletedBytes count the blobs deleted.
	Deleted      int
	DeletedBytes int64
}

// CollectBlobs deletes the blobs that nothing refers to (references) and
// that were put or touched at least grace ago.
//
// Why a blob a writer is about to refer to survives: a writer puts (or
// touches, blob.Store.Touch) the blob at Tp and commits its reference at
// Tr, within grace of Tp. The pass notes start, then reads every
// reference, then asks the store to delete each unreferenced candidate
// only if it is at least grace + (time since start) old — one step, in
// the store, against Touch. A deletion therefore means the blob's last
// put or touch was at or before start - grace, so its writer's reference
// was committed before start: the reading that began after start saw it,
// and the blob was no candidate. A touch that comes after the deletion
// finds nothing (Put then stores the content afresh; apply says to upload
// it). The only writer this does not cover takes longer than grace
// between put and reference.
func CollectBlobs(ctx context.Context, blobs blob.Store, st store.Store, grace time.Duration, log *slog.Logger) (Collected, error) {
	var out Collected
	list, err := blobs.List(ctx)
	if err != nil {
		return out, fmt.Errorf("retention: list blobs: %w", err)
	}
	var candidates []blob.Info
	for _, i := range list {
		out.Stored++
		out.StoredBytes += i.Size
		if i.Age >= grace {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return out, nil
	}
	start := time.Now()
	refs, err := Referenced(ctx, st)
	if err != nil {
		return out, err
	}
	var errs []error
	for _, c := range candidates {
		if refs[c.Digest] {
			continue
		}
		gone, err := blobs.Delete(ctx, c.Digest, grace+time.Since(start))
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: delete blob %s: %w", c.Digest, err))
			continue
		}
		if gone {
			out.Deleted++
			out.DeletedBytes += c.Size
			log.InfoContext(ctx, "unreferenced blob deleted", "digest", c.Digest, "bytes", c.Size, "age", c.Age.Round(time.Second))
		}
	}
	return out, errors.Join(errs...)
}
