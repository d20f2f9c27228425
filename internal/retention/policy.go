package retention

import (
	"cmp"
	"slices"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// Defaults of Policy. Thirty days covers a release cycle and the time to
// notice a bad build; the newest five successful runs of each pipeline
// stay whatever their age, so a pipeline that runs rarely never loses
// its last good build to the clock, and five covers a few rollbacks.
const (
	DefaultArtifactTTL = 30 * 24 * time.Hour
	DefaultKeepLast    = 5
)

// Policy says which runs keep their artifacts.
type Policy struct {
	// TTL is how long after a run ended its artifacts are kept; 0 keeps
	// them forever (nothing expires).
	TTL time.Duration
	// KeepLast runs that succeeded and keep artifacts, the newest of
	// each app's pipeline, keep them however old. A successful run that
	// kept none takes no place: a pipeline whose pushes succeed without
	// artifacts still keeps the last builds that made some.
	KeepLast int
}

// expiring returns the runs whose kept artifacts expire at now: runs
// that ended more than TTL ago, are not among the newest KeepLast
// successful runs of their app that keep an archive, and still keep one.
func (p Policy) expiring(runs []store.Run, now time.Time) []store.Run {
	if p.TTL <= 0 {
		return nil
	}
	protected := map[string]bool{}
	byApp := map[string][]store.Run{}
	for _, r := range runs {
		if r.State == store.RunSucceeded && keepsArtifacts(r) {
			byApp[r.App] = append(byApp[r.App], r)
		}
	}
	for _, list := range byApp {
		slices.SortFunc(list, func(a, b store.Run) int { return cmp.Compare(b.Number, a.Number) })
		for _, r := range list[:min(p.KeepLast, len(list))] {
			protected[r.ID] = true
		}
	}
	var out []store.Run
	for _, r := range runs {
		if !store.RunTerminal(r.State) || r.FinishedAt.IsZero() || protected[r.ID] || !keepsArtifacts(r) {
			continue
		}
		if now.Sub(r.FinishedAt) > p.TTL {
			out = append(out, r)
		}
	}
	return out
}

func keepsArtifacts(r store.Run) bool {
	return slices.ContainsFunc(r.Steps, func(s store.RunStep) bool { return s.Artifacts.Kept() })
}
