package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/identity/rbac"
)

// ssoFlags are the server's single sign-on flags.
type ssoFlags struct {
	issuer, clientID, secretFile, redirectURL, groupsClaim string
	groupRoles                                             []string
}

func (f *ssoFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.issuer, "oidc-issuer", "", "OpenID provider issuer URL; turns on single sign-on")
	fl.StringVar(&f.clientID, "oidc-client-id", "", "client ID registered with the provider")
	fl.StringVar(&f.secretFile, "oidc-client-secret-file", "", "file holding the client secret (default $BERTH_OIDC_CLIENT_SECRET; none for a public client)")
	fl.StringVar(&f.redirectURL, "oidc-redirect-url", "", "callback registered with the provider, exactly (default http://LISTEN/api/v1/auth/oidc/callback)")
	fl.StringVar(&f.groupsClaim, "oidc-groups-claim", "groups", "claim (or dotted path) holding the user's groups")
	fl.StringArrayVar(&f.groupRoles, "oidc-group-role", nil, "GROUP=TEAM:ROLE: members of GROUP get ROLE in TEAM (repeatable)")
}

// config builds the SSO config, or nil when --oidc-issuer is not set.
func (f *ssoFlags) config(listen string, getenv func(string) string) (*oidclogin.Config, error) {
	if f.issuer == "" {
		if f.clientID != "" || len(f.groupRoles) > 0 {
			return nil, fmt.Errorf("--oidc-issuer is required with the other --oidc-* flags")
		}
		return nil, nil
	}
	if f.clientID == "" {
		return nil, fmt.Errorf("--oidc-client-id is required with --oidc-issuer")
	}
	secret := getenv("BERTH_OIDC_CLIENT_SECRET")
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	redirect := f.redirectURL
	if redirect == "" {
		redirect = "http://" + listen + "/api/v1/auth/oidc/callback"
	}
	cfg := &oidclogin.Config{Issuer: f.issuer, ClientID: f.clientID, ClientSecret: secret, RedirectURL: redirect, GroupsClaim: f.groupsClaim}
	for _, gr := range f.groupRoles {
		group, rest, ok1 := strings.Cut(gr, "=")
		team, role, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || group == "" || team == "" {
			return nil, fmt.Errorf("--oidc-group-role %q: want GROUP=TEAM:ROLE", gr)
		}
		r, err := rbac.ParseRole("--oidc-group-role", role)
		if err != nil {
			return nil, err
		}
		cfg.GroupRoles = append(cfg.GroupRoles, oidclogin.GroupRole{Group: group, Team: team, Role: r})
	}
	return cfg, nil
}
