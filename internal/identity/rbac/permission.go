package rbac

import (
	"fmt"
	"slices"
)

// Permission is a verb on a resource, "resource:verb".
type Permission string

// The permissions. Reads of a resource never imply seeing secret values:
// SecretsRead lists names and versions; values reach only the runtime.
const (
	AppsRead        Permission = "apps:read"
	AppsDeploy      Permission = "apps:deploy"
	AppsDelete      Permission = "apps:delete"
	ConfigRead      Permission = "config:read"
	ConfigWrite     Permission = "config:write"
	SecretsRead     Permission = "secrets:read"
	SecretsWrite    Permission = "secrets:write"
	PipelinesRead   Permission = "pipelines:read"
	PipelinesRun    Permission = "pipelines:run"
	ApprovalsDecide Permission = "approvals:decide"
	MembersRead     Permission = "members:read"
	MembersManage   Permission = "members:manage"
	TokensManage    Permission = "tokens:manage"
	EnvsManage      Permission = "envs:manage"
	AuditRead       Permission = "audit:read"
	TeamsManage     Permission = "teams:manage"
	ClustersManage  Permission = "clusters:manage"

	// EnvsRead lists and shows a team's environments (where its apps can
	// go); creating and removing them is EnvsManage.
	EnvsRead Permission = "envs:read"
)

// permissions is every permission with the narrowest token scope that
// allows it. Listing both together keeps them from drifting apart: a new
// permission without a scope does not compile into the table.
var permissions = []struct {
	perm  Permission
	scope Scope
}{
	{AppsRead, ScopeRead},
	{ConfigRead, ScopeRead},
	{SecretsRead, ScopeRead},
	{PipelinesRead, ScopeRead},
	{MembersRead, ScopeRead},
	{AuditRead, ScopeRead},
	{EnvsRead, ScopeRead},
	// What a CI job needs to ship: deploy, run pipelines, set config.
	{AppsDeploy, ScopeDeploy},
	{PipelinesRun, ScopeDeploy},
	{ConfigWrite, ScopeDeploy},
	{SecretsWrite, ScopeDeploy},
	// Destructive or governing actions. Approvals are here on purpose: a
	// deploy-scoped CI token must not approve its own release.
	{AppsDelete, ScopeAdmin},
	{ApprovalsDecide, ScopeAdmin},
	{MembersManage, ScopeAdmin},
	{TokensManage, ScopeAdmin},
	{EnvsManage, ScopeAdmin},
	{TeamsManage, ScopeAdmin},
	{ClustersManage, ScopeAdmin},
}

// AllPermissions returns every permission, sorted.
func AllPermissions() []Permission {
	out := make([]Permission, 0, len(permissions))
	for _, p := range permissions {
		out = append(out, p.perm)
	}
	slices.Sort(out)
	return out
}

// Known reports whether p is in the table.
func (p Permission) Known() bool {
	_, ok := minScope(p)
	return ok
}

// ParsePermission checks a permission name from input; field names the
// input in the error.
func ParsePermission(field, s string) (Permission, error) {
	p := Permission(s)
	if !p.Known() {
		return "", fmt.Errorf("%s: %w permission %q: want one of %v", field, ErrInvalid, s, AllPermissions())
	}
	return p, nil
}

func minScope(p Permission) (Scope, bool) {
	for _, e := range permissions {
		if e.perm == p {
			return e.scope, true
		}
	}
	return "", false
}
