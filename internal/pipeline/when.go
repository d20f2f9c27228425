package pipeline

import (
	"fmt"
	"slices"
	"strings"
)

// Trigger is what started a run, as far as `when` is concerned.
type Trigger struct {
	Event Event
	// Branch is the pushed branch; for a pull request, the branch it targets.
	Branch string
	Tag    string
	// ChangedPaths are the paths the run's commits changed, relative to the
	// repository root. nil means unknown (a manual or scheduled run, a new
	// branch, a truncated webhook), and path conditions then match: running
	// a step needlessly is better than skipping one that was needed.
	ChangedPaths []string
}

// Match reports whether the step applies to t, and when it does not, why,
// in words for the run's log.
func (w *When) Match(t Trigger) (bool, string) {
	if w == nil {
		return true, ""
	}
	if len(w.Events) > 0 && !slices.Contains(w.Events, t.Event) {
		return false, fmt.Sprintf("event %s is not in when.events %s", t.Event, list(eventStringsOf(w.Events)))
	}
	if ok, why := w.matchRef(t); !ok {
		return false, why
	}
	if len(w.Paths) > 0 && t.ChangedPaths != nil && !MatchPaths(w.Paths, t.ChangedPaths) {
		return false, fmt.Sprintf("no changed path matches when.paths %s", list(w.Paths))
	}
	return true, ""
}

// matchRef applies branches and tags: with both set, a ref matching either
// list passes; with one set, only refs of that kind can pass.
func (w *When) matchRef(t Trigger) (bool, string) {
	if len(w.Branches) == 0 && len(w.Tags) == 0 {
		return true, ""
	}
	if t.Branch != "" && anyGlob(w.Branches, t.Branch) {
		return true, ""
	}
	if t.Tag != "" && anyGlob(w.Tags, t.Tag) {
		return true, ""
	}
	switch {
	case t.Tag != "" && len(w.Tags) > 0:
		return false, fmt.Sprintf("tag %s matches none of when.tags %s", t.Tag, list(w.Tags))
	case t.Tag != "":
		return false, fmt.Sprintf("tag %s: the step runs only for branches %s", t.Tag, list(w.Branches))
	case t.Branch != "" && len(w.Branches) > 0:
		return false, fmt.Sprintf("branch %s matches none of when.branches %s", t.Branch, list(w.Branches))
	case t.Branch != "":
		return false, fmt.Sprintf("branch %s: the step runs only for tags %s", t.Branch, list(w.Tags))
	default:
		return false, "the run has no branch or tag, and when names some"
	}
}

// MatchPaths reports whether any of changed is included by patterns: it
// matches a pattern and no later "!" pattern excludes it again (later
// patterns win, as in .gitignore).
func MatchPaths(patterns, changed []string) bool {
	for _, c := range changed {
		in := false
		for _, p := range patterns {
			if neg, ok := strings.CutPrefix(p, "!"); ok {
				if in && MatchGlob(neg, c) {
					in = false
				}
			} else if !in && MatchGlob(p, c) {
				in = true
			}
		}
		if in {
			return true
		}
	}
	return false
}

func anyGlob(patterns []string, name string) bool {
	for _, p := range patterns {
		if MatchGlob(p, name) {
			return true
		}
	}
	return false
}

func list(items []string) string { return "[" + strings.Join(items, " ") + "]" }

func eventStringsOf(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e)
	}
	return out
}
