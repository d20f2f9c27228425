package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berthdev/berth/pkg/api"
)

// Whoami returns the caller as the server sees it: user, token, scope and
// team roles.
func (c *Client) Whoami(ctx context.Context) (api.Whoami, error) {
	var out api.Whoami
	err := c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, nil, &out)
	return out, err
}

// ListTeams returns the caller's teams with its role in each.
func (c *Client) ListTeams(ctx context.Context) ([]api.Team, error) {
	var out []api.Team
	err := c.do(ctx, http.MethodGet, "/api/v1/teams", nil, nil, &out)
	return out, err
}

// CreateTeam makes a team (platform admins); the caller becomes its owner.
func (c *Client) CreateTeam(ctx context.Context, name string) (api.Team, error) {
	var out api.Team
	err := c.do(ctx, http.MethodPost, "/api/v1/teams", nil, api.CreateTeamRequest{Name: name}, &out)
	return out, err
}

func teamPath(team string, rest ...string) string {
	p := "/api/v1/teams/" + url.PathEscape(team)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// ListMembers returns a team's members (team: name or ID).
func (c *Client) ListMembers(ctx context.Context, team string) ([]api.Member, error) {
	var out []api.Member
	err := c.do(ctx, http.MethodGet, teamPath(team, "members"), nil, nil, &out)
	return out, err
}

// SetRole changes a member's role.
func (c *Client) SetRole(ctx context.Context, team, user, role string) (api.Member, error) {
	var out api.Member
	err := c.do(ctx, http.MethodPut, teamPath(team, "members", user), nil, api.SetRoleRequest{Role: role}, &out)
	return out, err
}

// RemoveMember takes a user out of a team.
func (c *Client) RemoveMember(ctx context.Context, team, user string) error {
	return c.do(ctx, http.MethodDelete, teamPath(team, "members", user), nil, nil, nil)
}

// Invite makes a single-use invitation into team; its Token is shown once.
func (c *Client) Invite(ctx context.Context, team string, req api.CreateInvitationRequest) (api.Invitation, error) {
	var out api.Invitation
	err := c.do(ctx, http.MethodPost, teamPath(team, "invitations"), nil, req, &out)
	return out, err
}

// ListInvitations returns a team's invitations, without their codes.
func (c *Client) ListInvitations(ctx context.Context, team string) ([]api.Invitation, error) {
	var out []api.Invitation
	err := c.do(ctx, http.MethodGet, teamPath(team, "invitations"), nil, nil, &out)
	return out, err
}

// AcceptInvitation joins the invitation's team with its role.
func (c *Client) AcceptInvitation(ctx context.Context, code string) (api.Invitation, error) {
	var out api.Invitation
	err := c.do(ctx, http.MethodPost, "/api/v1/invitations/accept", nil, api.AcceptInvitationRequest{Token: code}, &out)
	return out, err
}

// ListUsers returns every user (platform admins).
func (c *Client) ListUsers(ctx context.Context) ([]api.User, error) {
	var out []api.User
	err := c.do(ctx, http.MethodGet, "/api/v1/users", nil, nil, &out)
	return out, err
}

// CreateUser makes a local user (platform admins).
func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest) (api.User, error) {
	var out api.User
	err := c.do(ctx, http.MethodPost, "/api/v1/users", nil, req, &out)
	return out, err
}

// ListTokens returns the caller's personal tokens and the team tokens it
// manages (never the tokens themselves).
func (c *Client) ListTokens(ctx context.Context) ([]api.Token, error) {
	var out []api.Token
	err := c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, nil, &out)
	return out, err
}

// CreateToken makes a token; its Token is shown once.
func (c *Client) CreateToken(ctx context.Context, req api.CreateTokenRequest) (api.Token, error) {
	var out api.Token
	err := c.do(ctx, http.MethodPost, "/api/v1/tokens", nil, req, &out)
	return out, err
}

// RevokeToken ends a token; the next call with it is refused.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, nil, nil)
}

// AuditQuery selects audit records.
type AuditQuery struct {
	Team  string // name or ID; "" for every team the caller may read
	Since string // RFC 3339 time or a duration ("24h")
	After int64  // records after this seq
	Limit int
}

// ListAudit returns audit records, oldest first.
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) ([]api.AuditRecord, error) {
	v := url.Values{}
	if q.Team != "" {
		v.Set("team", q.Team)
	}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out []api.AuditRecord
	err := c.do(ctx, http.MethodGet, "/api/v1/audit", v, nil, &out)
	return out, err
}

// VerifyAudit checks the audit chain (platform admins).
func (c *Client) VerifyAudit(ctx context.Context) (api.AuditVerifyResponse, error) {
	var out api.AuditVerifyResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/audit/verify", nil, nil, &out)
	return out, err
}

// SSOStartURL is where a browser starts a single sign-on login for the
// CLI: the server hands the one-time code to redirect (a loopback URL)
// with state, and ExchangeCLICode redeems it with the verifier whose
// S256 challenge is given here.
func (c *Client) SSOStartURL(redirect, challenge, state string) string {
	return c.base + "/api/v1/auth/oidc/start?" + url.Values{
		"cli_redirect": {redirect}, "cli_challenge": {challenge}, "cli_state": {state}}.Encode()
}

// ExchangeCLICode turns a CLI SSO login's code into a personal token.
func (c *Client) ExchangeCLICode(ctx context.Context, code, verifier string) (api.Token, error) {
	var out api.Token
	err := c.do(ctx, http.MethodPost, "/api/v1/auth/cli/exchange", nil, api.CLIExchangeRequest{Code: code, Verifier: verifier}, &out)
	return out, err
}

// ChangePassword changes the caller's own password; the caller's other
// sessions end.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/users/me/password", nil,
		api.ChangePasswordRequest{CurrentPassword: current, NewPassword: next}, nil)
}

// SetUserDisabled disables a user (their sessions and tokens stop
// working) or enables them again (platform admins).
func (c *Client) SetUserDisabled(ctx context.Context, user string, disabled bool) (api.User, error) {
	verb := "enable"
	if disabled {
		verb = "disable"
	}
	var out api.User
	err := c.do(ctx, http.MethodPost, "/api/v1/users/"+url.PathEscape(user)+"/"+verb, nil, nil, &out)
	return out, err
}

// RenameTeam gives a team (by name or ID) a new name (owners).
func (c *Client) RenameTeam(ctx context.Context, team, name string) (api.Team, error) {
	var out api.Team
	err := c.do(ctx, http.MethodPatch, teamPath(team), nil, api.RenameTeamRequest{Name: name}, &out)
	return out, err
}
