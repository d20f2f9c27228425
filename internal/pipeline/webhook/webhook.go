// Package webhook receives pushes, tags and pull requests from GitHub,
// Gitea and GitLab. A request is checked in this order, and nothing of its
// body is parsed before its signature holds:
//
//  1. method and size (413 over the limit),
//  2. signature or token (401),
//  3. delivery ID, never seen before (409 for a replay),
//  4. then the payload is parsed into one Event (400 if malformed; 202
//     with nothing to do for events that start no run).
package webhook

import (
	"github.com/berthdev/berth/internal/pipeline"
)

// Forge is the kind of Git server that sent a webhook.
type Forge string

const (
	GitHub Forge = "github"
	Gitea  Forge = "gitea"
	GitLab Forge = "gitlab"
)

// Event is a webhook that may start a run, the same for every forge.
type Event struct {
	Forge      Forge
	DeliveryID string
	// Kind is push, tag or pull_request.
	Kind pipeline.Event
	// Repo is the repository's full name ("team/app"); CloneURL is its
	// HTTPS clone URL. For a pull request both are the target repository,
	// which serves the request's commits under Ref even from a fork.
	Repo     string
	CloneURL string
	// Ref is the ref to fetch: refs/heads/x, refs/tags/x, or the forge's
	// ref for the pull request's head (refs/pull/7/head on GitHub and
	// Gitea, refs/merge-requests/7/head on GitLab).
	Ref string
	// Branch is the pushed branch, or the branch a pull request targets.
	Branch string
	Tag    string
	// Commit is the commit to build; Before the one it replaces (for a
	// pull request, the target branch's tip when the forge says it).
	Commit string
	Before string
	// ChangedPaths lists the paths the pushed commits touched, when the
	// payload tells them all; nil when it cannot (new branch, force push,
	// truncated commit list, pull request): compute them from Git then.
	ChangedPaths []string
	PullRequest  *PullRequest
	// Sender is the forge user who caused the event.
	Sender string
}

// PullRequest holds what only pull requests have.
type PullRequest struct {
	Number int
	Action string
	// HeadBranch and HeadRepo say where the changes come from; FromFork
	// is set when HeadRepo is not the target. Runs of fork pull requests
	// must not get secrets: anyone can open one.
	HeadBranch string
	HeadRepo   string
	FromFork   bool
}

// Trigger is what `when` conditions see of the event.
func (e *Event) Trigger() pipeline.Trigger {
	return pipeline.Trigger{Event: e.Kind, Branch: e.Branch, Tag: e.Tag, ChangedPaths: e.ChangedPaths}
}
