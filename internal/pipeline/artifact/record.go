package artifact

import (
	"slices"

	"github.com/berthdev/berth/internal/store"
)

// Record is what a run's step keeps of an archive: its files listed up
// to store.MaxListedArtifacts, counted in full. The runner (an archive it
// packed) and the upload route (one a pod sent) both record with it.
func Record(p Packed) *store.StepArtifacts {
	files := p.Files
	if len(files) > store.MaxListedArtifacts {
		files = files[:store.MaxListedArtifacts]
	}
	return &store.StepArtifacts{Digest: p.Digest, Size: p.Size, Count: len(p.Files), Files: slices.Clone(files), Bytes: p.Bytes}
}
