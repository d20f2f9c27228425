package gitsrc

import (
	"errors"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/berthdev/berth/internal/pipeline/gitsrc/gittest"
)

// TestAuthFor checks that a credential handed on carries only what the
// URL's protocol uses, with defaults, and is refused when a fetch would be.
func TestAuthFor(t *testing.T) {
	t.Parallel()
	key, _ := gittest.ClientKey(t)
	_, hostKey := gittest.ClientKey(t)
	hosts := []byte(knownhosts.Line([]string{"git.example.com"}, hostKey) + "\n")
	both := Auth{Token: "tok", SSHKey: key, KnownHosts: hosts}
	tests := []struct {
		desc string
		url  string
		auth Auth
		want Auth
		bad  bool
	}{
		{desc: "https takes the token", url: "https://git.example.com/a.git", auth: both, want: Auth{Token: "tok", Username: "berth"}},
		{desc: "username kept", url: "https://git.example.com/a.git", auth: Auth{Token: "tok", Username: "oauth2"}, want: Auth{Token: "tok", Username: "oauth2"}},
		{desc: "anonymous https", url: "https://git.example.com/a.git", auth: Auth{}, want: Auth{}},
		{desc: "ssh takes the key", url: "ssh://git@git.example.com/a.git", auth: both, want: Auth{SSHKey: key, SSHUser: "git", KnownHosts: hosts}},
		{desc: "ssh without a key", url: "ssh://git@git.example.com/a.git", auth: Auth{Token: "tok"}, bad: true},
		{desc: "ssh without known_hosts", url: "ssh://git@git.example.com/a.git", auth: Auth{SSHKey: key}, bad: true},
		{desc: "ssh with a broken key", url: "ssh://git@git.example.com/a.git", auth: Auth{SSHKey: []byte("nope"), KnownHosts: hosts}, bad: true},
		{desc: "git protocol takes nothing", url: "git://git.example.com/a.git", auth: both, want: Auth{}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := tt.auth.For(tt.url)
			if tt.bad {
				if !errors.Is(err, ErrBadSource) {
					t.Errorf("For = %+v, %v; want ErrBadSource", got, err)
				}
				return
			}
			if err != nil || got.Token != tt.want.Token || got.Username != tt.want.Username || string(got.SSHKey) != string(tt.want.SSHKey) ||
				got.SSHUser != tt.want.SSHUser || string(got.KnownHosts) != string(tt.want.KnownHosts) {
				t.Errorf("For = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
