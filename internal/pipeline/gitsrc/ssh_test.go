package gitsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/gitsrc/gittest"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestCheckoutOverSSH(t *testing.T) {
	t.Parallel()
	r := makeRepo(t, "app", true)
	keyPEM, pub := gittest.ClientKey(t)
	srv := gittest.ServeSSH(t, r.root, pub)
	url := "ssh://git@" + srv.Addr + "/app.git"
	dir := t.TempDir()
	err := Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2, Ref: "main", Auth: Auth{SSHKey: keyPEM, KnownHosts: srv.KnownHosts}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "api/y.go")); err != nil {
		t.Errorf("api/y.go missing: %v", err)
	}

	other, _ := gittest.ClientKey(t)
	err = Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2, Auth: Auth{SSHKey: other, KnownHosts: srv.KnownHosts}}, t.TempDir())
	if err == nil {
		t.Error("an unknown client key was let in")
	}
	_, wrongHost := gittest.ClientKey(t)
	fake := []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, wrongHost) + "\n")
	err = Checkout(t.Context(), quiet, Source{URL: url, Commit: r.c2, Auth: Auth{SSHKey: keyPEM, KnownHosts: fake}}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("a server with an unexpected host key was trusted: %v", err)
	}
}
