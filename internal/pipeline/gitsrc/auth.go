package gitsrc

import (
	"fmt"
	"os"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Auth holds the credentials for one repository: a token for HTTPS, or a
// key for SSH. The zero value fetches anonymously.
type Auth struct {
	// Token is an access token for HTTPS, sent as the password of basic
	// auth, which GitHub, GitLab and Gitea all accept.
	Token string
	// Username goes with Token; default "berth" (forges ignore it for
	// tokens, but some servers need one; GitLab accepts "oauth2").
	Username string
	// SSHKey is a PEM private key; SSHPassphrase decrypts it if needed.
	SSHKey        []byte
	SSHPassphrase string
	// SSHUser defaults to "git".
	SSHUser string
	// KnownHosts is known_hosts text naming the server's host key. It is
	// required with SSHKey: a fetch never trusts an unknown host key.
	KnownHosts []byte
}

// method returns the go-git auth for url and a cleanup for temporary files.
func (a Auth) method(url string) (transport.AuthMethod, func(), error) {
	nothing := func() {}
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, nothing, fmt.Errorf("%w: %w", ErrBadSource, err)
	}
	switch ep.Protocol {
	case "ssh":
		if len(a.SSHKey) == 0 {
			return nil, nothing, fmt.Errorf("%w: %s is an ssh URL; an SSH key is needed", ErrBadSource, url)
		}
		if len(a.KnownHosts) == 0 {
			return nil, nothing, fmt.Errorf("%w: an SSH key needs known_hosts naming the server's host key", ErrBadSource)
		}
		user := a.SSHUser
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, a.SSHKey, a.SSHPassphrase)
		if err != nil {
			return nil, nothing, fmt.Errorf("%w: SSH key: %w", ErrBadSource, err)
		}
		// go-git reads known hosts from files only.
		f, err := os.CreateTemp("", "berth-known-hosts-*")
		if err != nil {
			return nil, nothing, err
		}
		cleanup := func() { os.Remove(f.Name()) }
		_, werr := f.Write(a.KnownHosts)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			cleanup()
			return nil, nothing, werr
		}
		cb, err := gitssh.NewKnownHostsCallback(f.Name())
		if err != nil {
			cleanup()
			return nil, nothing, fmt.Errorf("%w: known_hosts: %w", ErrBadSource, err)
		}
		keys.HostKeyCallback = cb
		return keys, cleanup, nil
	case "http", "https":
		if a.Token == "" {
			return nil, nothing, nil
		}
		user := a.Username
		if user == "" {
			user = "berth"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Token}, nothing, nil
	}
	return nil, nothing, nil
}

// For returns the part of a that a fetch of url uses — an SSH key with
// its user and known_hosts for ssh, a token with its username for
// http(s), nothing otherwise — with defaults filled and checked as a fetch
// would check them. It is for callers that hand the credential to another
// git (a checkout pod), which must get only what it needs.
func (a Auth) For(url string) (Auth, error) {
	_, cleanup, err := a.method(url)
	cleanup()
	if err != nil {
		return Auth{}, err
	}
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return Auth{}, fmt.Errorf("%w: %w", ErrBadSource, err)
	}
	switch ep.Protocol {
	case "ssh":
		user := a.SSHUser
		if user == "" {
			user = "git"
		}
		return Auth{SSHKey: a.SSHKey, SSHPassphrase: a.SSHPassphrase, SSHUser: user, KnownHosts: a.KnownHosts}, nil
	case "http", "https":
		if a.Token == "" {
			return Auth{}, nil
		}
		user := a.Username
		if user == "" {
			user = "berth"
		}
		return Auth{Token: a.Token, Username: user}, nil
	}
	return Auth{}, nil
}
