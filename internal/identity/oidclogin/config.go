package oidclogin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
)

// Config is one OpenID provider as a login source.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document states it.
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client (PKCE alone)
	// RedirectURL is Berth's callback, registered with the provider
	// byte for byte; no query or fragment.
	RedirectURL string
	// Scopes requested besides "openid" (default: profile, email).
	Scopes []string
	// GroupsClaim names the claim holding the user's groups (default
	// "groups"). A name absent at the top level is tried as a dotted path,
	// e.g. "realm_access.roles" for Keycloak.
	GroupsClaim string
	// GroupRoles map provider groups to team roles. A user in several
	// groups for one team gets the highest role among them.
	GroupRoles []GroupRole
	// UserInfo also asks the UserInfo endpoint for claims the ID token
	// lacks (some providers put only "sub" in the ID token).
	UserInfo bool
	// PendingTTL is how long a started login may take (default 10m).
	PendingTTL time.Duration
	// HTTPClient talks to the provider (default: a client with a 10 s
	// timeout). Tests and proxies set their own.
	HTTPClient *http.Client
}

// GroupRole grants Role in Team to members of Group.
type GroupRole struct {
	Group string    `json:"group"`
	Team  string    `json:"team"`
	Role  rbac.Role `json:"role"`
}

func (c Config) withDefaults() (Config, error) {
	if c.Issuer == "" {
		return c, fmt.Errorf("%w: issuer: required", ErrConfig)
	}
	if c.ClientID == "" {
		return c, fmt.Errorf("%w: client_id: required", ErrConfig)
	}
	u, err := url.Parse(c.RedirectURL)
	switch {
	case c.RedirectURL == "":
		return c, fmt.Errorf("%w: redirect_url: required", ErrConfig)
	case err != nil:
		return c, fmt.Errorf("%w: redirect_url: %w", ErrConfig, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return c, fmt.Errorf("%w: redirect_url: %q is not an absolute http(s) URL", ErrConfig, c.RedirectURL)
	case u.RawQuery != "" || u.Fragment != "":
		return c, fmt.Errorf("%w: redirect_url: %q must have no query or fragment", ErrConfig, c.RedirectURL)
	}
	for i, g := range c.GroupRoles {
		switch {
		case g.Group == "":
			return c, fmt.Errorf("%w: group_roles[%d].group: required", ErrConfig, i)
		case g.Team == "":
			return c, fmt.Errorf("%w: group_roles[%d].team: required", ErrConfig, i)
		case !g.Role.Valid():
			return c, fmt.Errorf("%w: group_roles[%d].role: %q, want one of %v", ErrConfig, i, g.Role, rbac.AllRoles())
		}
	}
	if c.Scopes == nil {
		c.Scopes = []string{"profile", "email"}
	}
	if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	if c.PendingTTL == 0 {
		c.PendingTTL = 10 * time.Minute
	}
	if c.PendingTTL < 0 {
		return c, fmt.Errorf("%w: pending_ttl: must be positive, got %v", ErrConfig, c.PendingTTL)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return c, nil
}

// TeamRoles maps groups to team roles by the mapping: the highest role
// per team wins. Groups not in the mapping grant nothing.
func TeamRoles(mapping []GroupRole, groups []string) map[string]rbac.Role {
	out := map[string]rbac.Role{}
	for _, m := range mapping {
		if !slices.Contains(groups, m.Group) {
			continue
		}
		if cur, ok := out[m.Team]; !ok || m.Role.AtLeast(cur) {
			out[m.Team] = m.Role
		}
	}
	return out
}
