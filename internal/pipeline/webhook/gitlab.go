package webhook

import (
	"fmt"
)

type glProject struct {
	PathWithNamespace string `json:"path_with_namespace"`
	GitHTTPURL        string `json:"git_http_url"`
}

type glPush struct {
	ObjectKind   string    `json:"object_kind"`
	Ref          string    `json:"ref"`
	Before       string    `json:"before"`
	After        string    `json:"after"`
	UserUsername string    `json:"user_username"`
	Project      glProject `json:"project"`
	Commits      []commit  `json:"commits"`
	TotalCommits int       `json:"total_commits_count"`
}

type glMerge struct {
	ObjectKind string `json:"object_kind"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	Project          glProject `json:"project"`
	ObjectAttributes struct {
		IID          int    `json:"iid"`
		Action       string `json:"action"`
		SourceBranch string `json:"source_branch"`
		TargetBranch string `json:"target_branch"`
		OldRev       string `json:"oldrev"`
		LastCommit   struct {
			ID string `json:"id"`
		} `json:"last_commit"`
		Source glProject `json:"source"`
		Target glProject `json:"target"`
	} `json:"object_attributes"`
}

func parseGitLab(kind string, payload []byte) (*Event, error) {
	switch kind {
	case "Push Hook", "Tag Push Hook", "System Hook":
		var p glPush
		if err := decode(payload, &p); err != nil {
			return nil, err
		}
		if p.ObjectKind == "merge_request" {
			return parseGitLabMerge(payload)
		}
		if p.ObjectKind != "push" && p.ObjectKind != "tag_push" {
			return nil, fmt.Errorf("%w: %s event", ErrIgnored, p.ObjectKind)
		}
		ev, err := pushEvent(p.Ref, p.Before, p.After)
		if err != nil {
			return nil, err
		}
		// GitLab lists at most 20 commits; total_commits_count has them all.
		complete := ev.Before != "" && p.TotalCommits <= len(p.Commits)
		ev.ChangedPaths = changedPaths(p.Commits, complete)
		ev.Repo, ev.CloneURL, ev.Sender = p.Project.PathWithNamespace, p.Project.GitHTTPURL, p.UserUsername
		return ev, nil
	case "Merge Request Hook":
		return parseGitLabMerge(payload)
	case "":
		return nil, fmt.Errorf("%w: header X-Gitlab-Event is missing", ErrBadRequest)
	default:
		return nil, fmt.Errorf("%w: %s", ErrIgnored, kind)
	}
}

func parseGitLabMerge(payload []byte) (*Event, error) {
	var p glMerge
	if err := decode(payload, &p); err != nil {
		return nil, err
	}
	a := p.ObjectAttributes
	switch {
	case a.Action == "open", a.Action == "reopen":
	case a.Action == "update" && a.OldRev != "":
		// An update with oldrev brought new commits; without, it only
		// changed the title, labels or the like.
	default:
		return nil, fmt.Errorf("%w: merge request %s without new commits", ErrIgnored, a.Action)
	}
	ev, err := pullEvent(a.IID, a.Action, a.TargetBranch, a.LastCommit.ID, a.SourceBranch,
		a.Source.PathWithNamespace, p.Project.PathWithNamespace, "", fmt.Sprintf("refs/merge-requests/%d/head", a.IID))
	if err != nil {
		return nil, err
	}
	ev.Repo, ev.CloneURL, ev.Sender = p.Project.PathWithNamespace, p.Project.GitHTTPURL, p.User.Username
	return ev, nil
}
