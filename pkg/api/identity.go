package api

import "time"

// Identity wire types: teams, users, members, invitations, tokens, logins
// and the audit log. Secrets (passwords, tokens, invitation codes) appear
// only in requests, and in the one response that creates them.

// Team is a tenant.
type Team struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role,omitempty"` // the caller's role in it
	CreatedAt time.Time `json:"created_at"`
}

// CreateTeamRequest creates a team; the caller becomes its owner.
type CreateTeamRequest struct {
	Name string `json:"name"`
}

// RenameTeamRequest gives a team a new name (owners).
type RenameTeamRequest struct {
	Name string `json:"name"`
}

// ChangePasswordRequest changes the caller's own password; the current
// one proves it is them. The caller's other sessions end.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// User is a person who can sign in.
type User struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name,omitempty"`
	PlatformAdmin bool   `json:"platform_admin,omitempty"`
	SSO           bool   `json:"sso,omitempty"`      // linked to an SSO identity
	Password      bool   `json:"password,omitempty"` // may sign in with a password
	// Disabled users cannot sign in; their sessions and tokens fail.
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateUserRequest creates a local user (platform admins only).
type CreateUserRequest struct {
	Email         string `json:"email"`
	Name          string `json:"name,omitempty"`
	Password      string `json:"password,omitempty"`
	PlatformAdmin bool   `json:"platform_admin,omitempty"`
}

// Member is a user's role in a team.
type Member struct {
	Team      string    `json:"team"` // team name
	User      string    `json:"user"` // user ID
	Email     string    `json:"email,omitempty"`
	Role      string    `json:"role"`
	Source    string    `json:"source"` // manual | sso
	CreatedAt time.Time `json:"created_at"`
}

// SetRoleRequest changes a member's role.
type SetRoleRequest struct {
	Role string `json:"role"`
}

// CreateInvitationRequest invites someone into a team with a role.
type CreateInvitationRequest struct {
	Role  string `json:"role"`
	Email string `json:"email,omitempty"` // when set, only this user may accept
	// ExpiresIn is a Go duration ("72h"); default 7 days, at most 30.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// Invitation is an invitation; Token is set only in the answer that
// creates it.
type Invitation struct {
	ID         string    `json:"id"`
	Team       string    `json:"team"`
	Role       string    `json:"role"`
	Email      string    `json:"email,omitempty"`
	Token      string    `json:"token,omitempty"`
	ExpiresAt  time.Time `json:"expires_at"`
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
}

// AcceptInvitationRequest joins the invitation's team with its role. It
// has no team or role: those come from the invitation alone.
type AcceptInvitationRequest struct {
	Token string `json:"token"`
}

// CreateTokenRequest makes an API token: a personal one without Team, a
// team token (for CI) with Team and Role.
type CreateTokenRequest struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`          // read | deploy | admin
	Team  string `json:"team,omitempty"` // team name: a team token
	Role  string `json:"role,omitempty"` // a team token's role; at most the creator's
	// ExpiresIn is a Go duration ("720h"); "" never expires.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// Token describes an API token; Token (the secret) is set only in the
// answer that creates it.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"` // personal | team
	Display    string    `json:"display"`
	Team       string    `json:"team,omitempty"`
	Role       string    `json:"role,omitempty"`
	Scope      string    `json:"scope"`
	Token      string    `json:"token,omitempty"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
}

// LoginRequest signs in with a password and starts a console session.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse answers a login: the session is in an HttpOnly cookie;
// CSRFToken goes in the X-CSRF-Token header of every mutating call made
// with that cookie.
type LoginResponse struct {
	User      User      `json:"user"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CLIExchangeRequest redeems the one-time code an SSO login handed the
// CLI's local callback, with the PKCE verifier the CLI kept.
type CLIExchangeRequest struct {
	Code     string `json:"code"`
	Verifier string `json:"verifier"`
}

// Whoami is the caller as the server sees it.
type Whoami struct {
	User          string            `json:"user,omitempty"`
	Email         string            `json:"email,omitempty"`
	Token         string            `json:"token,omitempty"` // token ID
	Scope         string            `json:"scope,omitempty"`
	PlatformAdmin bool              `json:"platform_admin,omitempty"`
	Teams         map[string]string `json:"teams"` // team name -> role
}

// AuditRecord is one entry of the audit log.
type AuditRecord struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	Team      string            `json:"team,omitempty"` // team ID
	Action    string            `json:"action"`
	Object    string            `json:"object,omitempty"`
	SourceIP  string            `json:"source_ip,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Outcome   string            `json:"outcome"`
	Details   map[string]string `json:"details,omitempty"`
	Redacted  []string          `json:"redacted,omitempty"`
	PrevHash  string            `json:"prev_hash"`
	Hash      string            `json:"hash"`
}

// AuditVerifyResponse says whether the stored chain holds.
type AuditVerifyResponse struct {
	OK      bool   `json:"ok"`
	Records int    `json:"records"`
	HeadSeq int64  `json:"head_seq"`
	Head    string `json:"head"`
	// BrokenSeq and Reason locate the first broken link when !OK.
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Reason    string `json:"reason,omitempty"`
}
