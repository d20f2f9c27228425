package rbac

import (
	"fmt"
	"slices"
)

// Role is a member's standing in a team. Roles are strictly ordered: each
// holds every permission of the roles below it.
type Role string

// The roles, lowest first.
const (
	RoleViewer    Role = "viewer"
	RoleDeveloper Role = "developer"
	RoleAdmin     Role = "admin"
	RoleOwner     Role = "owner"
)

// roles lists, per role, the permissions it adds to the role below it.
// Owner is the only role that can change the team itself or register
// clusters (which are shared infrastructure, billed and trusted at the
// team's top).
var roles = []struct {
	role Role
	adds []Permission
}{
	{RoleViewer, []Permission{AppsRead, ConfigRead, PipelinesRead, MembersRead, EnvsRead}},
	{RoleDeveloper, []Permission{AppsDeploy, PipelinesRun, ConfigWrite, SecretsRead, SecretsWrite, ApprovalsDecide}},
	{RoleAdmin, []Permission{AppsDelete, MembersManage, TokensManage, EnvsManage, AuditRead}},
	{RoleOwner, []Permission{TeamsManage, ClustersManage}},
}

// AllRoles returns the roles, lowest first.
func AllRoles() []Role {
	out := make([]Role, len(roles))
	for i, r := range roles {
		out[i] = r.role
	}
	return out
}

// ParseRole checks a role name from input; field names the input in the
// error.
func ParseRole(field, s string) (Role, error) {
	r := Role(s)
	if r.rank() < 0 {
		return "", fmt.Errorf("%s: %w role %q: want one of %v", field, ErrInvalid, s, AllRoles())
	}
	return r, nil
}

// rank is the role's position, -1 for an unknown role.
func (r Role) rank() int {
	for i, e := range roles {
		if e.role == r {
			return i
		}
	}
	return -1
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() >= 0 }

// AtLeast reports whether r ranks at or above min; false if either is
// unknown. Use it for rules phrased as a role, such as a pipeline
// approval's `role: admin`, on top of ApprovalsDecide.
func (r Role) AtLeast(min Role) bool {
	return r.rank() >= 0 && min.rank() >= 0 && r.rank() >= min.rank()
}

// Can reports whether the role holds p.
func (r Role) Can(p Permission) bool {
	n := r.rank()
	if n < 0 {
		return false
	}
	for _, e := range roles[:n+1] {
		if slices.Contains(e.adds, p) {
			return true
		}
	}
	return false
}

// Permissions returns the role's permissions, sorted; nil for an unknown
// role.
func (r Role) Permissions() []Permission {
	var out []Permission
	for _, p := range AllPermissions() {
		if r.Can(p) {
			out = append(out, p)
		}
	}
	return out
}
