package gitsrc

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitCLI runs the git binary for building test repositories; the code under
// test never does.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
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

// serve serves root over git's smart HTTP protocol (git http-backend as a
// CGI program) on 127.0.0.1. With token set, requests need it as the
// basic-auth password, as a forge asks for an access token.
func serve(t *testing.T, root, token string) *httptest.Server {
	t.Helper()
	execPath := gitCLI(t, root, "--exec-path")
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			if _, pass, ok := r.BasicAuth(); !ok || pass != token {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "auth needed", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
