package store

import (
	"context"
	"time"

	"github.com/berthdev/berth/internal/identity/audit"
)

// Team is a tenant: apps and members belong to one.
type Team struct {
	ID        string
	Name      string // unique, a DNS label
	CreatedAt time.Time
}

// User is a person who signs in with a password, SSO, or both.
type User struct {
	ID    string
	Email string // unique, compared case-insensitively
	Name  string
	// PasswordHash is an argon2id PHC string; "" means no password login.
	PasswordHash string
	// PlatformAdmin acts as owner in every team (the operator).
	PlatformAdmin bool
	// OIDCIssuer and OIDCSubject link the user to an SSO identity; both
	// "" when none. The pair is unique.
	OIDCIssuer  string
	OIDCSubject string
	Disabled    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Member is a user's role in a team.
type Member struct {
	Team      string
	User      string
	Role      string // viewer | developer | admin | owner
	Source    string // manual | sso
	CreatedAt time.Time
}

// Invitation lets whoever holds its token join Team as Role, once, before
// ExpiresAt. Team and Role are fixed at creation: accepting cannot change
// them.
type Invitation struct {
	ID        string
	Hash      string // hex sha256 of the invitation token
	Team      string
	Role      string
	Email     string // when set, only the user with this email may accept
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	// AcceptedAt and AcceptedBy are set once, by AcceptInvitation.
	AcceptedAt time.Time
	AcceptedBy string
}

// Session is a console login; only hashes of its cookie and CSRF token
// are kept.
type Session struct {
	ID        string
	Hash      string // hex sha256 of the session cookie value
	CSRFHash  string // hex sha256 of the CSRF token
	User      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditQuery selects audit records.
type AuditQuery struct {
	Team     string    // "" for every team
	Since    time.Time // zero for all time
	AfterSeq int64     // records with Seq > AfterSeq
	Limit    int       // <= 0: no limit
}

// Identity stores teams, users, memberships, invitations, sessions and the
// audit log.
type Identity interface {
	// CreateTeam stores t; ErrExists if the ID or the name is taken.
	CreateTeam(ctx context.Context, t Team) error
	GetTeam(ctx context.Context, id string) (Team, error)
	GetTeamByName(ctx context.Context, name string) (Team, error)
	ListTeams(ctx context.Context) ([]Team, error) // ordered by name
	// TeamNames maps the given team IDs to their names; IDs of no team
	// are left out. It reads only those teams, where ListTeams reads all.
	TeamNames(ctx context.Context, ids []string) (map[string]string, error)
	// RenameTeam changes team id's name; ErrNotFound if missing, ErrExists
	// if another team has the name.
	RenameTeam(ctx context.Context, id, name string) error

	// CreateUser stores u; ErrExists if the ID, the email or the SSO
	// identity is taken.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	GetUserByIdentity(ctx context.Context, issuer, subject string) (User, error)
	ListUsers(ctx context.Context) ([]User, error) // ordered by email
	// UpdateUser writes every field but ID and CreatedAt; ErrNotFound if
	// missing, ErrExists if the new email or identity is taken.
	UpdateUser(ctx context.Context, u User) error

	// PutMember adds m, or changes the role and source of an existing
	// membership (CreatedAt is kept); ErrNotFound if the team or user is
	// missing.
	PutMember(ctx context.Context, m Member) error
	GetMember(ctx context.Context, team, user string) (Member, error)
	DeleteMember(ctx context.Context, team, user string) error
	ListMembers(ctx context.Context, team string) ([]Member, error)     // ordered by user
	ListMemberships(ctx context.Context, user string) ([]Member, error) // ordered by team

	// CreateInvitation stores inv; ErrExists if the ID or hash is taken,
	// ErrNotFound if the team is missing.
	CreateInvitation(ctx context.Context, inv Invitation) error
	ListInvitations(ctx context.Context, team string) ([]Invitation, error) // ordered by creation
	// AcceptInvitation marks the invitation with hash as accepted by user
	// at at and returns it. ErrNotFound for an unknown hash; ErrConflict
	// when it was accepted already or has expired at at. Only one of two
	// concurrent accepts succeeds.
	AcceptInvitation(ctx context.Context, hash, user string, at time.Time) (Invitation, error)

	CreateSession(ctx context.Context, s Session) error
	GetSessionByHash(ctx context.Context, hash string) (Session, error)
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of user but keep ("" for
	// none) and returns how many it ended.
	DeleteUserSessions(ctx context.Context, user, keep string) (int, error)

	// AppendAudit chains r after the newest record (audit.Append) and
	// stores it, in one transaction: concurrent appends form one chain.
	// It returns the record as stored.
	AppendAudit(ctx context.Context, r audit.Record) (audit.Record, error)
	// ListAudit returns records in Seq order.
	ListAudit(ctx context.Context, q AuditQuery) ([]audit.Record, error)
}
