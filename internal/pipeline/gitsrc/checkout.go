package gitsrc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Source is one commit of one repository.
type Source struct {
	URL string
	// Commit is the full SHA-1 to check out.
	Commit string
	// Ref, if set, is a branch or tag holding Commit ("main", "refs/heads/main",
	// "refs/tags/v1"). It is fetched when the server will not hand out a
	// commit by its SHA (allow-reachable-sha1-in-want), so give it always.
	Ref  string
	Auth Auth
}

// Check refuses a source no fetch may be made of (see CheckURL, CheckRef
// and CheckCommit), before anything reaches the network or a git binary.
func (s Source) Check() error {
	if err := CheckURL(s.URL); err != nil {
		return err
	}
	if err := CheckCommit(s.Commit); err != nil {
		return err
	}
	if s.Ref != "" {
		return CheckRef(s.Ref)
	}
	return nil
}

// remoteHead is where the fetched commit is kept, so it is not garbage.
const remoteHead = "refs/remotes/origin/berth-head"

// Checkout fetches src.Commit into dir (a new or empty folder) and checks
// it out, detached. It first asks for the commit alone at depth 1; when
// the server refuses fetching by SHA it fetches src.Ref, and without a
// Ref every branch and tag, in full.
func Checkout(ctx context.Context, log *slog.Logger, src Source, dir string) error {
	if err := src.Check(); err != nil {
		return err
	}
	auth, cleanup, err := src.Auth.method(src.URL)
	if err != nil {
		return err
	}
	defer cleanup()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		return fmt.Errorf("gitsrc: init %s: %w", dir, err)
	}
	remote, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{src.URL}})
	if err != nil {
		return fmt.Errorf("gitsrc: %w", err)
	}
	hash := plumbing.NewHash(src.Commit)
	fetch := func(depth int, specs ...config.RefSpec) error {
		err := remote.FetchContext(ctx, &git.FetchOptions{
			RefSpecs: specs, Depth: depth, Auth: auth, Tags: git.NoTags,
		})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	err = fetch(1, config.RefSpec(src.Commit+":"+remoteHead))
	if err != nil {
		if isAuthOrNetwork(err) {
			return fmt.Errorf("gitsrc: fetch %s: %w", redact(src.URL), authError(err))
		}
		log.DebugContext(ctx, "fetching a commit by SHA was refused; fetching refs", "url", redact(src.URL), "err", err)
		var specs []config.RefSpec
		if src.Ref != "" {
			specs = []config.RefSpec{config.RefSpec("+" + FullRef(src.Ref) + ":refs/remotes/origin/berth-ref")}
		} else {
			specs = []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}
		}
		if err := fetch(0, specs...); err != nil {
			return fmt.Errorf("gitsrc: fetch %s: %w", redact(src.URL), authError(err))
		}
	}
	if _, err := repo.CommitObject(hash); err != nil {
		return fmt.Errorf("%w: %s in %s", ErrCommitNotFound, src.Commit, redact(src.URL))
	}
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("gitsrc: %w", err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: hash, Force: true}); err != nil {
		return fmt.Errorf("gitsrc: check out %s: %w", src.Commit, err)
	}
	log.InfoContext(ctx, "checked out source", "url", redact(src.URL), "commit", src.Commit)
	return nil
}

// FullRef reads a short name as a branch.
func FullRef(ref string) string {
	if strings.HasPrefix(ref, "refs/") {
		return ref
	}
	return "refs/heads/" + ref
}

// isAuthOrNetwork tells failures that a second fetch would only repeat.
func isAuthOrNetwork(err error) bool {
	return errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrRepositoryNotFound) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// authError marks go-git's "authentication required" (401) and
// "authorization failed" (403) with ErrUnauthorized, so callers can tell
// a missing or refused credential from other failures without importing
// go-git.
func authError(err error) error {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return err
}

// redact drops a password from a URL before it reaches a log or error.
func redact(u string) string {
	ep, err := transport.NewEndpoint(u)
	if err != nil || ep.Password == "" {
		return u
	}
	ep.Password = "xxx"
	return ep.String()
}
