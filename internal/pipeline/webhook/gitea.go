package webhook

import (
	"fmt"
	"slices"
)

type giteaRepo struct {
	FullName string `json:"full_name"`
	CloneURL string `json:"clone_url"`
}

type giteaUser struct {
	Login    string `json:"login"`
	Username string `json:"username"`
}

func (u giteaUser) name() string {
	if u.Login != "" {
		return u.Login
	}
	return u.Username
}

type giteaPush struct {
	Ref          string    `json:"ref"`
	Before       string    `json:"before"`
	After        string    `json:"after"`
	Commits      []commit  `json:"commits"`
	TotalCommits int       `json:"total_commits"`
	Repository   giteaRepo `json:"repository"`
	Sender       giteaUser `json:"sender"`
}

type giteaPull struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest struct {
		Head struct {
			Ref  string    `json:"ref"`
			SHA  string    `json:"sha"`
			Repo giteaRepo `json:"repo"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository giteaRepo `json:"repository"`
	Sender     giteaUser `json:"sender"`
}

var giteaPullActions = []string{"opened", "synchronized", "reopened"}

func parseGitea(kind string, payload []byte) (*Event, error) {
	switch kind {
	case "push":
		var p giteaPush
		if err := decode(payload, &p); err != nil {
			return nil, err
		}
		ev, err := pushEvent(p.Ref, p.Before, p.After)
		if err != nil {
			return nil, err
		}
		// Gitea lists only the newest commits of a long push; total_commits
		// says how many there were.
		complete := ev.Before != "" && p.TotalCommits <= len(p.Commits)
		ev.ChangedPaths = changedPaths(p.Commits, complete)
		ev.Repo, ev.CloneURL, ev.Sender = p.Repository.FullName, p.Repository.CloneURL, p.Sender.name()
		return ev, nil
	case "pull_request":
		var p giteaPull
		if err := decode(payload, &p); err != nil {
			return nil, err
		}
		if !slices.Contains(giteaPullActions, p.Action) {
			return nil, fmt.Errorf("%w: pull request %s", ErrIgnored, p.Action)
		}
		pr := p.PullRequest
		ev, err := pullEvent(p.Number, p.Action, pr.Base.Ref, pr.Head.SHA, pr.Head.Ref, pr.Head.Repo.FullName,
			p.Repository.FullName, pr.Base.SHA, fmt.Sprintf("refs/pull/%d/head", p.Number))
		if err != nil {
			return nil, err
		}
		ev.Repo, ev.CloneURL, ev.Sender = p.Repository.FullName, p.Repository.CloneURL, p.Sender.name()
		return ev, nil
	case "":
		return nil, fmt.Errorf("%w: header X-Gitea-Event is missing", ErrBadRequest)
	default:
		return nil, fmt.Errorf("%w: %s event", ErrIgnored, kind)
	}
}
