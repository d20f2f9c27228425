package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, o ops, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := o.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
	}
	return out, nil
}

// queryOne runs a one-row query; no row is ErrNotFound naming what.
func queryOne[T any](ctx context.Context, o ops, what string, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(o.q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("sqlite: get %s: %w", what, err)
	}
	return v, nil
}

func required(what string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return fmt.Errorf("%s: %s: must not be empty: %w", what, fields[i], store.ErrInvalid)
		}
	}
	return nil
}

// Teams.

const teamColumns = `id, name, created_at`

func scanTeam(s scanner) (store.Team, error) {
	var t store.Team
	var created string
	if err := s.Scan(&t.ID, &t.Name, &created); err != nil {
		return t, err
	}
	var err error
	t.CreatedAt, err = parseTime("teams.created_at", created)
	return t, err
}

func (o ops) CreateTeam(ctx context.Context, t store.Team) error {
	if err := required("team", "id", t.ID, "name", t.Name); err != nil {
		return err
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO teams (`+teamColumns+`) VALUES (?, ?, ?)`, t.ID, t.Name, formatTime(t.CreatedAt))
	if err != nil {
		return mapErr(err, "create", fmt.Sprintf("team %q", t.Name), "")
	}
	return nil
}

func (o ops) GetTeam(ctx context.Context, id string) (store.Team, error) {
	return queryOne(ctx, o, fmt.Sprintf("team %q", id), scanTeam, `SELECT `+teamColumns+` FROM teams WHERE id = ?`, id)
}

func (o ops) GetTeamByName(ctx context.Context, name string) (store.Team, error) {
	return queryOne(ctx, o, fmt.Sprintf("team %q", name), scanTeam, `SELECT `+teamColumns+` FROM teams WHERE name = ?`, name)
}

func (o ops) ListTeams(ctx context.Context) ([]store.Team, error) {
	return queryAll(ctx, o, "teams", scanTeam, `SELECT `+teamColumns+` FROM teams ORDER BY name`)
}

// Users.

const userColumns = `id, email, name, password_hash, platform_admin, oidc_issuer, oidc_subject, disabled, created_at, updated_at`

func scanUser(s scanner) (store.User, error) {
	var u store.User
	var created, updated string
	if err := s.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.PlatformAdmin, &u.OIDCIssuer, &u.OIDCSubject,
		&u.Disabled, &created, &updated); err != nil {
		return u, err
	}
	var err error
	if u.CreatedAt, err = parseTime("users.created_at", created); err != nil {
		return u, err
	}
	u.UpdatedAt, err = parseTime("users.updated_at", updated)
	return u, err
}

func checkUser(u store.User) error {
	if err := required("user", "id", u.ID, "email", u.Email); err != nil {
		return err
	}
	if (u.OIDCIssuer == "") != (u.OIDCSubject == "") {
		return fmt.Errorf("user %q: oidc issuer and subject: set both or neither: %w", u.ID, store.ErrInvalid)
	}
	return nil
}

func (o ops) CreateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.PlatformAdmin, u.OIDCIssuer, u.OIDCSubject, u.Disabled,
		formatTime(u.CreatedAt), formatTime(u.UpdatedAt))
	if err != nil {
		return mapErr(err, "create", fmt.Sprintf("user %q", u.ID), "")
	}
	return nil
}

func (o ops) UpdateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	res, err := o.q.ExecContext(ctx, `UPDATE users SET email = ?, name = ?, password_hash = ?, platform_admin = ?,
		oidc_issuer = ?, oidc_subject = ?, disabled = ?, updated_at = ? WHERE id = ?`,
		u.Email, u.Name, u.PasswordHash, u.PlatformAdmin, u.OIDCIssuer, u.OIDCSubject, u.Disabled, formatTime(u.UpdatedAt), u.ID)
	if err != nil {
		return mapErr(err, "update", fmt.Sprintf("user %q", u.ID), "")
	}
	return affected(res, nil, fmt.Sprintf("user %q", u.ID))
}

func (o ops) GetUser(ctx context.Context, id string) (store.User, error) {
	return queryOne(ctx, o, fmt.Sprintf("user %q", id), scanUser, `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
}

func (o ops) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	return queryOne(ctx, o, "user", scanUser, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower(?)`, email)
}

func (o ops) GetUserByIdentity(ctx context.Context, issuer, subject string) (store.User, error) {
	if issuer == "" {
		return store.User{}, fmt.Errorf("user: oidc issuer: must not be empty: %w", store.ErrInvalid)
	}
	return queryOne(ctx, o, "user", scanUser, `SELECT `+userColumns+` FROM users WHERE oidc_issuer = ? AND oidc_subject = ?`, issuer, subject)
}

func (o ops) ListUsers(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, o, "users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY lower(email), id`)
}

// Members.

const memberColumns = `team, user, role, source, created_at`

func scanMember(s scanner) (store.Member, error) {
	var m store.Member
	var created string
	if err := s.Scan(&m.Team, &m.User, &m.Role, &m.Source, &created); err != nil {
		return m, err
	}
	var err error
	m.CreatedAt, err = parseTime("members.created_at", created)
	return m, err
}

func (o ops) PutMember(ctx context.Context, m store.Member) error {
	if err := required("member", "team", m.Team, "user", m.User, "role", m.Role); err != nil {
		return err
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO members (`+memberColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (team, user) DO UPDATE SET role = excluded.role, source = excluded.source`,
		m.Team, m.User, m.Role, m.Source, formatTime(m.CreatedAt))
	if err != nil {
		return mapErr(err, "put", fmt.Sprintf("member %q of team %q", m.User, m.Team), "team or user")
	}
	return nil
}

func (o ops) GetMember(ctx context.Context, team, user string) (store.Member, error) {
	return queryOne(ctx, o, fmt.Sprintf("member %q of team %q", user, team), scanMember,
		`SELECT `+memberColumns+` FROM members WHERE team = ? AND user = ?`, team, user)
}

func (o ops) DeleteMember(ctx context.Context, team, user string) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM members WHERE team = ? AND user = ?`, team, user)
	return affected(res, err, fmt.Sprintf("member %q of team %q", user, team))
}

func (o ops) ListMembers(ctx context.Context, team string) ([]store.Member, error) {
	return queryAll(ctx, o, "members", scanMember, `SELECT `+memberColumns+` FROM members WHERE team = ? ORDER BY user`, team)
}

func (o ops) ListMemberships(ctx context.Context, user string) ([]store.Member, error) {
	return queryAll(ctx, o, "memberships", scanMember, `SELECT `+memberColumns+` FROM members WHERE user = ? ORDER BY team`, user)
}

// Invitations.

const invitationColumns = `id, hash, team, role, email, created_by, created_at, expires_at, accepted_at, accepted_by`

func scanInvitation(s scanner) (store.Invitation, error) {
	var inv store.Invitation
	var created, expires, accepted string
	if err := s.Scan(&inv.ID, &inv.Hash, &inv.Team, &inv.Role, &inv.Email, &inv.CreatedBy, &created, &expires,
		&accepted, &inv.AcceptedBy); err != nil {
		return inv, err
	}
	var err error
	if inv.CreatedAt, err = parseTime("invitations.created_at", created); err != nil {
		return inv, err
	}
	if inv.ExpiresAt, err = parseTime("invitations.expires_at", expires); err != nil {
		return inv, err
	}
	inv.AcceptedAt, err = parseOptTime("invitations.accepted_at", accepted)
	return inv, err
}

func (o ops) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	if err := required("invitation", "id", inv.ID, "hash", inv.Hash, "team", inv.Team, "role", inv.Role); err != nil {
		return err
	}
	if inv.ExpiresAt.IsZero() {
		return fmt.Errorf("invitation %q: expires_at: required: %w", inv.ID, store.ErrInvalid)
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO invitations (`+invitationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.Hash, inv.Team, inv.Role, inv.Email, inv.CreatedBy, formatTime(inv.CreatedAt),
		formatTime(inv.ExpiresAt), formatOptTime(inv.AcceptedAt), inv.AcceptedBy)
	if err != nil {
		return mapErr(err, "create", fmt.Sprintf("invitation %q", inv.ID), fmt.Sprintf("team %q", inv.Team))
	}
	return nil
}

func (o ops) ListInvitations(ctx context.Context, team string) ([]store.Invitation, error) {
	return queryAll(ctx, o, "invitations", scanInvitation,
		`SELECT `+invitationColumns+` FROM invitations WHERE team = ? ORDER BY created_at, id`, team)
}

func (o ops) AcceptInvitation(ctx context.Context, hash, user string, at time.Time) (store.Invitation, error) {
	if user == "" {
		return store.Invitation{}, fmt.Errorf("invitation: user: must not be empty: %w", store.ErrInvalid)
	}
	// One conditional UPDATE: of two racing accepts, only one matches the
	// accepted_at = '' row.
	res, err := o.q.ExecContext(ctx, `UPDATE invitations SET accepted_at = ?, accepted_by = ?
		WHERE hash = ? AND accepted_at = '' AND expires_at > ?`, formatTime(at), user, hash, formatTime(at))
	if err != nil {
		return store.Invitation{}, fmt.Errorf("sqlite: accept invitation: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Invitation{}, fmt.Errorf("sqlite: accept invitation: %w", err)
	}
	inv, err := queryOne(ctx, o, "invitation", scanInvitation, `SELECT `+invitationColumns+` FROM invitations WHERE hash = ?`, hash)
	if err != nil {
		return store.Invitation{}, err
	}
	if n == 0 {
		return store.Invitation{}, fmt.Errorf("invitation %q: used or expired: %w", inv.ID, store.ErrConflict)
	}
	return inv, nil
}

// Sessions.

const sessionColumns = `id, hash, csrf_hash, user, created_at, expires_at`

func scanSession(s scanner) (store.Session, error) {
	var se store.Session
	var created, expires string
	if err := s.Scan(&se.ID, &se.Hash, &se.CSRFHash, &se.User, &created, &expires); err != nil {
		return se, err
	}
	var err error
	if se.CreatedAt, err = parseTime("sessions.created_at", created); err != nil {
		return se, err
	}
	se.ExpiresAt, err = parseTime("sessions.expires_at", expires)
	return se, err
}

func (o ops) CreateSession(ctx context.Context, s store.Session) error {
	if err := required("session", "id", s.ID, "hash", s.Hash, "csrf_hash", s.CSRFHash, "user", s.User); err != nil {
		return err
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ID, s.Hash, s.CSRFHash, s.User, formatTime(s.CreatedAt), formatTime(s.ExpiresAt))
	if err != nil {
		return mapErr(err, "create", fmt.Sprintf("session %q", s.ID), fmt.Sprintf("user %q", s.User))
	}
	return nil
}

func (o ops) GetSessionByHash(ctx context.Context, hash string) (store.Session, error) {
	return queryOne(ctx, o, "session", scanSession, `SELECT `+sessionColumns+` FROM sessions WHERE hash = ?`, hash)
}

func (o ops) DeleteSession(ctx context.Context, id string) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return affected(res, err, fmt.Sprintf("session %q", id))
}
