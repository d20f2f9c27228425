package gitsrc

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

var quiet = slog.New(slog.DiscardHandler)

func TestCheckoutExactCommitShallow(t *testing.T) {
	t.Parallel()
	r := makeRepo(t, "app", true)
	base := serve(t, r.root, "")
	dir := t.TempDir()
	// c1 is not the tip of any branch: only fetch-by-SHA gets it alone.
	err := Checkout(t.Context(), quiet, Source{URL: base + "/app.git", Commit: r.c1}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "a.txt")); err != nil || string(data) != "a\n" {
		t.Errorf("a.txt = %q, %v; want the file of c1", data, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "api/y.go")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api/y.go (from c2) is in a checkout of c1")
	}
	shallow, err := os.ReadFile(filepath.Join(dir, ".git", "shallow"))
	if err != nil || strings.TrimSpace(string(shallow)) != r.c1 {
		t.Errorf(".git/shallow = %q, %v; want the clone shallow at c1", shallow, err)
	}
	head := gitCLI(t, dir, "rev-parse", "HEAD")
	if head != r.c1 {
		t.Errorf("HEAD = %s, want %s", head, r.c1)
	}
}

func TestCheckoutFallsBackToRef(t *testing.T) {
	t.Parallel()
	r := makeRepo(t, "app", false) // the server refuses wants by SHA
	base := serve(t, r.root, "")
	dir := t.TempDir()
	err := Checkout(t.Context(), quiet, Source{URL: base + "/app.git", Commit: r.c3, Ref: "refs/heads/feature"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "feature.txt")); err != nil {
		t.Errorf("feature.txt missing: %v", err)
	}
	// Without a ref, every branch and tag is fetched.
	dir2 := t.TempDir()
	if err := Checkout(t.Context(), quiet, Source{URL: base + "/app.git", Commit: r.c1}, dir2); err != nil {
		t.Fatal(err)
	}
	if head := gitCLI(t, dir2, "rev-parse", "HEAD"); head != r.c1 {
		t.Errorf("HEAD = %s, want %s", head, r.c1)
	}
}

func TestCheckoutUnknownCommit(t *testing.T) {
	t.Parallel()
	r := makeRepo(t, "app", false)
	base := serve(t, r.root, "")
	err := Checkout(t.Context(), quiet, Source{URL: base + "/app.git", Commit: strings.Repeat("ab", 20), Ref: "main"}, t.TempDir())
	if !errors.Is(err, ErrCommitNotFound) {
		t.Errorf("Checkout = %v, want ErrCommitNotFound", err)
	}
}

func TestCheckoutWithToken(t *testing.T) {
	t.Parallel()
	r := makeRepo(t, "private", true)
	base := serve(t, r.root, "s3cret-token")
	url := base + "/private.git"
	err := Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2, Auth: Auth{Token: "s3cret-token"}}, t.TempDir())
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	err = Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2, Auth: Auth{Token: "wrong"}}, t.TempDir())
	if !errors.Is(err, transport.ErrAuthorizationFailed) && !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Errorf("with a wrong token: %v, want an auth error", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the token: %v", err)
	}
	err = Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2}, t.TempDir())
	if !errors.Is(err, transport.ErrAuthenticationRequired) || !errors.Is(err, ErrUnauthorized) {
		t.Errorf("without a token: %v, want ErrAuthenticationRequired and ErrUnauthorized", err)
	}
	_, _, err = Resolve(t.Context(), url, "main", Auth{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Resolve without a token: %v, want ErrUnauthorized", err)
	}
	if _, commit, err := Resolve(t.Context(), url, "main", Auth{Token: "s3cret-token"}); err != nil || commit != r.c2 {
		t.Errorf("Resolve with the token = %s, %v; want %s", commit, err, r.c2)
	}
}

func TestChangedPaths(t *testing.T) {
	t.Parallel()
	r := makeRepo(t, "mono", true)
	base := serve(t, r.root, "")
	dir := t.TempDir()
	if err := Checkout(t.Context(), quiet, Source{URL: base + "/mono.git", Commit: r.c2, Ref: "main"}, dir); err != nil {
		t.Fatal(err)
	}
	// c1 is not in the shallow checkout: ChangedPaths fetches it.
	got, err := ChangedPaths(t.Context(), dir, r.c1, r.c2, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.txt", "api/y.go", "docs/new.md", "docs/old.md", "web/x.ts"}
	if !slices.Equal(got, want) {
		t.Errorf("ChangedPaths = %v, want %v", got, want)
	}
	if got, err := ChangedPaths(t.Context(), dir, ZeroCommit, r.c2, Auth{}); err != nil || got != nil {
		t.Errorf("from a new branch = %v, %v; want nil (unknown)", got, err)
	}
	if got, err := ChangedPaths(t.Context(), dir, r.c2, r.c2, Auth{}); err != nil || got == nil || len(got) != 0 {
		t.Errorf("same commit = %#v, %v; want an empty list", got, err)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	good := strings.Repeat("a", 40)
	tests := []struct {
		desc string
		src  Source
		want string
	}{
		{desc: "url option", src: Source{URL: "--upload-pack=touch /tmp/x", Commit: good}, want: "starts with '-'"},
		{desc: "local path", src: Source{URL: "/var/lib/berth", Commit: good}, want: `protocol "file"`},
		{desc: "file url", src: Source{URL: "file:///etc", Commit: good}, want: `protocol "file"`},
		{desc: "remote helper", src: Source{URL: "ext::sh -c touch% /tmp/pwned", Commit: good}, want: "spaces or control characters"},
		{desc: "helper without space", src: Source{URL: "fd::17", Commit: good}, want: "remote helper"},
		{desc: "ref option", src: Source{URL: "https://example.com/a.git", Commit: good, Ref: "--force"}, want: "starts with '-'"},
		{desc: "ref dots", src: Source{URL: "https://example.com/a.git", Commit: good, Ref: "refs/heads/a..b"}, want: `".."`},
		{desc: "short commit", src: Source{URL: "https://example.com/a.git", Commit: "abc123"}, want: "not a full 40-digit"},
		{desc: "commit option", src: Source{URL: "https://example.com/a.git", Commit: "-" + good[1:]}, want: "not a full 40-digit"},
		{desc: "ssh without key", src: Source{URL: "git@example.com:team/app.git", Commit: good}, want: "an SSH key is needed"},
		{desc: "ssh without known hosts", src: Source{URL: "ssh://git@example.com/app.git", Commit: good, Auth: Auth{SSHKey: []byte("k")}}, want: "known_hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			err := Checkout(t.Context(), quiet, tt.src, dir)
			if !errors.Is(err, ErrBadSource) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Checkout = %v, want ErrBadSource with %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused source left %d entries in the folder", len(entries))
			}
		})
	}
}
