package spec

import (
	"net/url"
	"path"
	"slices"
	"strings"
)

// maxKnownHosts bounds source.known_hosts: a few host keys, not a file
// of thousands.
const maxKnownHosts = 64 << 10

func (v *validator) source(s *Source) {
	switch {
	case s.Git == "":
		v.add("source.git", "is required when source is set")
	case strings.HasPrefix(s.Git, "-"):
		v.add("source.git", "must not start with '-'")
	case hasSpaceOrControl(s.Git):
		v.add("source.git", "must not contain spaces or control characters")
	}
	switch {
	case strings.HasPrefix(s.Branch, "-"):
		v.add("source.branch", "must not start with '-'")
	case hasSpaceOrControl(s.Branch):
		v.add("source.branch", "must not contain spaces or control characters")
	}
	if s.Pipeline != "" {
		if msg := pipelinePathProblem(s.Pipeline); msg != "" {
			v.add("source.pipeline", "%s %s", quoteShort(s.Pipeline), msg)
		}
	}
	v.sourceCredentials(s)
	v.sourceStatus(s)
}

// sourceStatus checks status and status_url: a known forge, a token to
// post with, and an API address that is http(s).
func (v *validator) sourceStatus(s *Source) {
	if s.Status == "" {
		if s.StatusURL != "" {
			v.add("source.status_url", "goes with source.status (github, gitea or gitlab)")
		}
		return
	}
	if !slices.Contains(Forges, s.Status) {
		v.add("source.status", "expected one of %s, got %s", strings.Join(Forges, ", "), quoteShort(s.Status))
	}
	if s.Secret == "" {
		v.add("source.status", "needs source.secret: the forge takes the status only with an access token")
	} else if isSSHURL(s.Git) {
		v.add("source.status", "needs an access token, and source.secret holds an SSH key for this ssh URL; use an https URL")
	}
	if s.StatusURL != "" {
		u, err := url.Parse(s.StatusURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			v.add("source.status_url", "%s is not an http(s) URL of the forge's API (e.g. https://gitea.example.com/api/v1)", quoteShort(s.StatusURL))
		}
	}
}

// pipelinePathProblem says what is wrong with a pipeline file path, or "".
// The runner reads the file through a rooted view of the checkout, so a
// path out of it could not be read anyway; refusing it here says so at
// apply time instead of at the first run.
func pipelinePathProblem(p string) string {
	clean := path.Clean(p)
	switch {
	case strings.HasPrefix(p, "-"):
		return "must not start with '-'"
	case strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "must not contain control characters"
	case strings.Contains(p, `\`):
		return "must use '/' between folders"
	case path.IsAbs(clean):
		return "must be a path relative to the repository's root, e.g. ci/pipeline.yaml"
	case clean == "." || clean == ".." || strings.HasPrefix(clean, "../"):
		return "must name a file inside the repository, e.g. ci/pipeline.yaml"
	case clean == ".git" || strings.HasPrefix(clean, ".git/"):
		return "must not be inside .git"
	case !strings.HasSuffix(clean, ".yaml") && !strings.HasSuffix(clean, ".yml"):
		return "must be a .yaml or .yml file"
	}
	return ""
}

// sourceCredentials checks secret, username and known_hosts against the
// URL's kind: a token for http(s), a key (with known_hosts) for ssh.
func (v *validator) sourceCredentials(s *Source) {
	ssh := isSSHURL(s.Git)
	if s.Secret != "" {
		switch {
		case !validEnvName(s.Secret):
			v.add("source.secret", "%s is not a secret name (letters, digits and '_', not starting with a digit)", quoteShort(s.Secret))
		case len(s.Secret) > MaxSecretNameLen:
			v.add("source.secret", "is %d characters long; at most %d", len(s.Secret), MaxSecretNameLen)
		}
	}
	if s.Username != "" {
		switch {
		case ssh:
			v.add("source.username", "is for http(s) URLs; for ssh put the user in the URL (ssh://git@host/repo.git)")
		case s.Secret == "":
			v.add("source.username", "goes with source.secret (the token); set both or neither")
		case hasSpaceOrControl(s.Username) || strings.ContainsRune(s.Username, ':'):
			v.add("source.username", "must not contain spaces, control characters or ':'")
		}
	}
	switch {
	case s.KnownHosts != "" && !ssh:
		v.add("source.known_hosts", "is for ssh URLs only")
	case len(s.KnownHosts) > maxKnownHosts:
		v.add("source.known_hosts", "is %d bytes long; at most %d", len(s.KnownHosts), maxKnownHosts)
	case ssh && s.Secret != "" && strings.TrimSpace(s.KnownHosts) == "":
		v.add("source.known_hosts", "is required with an ssh URL and a key: the server's host key line(s), as ssh-keyscan prints them; an unknown host key is never trusted")
	case ssh && s.Secret == "" && s.Git != "":
		v.add("source.secret", "is required with an ssh URL: the name of the app's secret holding the private key")
	}
}

// isSSHURL tells ssh URLs: ssh://... or the scp form user@host:path.
func isSSHURL(u string) bool {
	if strings.HasPrefix(u, "ssh://") || strings.HasPrefix(u, "git+ssh://") {
		return true
	}
	if strings.Contains(u, "://") {
		return false
	}
	at, colon := strings.Index(u, "@"), strings.Index(u, ":")
	return colon > 0 && (at < 0 || at < colon)
}
