package gitsrc

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Resolve asks the repository at url which commit ref names, without
// fetching objects. ref is a branch or tag ("main", "v1.0",
// "refs/heads/main", "refs/tags/v1.0"; a short name is tried as a branch
// first); an annotated tag resolves to the commit it tags. It returns the
// full ref with the commit.
func Resolve(ctx context.Context, url, ref string, auth Auth) (fullRef, commit string, err error) {
	if err := CheckURL(url); err != nil {
		return "", "", err
	}
	if err := CheckRef(ref); err != nil {
		return "", "", err
	}
	method, cleanup, err := auth.method(url)
	if err != nil {
		return "", "", err
	}
	defer cleanup()
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: method, PeelingOption: git.AppendPeeled})
	if err != nil {
		return "", "", fmt.Errorf("gitsrc: list refs of %s: %w", redact(url), authError(err))
	}
	byName := map[string]string{}
	for _, r := range refs {
		if r.Type() == plumbing.HashReference {
			byName[r.Name().String()] = r.Hash().String()
		}
	}
	candidates := []string{ref}
	if !strings.HasPrefix(ref, "refs/") {
		candidates = []string{"refs/heads/" + ref, "refs/tags/" + ref}
	}
	for _, c := range candidates {
		if peeled, ok := byName[c+"^{}"]; ok {
			return c, peeled, nil
		}
		if h, ok := byName[c]; ok {
			return c, h, nil
		}
	}
	return "", "", fmt.Errorf("%w: no branch or tag %q in %s", ErrCommitNotFound, ref, redact(url))
}
