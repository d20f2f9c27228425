package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/identity/loginlimit"
	"github.com/berthdev/berth/internal/identity/password"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Account management: a user changes their own password, a platform admin
// disables or enables a user, a team owner renames the team.

// changePassword sets the caller's own password. The current password is
// required (a stolen session or token alone must not take the account
// over) and is throttled like a login. The caller's other sessions end;
// the one making the call goes on.
func (s *server) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req api.ChangePasswordRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	c := callerFrom(r.Context())
	if c == nil || c.user.ID == "" {
		auditFrom(r.Context()).deny()
		return forbidden("only a user changes their password: sign in, or use a personal token (this is a team token)")
	}
	setAuditObject(r.Context(), "user/"+c.user.ID)
	if c.principal.Scope != "" && !c.principal.Scope.Includes(rbac.ScopeAdmin) {
		auditFrom(r.Context()).deny()
		return forbidden("changing your password needs a session or an admin-scoped personal token; this token has scope %s", c.principal.Scope)
	}
	u := c.user
	if u.PasswordHash == "" {
		return invalidField("current_password", "your account has no password (it signs in with SSO); ask a platform admin to set one")
	}
	if req.NewPassword == "" {
		return invalidField("new_password", "required")
	}
	ip, now := clientIP(r), s.Now()
	wait, ok, err := s.logins.check(r.Context(), u.Email, ip, now)
	if err != nil {
		return err
	}
	if !ok {
		auditFrom(r.Context()).deny()
		return tooManyPasswords(w, u.Email, wait)
	}
	ok, err = password.Verify(req.CurrentPassword, u.PasswordHash)
	if err != nil {
		return fmt.Errorf("verify password of %s: %w", u.ID, err)
	}
	if !ok {
		auditFrom(r.Context()).deny()
		wait, err := s.logins.fail(r.Context(), u.Email, ip, now)
		if err != nil {
			return err
		}
		if wait > 0 {
			return tooManyPasswords(w, u.Email, wait)
		}
		return invalidField("current_password", "is not your current password")
	}
	if err := s.logins.succeed(r.Context(), u.Email, ip); err != nil {
		return err
	}
	h, err := password.Hash("new_password", req.NewPassword, password.DefaultParams)
	if err != nil {
		return invalidField("new_password", "%s", strings.TrimPrefix(err.Error(), "password: "))
	}
	keep := ""
	if c.session != nil {
		keep = c.session.ID
	}
	var ended int
	err = s.inTx(r.Context(), func(tx store.Tx) error {
		cur, err := tx.GetUser(r.Context(), u.ID)
		if err != nil {
			return fmt.Errorf("get user %s: %w", u.ID, err)
		}
		cur.PasswordHash, cur.UpdatedAt = h, now.UTC()
		if err := tx.UpdateUser(r.Context(), cur); err != nil {
			return fmt.Errorf("update user %s: %w", u.ID, err)
		}
		ended, err = tx.DeleteUserSessions(r.Context(), u.ID, keep)
		return err
	})
	if err != nil {
		return err
	}
	s.revocations.Poke()
	s.loggerFrom(r.Context()).Info("password changed", "user", u.ID, "sessions_ended", ended)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tooManyPasswords answers 429 with Retry-After for a password change
// throttled like a login.
func tooManyPasswords(w http.ResponseWriter, email string, wait time.Duration) error {
	w.Header().Set("Retry-After", loginlimit.RetryAfter(wait))
	return newError(http.StatusTooManyRequests, api.CodeTooManyRequests,
		"too many wrong passwords for %s from this address; try again in %ss", email, loginlimit.RetryAfter(wait))
}

func (s *server) disableUser(w http.ResponseWriter, r *http.Request) error {
	return s.setUserDisabled(w, r, true)
}

func (s *server) enableUser(w http.ResponseWriter, r *http.Request) error {
	return s.setUserDisabled(w, r, false)
}

// setUserDisabled disables or enables a user (platform admins only; to
// anyone else a user is as missing as one that does not exist). A disabled
// user's sessions end at once; their personal tokens fail from the next
// call on (every call checks the user, see activeUser).
func (s *server) setUserDisabled(w http.ResponseWriter, r *http.Request, disabled bool) error {
	id := r.PathValue("user")
	setAuditObject(r.Context(), "user/"+id)
	missing := notFound("user %q not found", id)
	if err := s.platformAdmin(r.Context(), rbac.MembersManage, missing); err != nil {
		return err
	}
	if c := callerFrom(r.Context()); disabled && c != nil && c.user.ID == id {
		return invalidField("user", "you cannot disable yourself; ask another platform admin")
	}
	var u store.User
	err := s.inTx(r.Context(), func(tx store.Tx) error {
		var err error
		u, err = tx.GetUser(r.Context(), id)
		if err != nil {
			return err
		}
		if u.Disabled == disabled {
			return nil
		}
		u.Disabled, u.UpdatedAt = disabled, s.Now().UTC()
		if err := tx.UpdateUser(r.Context(), u); err != nil {
			return fmt.Errorf("update user %s: %w", id, err)
		}
		if disabled {
			_, err = tx.DeleteUserSessions(r.Context(), id, "")
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return missing
	}
	if err != nil {
		return err
	}
	s.revocations.Poke()
	s.loggerFrom(r.Context()).Info("user access changed", "user", id, "disabled", disabled)
	writeJSON(w, http.StatusOK, toAPIUser(u))
	return nil
}

// renameTeam gives a team a new name (owners). Everything refers to teams
// by ID, so nothing else changes; callers that used the old name must use
// the new one.
func (s *server) renameTeam(w http.ResponseWriter, r *http.Request) error {
	var req api.RenameTeamRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	t, err := s.loadTeam(r.Context(), r.PathValue("team"), rbac.TeamsManage)
	if err != nil {
		return err
	}
	if !appNameRE.MatchString(req.Name) {
		return invalidField("name", "%q is not a team name (lower-case letters, digits and '-', 1 to 63 characters)", req.Name)
	}
	if req.Name != t.Name {
		err := s.inTx(r.Context(), func(tx store.Tx) error { return tx.RenameTeam(r.Context(), t.ID, req.Name) })
		if errors.Is(err, store.ErrExists) {
			return conflict("a team named %q exists already", req.Name)
		}
		if err != nil {
			return fmt.Errorf("rename team %s: %w", t.ID, err)
		}
		s.loggerFrom(r.Context()).Info("team renamed", "team", t.ID, "from", t.Name, "to", req.Name)
		t.Name = req.Name
	}
	writeJSON(w, http.StatusOK, teamAnswer(r.Context(), t))
	return nil
}

// teamAnswer is t as the API shows it to the caller of ctx, with the
// caller's role in it.
func teamAnswer(ctx context.Context, t store.Team) api.Team {
	p, _ := principalFrom(ctx)
	role, _ := p.Role(t.ID)
	return api.Team{ID: t.ID, Name: t.Name, Role: string(role), CreatedAt: t.CreatedAt}
}
