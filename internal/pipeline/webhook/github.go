package webhook

import (
	"fmt"
	"slices"
)

type ghRepo struct {
	FullName string `json:"full_name"`
	CloneURL string `json:"clone_url"`
}

type ghUser struct {
	Login string `json:"login"`
}

type ghPush struct {
	Ref        string   `json:"ref"`
	Before     string   `json:"before"`
	After      string   `json:"after"`
	Created    bool     `json:"created"`
	Deleted    bool     `json:"deleted"`
	Forced     bool     `json:"forced"`
	Commits    []commit `json:"commits"`
	Repository ghRepo   `json:"repository"`
	Sender     ghUser   `json:"sender"`
}

type ghPull struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest struct {
		Head struct {
			Ref  string `json:"ref"`
			SHA  string `json:"sha"`
			Repo ghRepo `json:"repo"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository ghRepo `json:"repository"`
	Sender     ghUser `json:"sender"`
}

// ghMaxCommits is how many commits GitHub lists in a push at most; a push
// listing that many may have had more.
const ghMaxCommits = 2048

// ghPullActions are the pull request actions that bring new code.
var ghPullActions = []string{"opened", "synchronize", "reopened"}

func parseGitHub(kind string, payload []byte) (*Event, error) {
	switch kind {
	case "push":
		var p ghPush
		if err := decode(payload, &p); err != nil {
			return nil, err
		}
		if p.Deleted {
			return nil, fmt.Errorf("%w: %s was deleted", ErrIgnored, p.Ref)
		}
		ev, err := pushEvent(p.Ref, p.Before, p.After)
		if err != nil {
			return nil, err
		}
		complete := !p.Created && !p.Forced && ev.Before != "" && len(p.Commits) < ghMaxCommits
		ev.ChangedPaths = changedPaths(p.Commits, complete)
		ev.Repo, ev.CloneURL, ev.Sender = p.Repository.FullName, p.Repository.CloneURL, p.Sender.Login
		return ev, nil
	case "pull_request":
		var p ghPull
		if err := decode(payload, &p); err != nil {
			return nil, err
		}
		if !slices.Contains(ghPullActions, p.Action) {
			return nil, fmt.Errorf("%w: pull request %s", ErrIgnored, p.Action)
		}
		pr := p.PullRequest
		ev, err := pullEvent(p.Number, p.Action, pr.Base.Ref, pr.Head.SHA, pr.Head.Ref, pr.Head.Repo.FullName,
			p.Repository.FullName, pr.Base.SHA, fmt.Sprintf("refs/pull/%d/head", p.Number))
		if err != nil {
			return nil, err
		}
		ev.Repo, ev.CloneURL, ev.Sender = p.Repository.FullName, p.Repository.CloneURL, p.Sender.Login
		return ev, nil
	case "":
		return nil, fmt.Errorf("%w: header X-GitHub-Event is missing", ErrBadRequest)
	default:
		return nil, fmt.Errorf("%w: %s event", ErrIgnored, kind)
	}
}
