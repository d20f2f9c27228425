package gitsrc

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ZeroCommit is the "before" of a push that created a branch.
const ZeroCommit = "0000000000000000000000000000000000000000"

// ChangedPaths lists, sorted, the paths that differ between the trees of
// commits from and to in the repository Checkout made in dir; a rename
// lists both names. It fetches from (depth 1) if the checkout lacks it;
// only the two trees are compared, so no history is needed. A from of
// ZeroCommit or "" means "unknown" and gives nil, which `when.paths`
// treats as matching.
func ChangedPaths(ctx context.Context, dir, from, to string, auth Auth) ([]string, error) {
	if from == "" || from == ZeroCommit {
		return nil, nil
	}
	for _, c := range []string{from, to} {
		if err := CheckCommit(c); err != nil {
			return nil, err
		}
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("gitsrc: open %s: %w", dir, err)
	}
	if _, err := repo.CommitObject(plumbing.NewHash(from)); err != nil {
		if err := fetchCommit(ctx, repo, from, auth); err != nil {
			return nil, err
		}
	}
	trees := make([]*object.Tree, 2)
	for i, c := range []string{from, to} {
		commit, err := repo.CommitObject(plumbing.NewHash(c))
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrCommitNotFound, c)
		}
		if trees[i], err = commit.Tree(); err != nil {
			return nil, fmt.Errorf("gitsrc: tree of %s: %w", c, err)
		}
	}
	changes, err := object.DiffTreeWithOptions(ctx, trees[0], trees[1], &object.DiffTreeOptions{})
	if err != nil {
		return nil, fmt.Errorf("gitsrc: diff %s..%s: %w", from, to, err)
	}
	paths := []string{}
	for _, ch := range changes {
		for _, name := range []string{ch.From.Name, ch.To.Name} {
			if name != "" {
				paths = append(paths, name)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths), nil
}

// fetchCommit brings one more commit into a checkout, alone, at depth 1.
func fetchCommit(ctx context.Context, repo *git.Repository, commit string, auth Auth) error {
	remote, err := repo.Remote("origin")
	if err != nil {
		return fmt.Errorf("gitsrc: %w", err)
	}
	url := remote.Config().URLs[0]
	if err := CheckURL(url); err != nil {
		return err
	}
	method, cleanup, err := auth.method(url)
	if err != nil {
		return err
	}
	defer cleanup()
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec(commit + ":refs/remotes/origin/berth-base")},
		Depth:    1, Auth: method, Tags: git.NoTags,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, git.ErrExactSHA1NotSupported), errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%w: %s (the server would not send it by SHA): %w", ErrCommitNotFound, commit, err)
	default:
		return fmt.Errorf("gitsrc: fetch %s: %w", commit, authError(err))
	}
}
