package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// statusContext is the name a run's status has on the forge.
const statusContext = "berth/pipeline"

// statusTimeout bounds one status post: a slow forge must not hold a run.
const statusTimeout = 15 * time.Second

// commitStatus posts a run's state to the forge that source.status names,
// with the token of source.secret. Reporting is best effort: a failure is
// noted in the run's log and changes nothing of the run.
type commitStatus struct {
	forge, endpoint, token string
	client                 *http.Client
}

// newCommitStatus returns nil when src reports nothing.
func (r *Runner) newCommitStatus(src spec.Source, token, commit string) (*commitStatus, error) {
	if src.Status == "" {
		return nil, nil
	}
	endpoint, err := statusEndpoint(src, commit)
	if err != nil {
		return nil, err
	}
	c := r.notifyClient() // the same guard against internal addresses
	// The token must never follow a redirect, to any host.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &commitStatus{forge: src.Status, endpoint: endpoint, token: token, client: c}, nil
}

// statusEndpoint is the URL a status of commit is posted to.
func statusEndpoint(src spec.Source, commit string) (string, error) {
	repo, host, scheme, err := repoPath(src.Git)
	if err != nil {
		return "", err
	}
	base := strings.TrimRight(src.StatusURL, "/")
	if base == "" {
		switch {
		case src.Status == "github" && host == "github.com":
			base = "https://api.github.com"
		case src.Status == "github":
			base = scheme + "://" + host + "/api/v3" // GitHub Enterprise
		case src.Status == "gitea":
			base = scheme + "://" + host + "/api/v1"
		case src.Status == "gitlab":
			base = scheme + "://" + host + "/api/v4"
		}
	}
	switch src.Status {
	case "github", "gitea":
		owner, name, ok := strings.Cut(repo, "/")
		if !ok || strings.Contains(name, "/") {
			return "", fmt.Errorf("source.status: %s is not an owner/repository path", repo)
		}
		return base + "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/statuses/" + commit, nil
	case "gitlab":
		return base + "/projects/" + url.PathEscape(repo) + "/statuses/" + commit, nil
	}
	return "", fmt.Errorf("source.status: unknown forge %q", src.Status)
}

// repoPath splits an http(s) Git URL into the repository's path (without
// ".git"), host and scheme.
func repoPath(git string) (repo, host, scheme string, err error) {
	u, err := url.Parse(git)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", "", errors.New("source.status: the repository URL is not http(s): the forge's API address cannot be derived from it")
	}
	repo = strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if repo == "" {
		return "", "", "", fmt.Errorf("source.status: %s names no repository", u.Redacted())
	}
	return repo, u.Host, u.Scheme, nil
}

// stateFor maps a run state to the forge's word for it.
func (c *commitStatus) stateFor(runState string) string {
	gitlab := c.forge == "gitlab"
	switch runState {
	case store.RunRunning:
		if gitlab {
			return "running"
		}
		return "pending"
	case store.RunSucceeded:
		return "success"
	case store.RunFailed:
		if gitlab {
			return "failed"
		}
		return "failure"
	case store.RunCancelled:
		if gitlab {
			return "canceled"
		}
		return "error"
	}
	return "pending"
}

// post reports runState with description; targetURL may be "".
func (c *commitStatus) post(ctx context.Context, runState, description, targetURL string) error {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	if len(description) > 140 {
		description = description[:137] + "..." // GitHub's limit
	}
	body := map[string]string{"state": c.stateFor(runState), "description": description}
	if targetURL != "" {
		body["target_url"] = targetURL
	}
	if c.forge == "gitlab" {
		body["name"] = statusContext
	} else {
		body["context"] = statusContext
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth-pipeline")
	switch c.forge {
	case "github":
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Accept", "application/vnd.github+json")
	case "gitea":
		req.Header.Set("Authorization", "token "+c.token)
	case "gitlab":
		req.Header.Set("PRIVATE-TOKEN", c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the forge answered %s", resp.Status)
	}
	return nil
}

// reportStatus posts the run's state, noting in its log how it went.
func (r *Runner) reportStatus(ctx context.Context, env *runEnv, runState, description string) {
	if env.status == nil {
		return
	}
	target := ""
	if r.opts.HookBaseURL != "" {
		target = strings.TrimRight(r.opts.HookBaseURL, "/") + "/api/v1/runs/" + url.PathEscape(env.run.ID)
	}
	if err := env.status.post(ctx, runState, description, target); err != nil {
		env.log.note("commit status %s not reported to %s: %v", env.status.stateFor(runState), env.status.forge, err)
		return
	}
	env.log.note("commit status %s reported to %s", env.status.stateFor(runState), env.status.forge)
}
