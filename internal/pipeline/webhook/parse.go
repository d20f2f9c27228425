package webhook

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
)

// zero is the "before" of a created ref and the "after" of a deleted one.
const zero = "0000000000000000000000000000000000000000"

func parse(forge Forge, kind string, payload []byte) (*Event, error) {
	switch forge {
	case GitHub:
		return parseGitHub(kind, payload)
	case Gitea:
		return parseGitea(kind, payload)
	default:
		return parseGitLab(kind, payload)
	}
}

func decode(payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: payload: %w", ErrBadRequest, err)
	}
	return nil
}

// commit is a pushed commit as GitHub, Gitea and GitLab all describe it.
type commit struct {
	ID       string   `json:"id"`
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

// changedPaths merges the commits' file lists, or returns nil when they
// do not tell the whole change.
func changedPaths(commits []commit, complete bool) []string {
	if !complete {
		return nil
	}
	paths := []string{}
	for _, c := range commits {
		paths = append(paths, c.Added...)
		paths = append(paths, c.Removed...)
		paths = append(paths, c.Modified...)
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// pushEvent fills the ref fields of a push or tag event.
func pushEvent(ref, before, after string) (*Event, error) {
	if after == "" || after == zero {
		return nil, fmt.Errorf("%w: %s was deleted", ErrIgnored, ref)
	}
	if !isSHA(after) || (before != "" && !isSHA(before)) {
		return nil, fmt.Errorf("%w: payload: commit IDs are not 40-digit hex", ErrBadRequest)
	}
	ev := &Event{Ref: ref, Commit: after, Before: before}
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		ev.Kind, ev.Branch = pipeline.EventPush, strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		ev.Kind, ev.Tag = pipeline.EventTag, strings.TrimPrefix(ref, "refs/tags/")
	default:
		return nil, fmt.Errorf("%w: push to %q, neither a branch nor a tag", ErrIgnored, ref)
	}
	if ev.Before == zero {
		ev.Before = ""
	}
	return ev, nil
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// pullEvent fills the fields of a pull request event.
func pullEvent(number int, action, target, head, headBranch, headRepo, repo, base string, prRef string) (*Event, error) {
	if !isSHA(head) || number <= 0 || target == "" {
		return nil, fmt.Errorf("%w: payload: pull request without number, target branch or head commit", ErrBadRequest)
	}
	if base != "" && !isSHA(base) {
		base = ""
	}
	return &Event{
		Kind: pipeline.EventPullRequest, Ref: prRef, Branch: target, Commit: head, Before: base,
		PullRequest: &PullRequest{Number: number, Action: action, HeadBranch: headBranch, HeadRepo: headRepo, FromFork: headRepo != repo},
	}, nil
}
