package local

import (
	"fmt"
	"path/filepath"

	"github.com/berthdev/berth/internal/runtime"
)

// A release that changes only what pipeline runs read (berth.yaml's
// pipeline or source section) takes over the running instances of the
// release before it: the reconciler applies the same workload ID, equal in
// everything but its Release (and InstancesOf, naming the release that
// started the instances). Nothing an instance runs differs, so the
// instance is kept as it is: its instance.json records the new hash, and
// neither the process nor its shim hears of it (not even a reload signal).

// keepHash is workloadHash without the release numbers.
func keepHash(w runtime.Workload) string {
	w.Release, w.InstancesOf = 0, 0
	return workloadHash(w)
}

// keepable reports whether an instance made from is runs exactly what w
// asks, apart from the release numbers. prev is the workload recorded
// before this Apply (nil if none): an instance made by a version of Berth
// that did not record KeepHash is kept when it was made from prev and
// prev differs from w only in those numbers.
func keepable(w runtime.Workload, is instanceSpec, prev *runtime.Workload) bool {
	if is.KeepHash != "" {
		return is.KeepHash == keepHash(w)
	}
	return prev != nil && is.SpecHash == workloadHash(*prev) && keepHash(*prev) == keepHash(w)
}

// keepInstance records w's hash in the instance's instance.json; the shim
// reads the file only when it starts or reloads, and neither changes with
// the release numbers.
func keepInstance(dir string, w runtime.Workload, is instanceSpec, hash string) error {
	is.SpecHash, is.KeepHash = hash, keepHash(w)
	if err := writeJSONAtomic(filepath.Join(dir, fileInstance), is); err != nil {
		return fmt.Errorf("keep instance %s for release %d: %w", is.ID, w.Release, err)
	}
	return nil
}
