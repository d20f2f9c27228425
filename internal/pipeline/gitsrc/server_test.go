package gitsrc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/gitsrc/gittest"
)

// gitCLI runs the git binary for building test repositories; the code under
// test never does.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, args...)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testRepo is a repository with history on main, a feature branch and a
// tag, served as <root>/<name>.git.
type testRepo struct {
	root   string // GIT_PROJECT_ROOT
	c1, c2 string // main: c1 then c2
	c3     string // tip of feature, one commit after c2
	tagged string // the commit of tag v1.0 (c1)
}

func makeRepo(t *testing.T, name string, allowSHA bool) *testRepo {
	t.Helper()
	root := t.TempDir()
	work := t.TempDir()
	gitCLI(t, work, "init", "-q")
	write(t, work, "a.txt", "a\n")
	write(t, work, "web/x.ts", "x1\n")
	write(t, work, "docs/old.md", "old\n")
	gitCLI(t, work, "add", ".")
	gitCLI(t, work, "commit", "-q", "-m", "c1")
	r := &testRepo{root: root, c1: gitCLI(t, work, "rev-parse", "HEAD")}
	gitCLI(t, work, "tag", "v1.0")
	r.tagged = r.c1
	write(t, work, "web/x.ts", "x2\n")
	write(t, work, "api/y.go", "package y\n")
	gitCLI(t, work, "rm", "-q", "a.txt")
	gitCLI(t, work, "mv", "docs/old.md", "docs/new.md")
	gitCLI(t, work, "add", ".")
	gitCLI(t, work, "commit", "-q", "-m", "c2")
	r.c2 = gitCLI(t, work, "rev-parse", "HEAD")
	gitCLI(t, work, "checkout", "-q", "-b", "feature")
	write(t, work, "feature.txt", "f\n")
	gitCLI(t, work, "add", ".")
	gitCLI(t, work, "commit", "-q", "-m", "c3")
	r.c3 = gitCLI(t, work, "rev-parse", "HEAD")
	gitCLI(t, work, "checkout", "-q", "main")
	bare := filepath.Join(root, name+".git")
	gitCLI(t, root, "clone", "-q", "--bare", work, bare)
	if allowSHA {
		gitCLI(t, bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
	}
	return r
}

// serve serves root over git's smart HTTP protocol on 127.0.0.1 and
// returns its URL; with token set, requests need it (see gittest.Serve).
func serve(t *testing.T, root, token string) string {
	t.Helper()
	return gittest.Serve(t, root, token)
}
