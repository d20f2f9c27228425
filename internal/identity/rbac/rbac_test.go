package rbac

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// matrix is the whole role × permission table, written out by hand so a
// change to the table in role.go must be made here too, on purpose.
// Columns: viewer, developer, admin, owner.
var matrix = map[Permission][4]bool{
	AppsRead:        {true, true, true, true},
	ConfigRead:      {true, true, true, true},
	PipelinesRead:   {true, true, true, true},
	MembersRead:     {true, true, true, true},
	EnvsRead:        {true, true, true, true},
	AppsDeploy:      {false, true, true, true},
	PipelinesRun:    {false, true, true, true},
	ConfigWrite:     {false, true, true, true},
	SecretsRead:     {false, true, true, true},
	SecretsWrite:    {false, true, true, true},
	ApprovalsDecide: {false, true, true, true},
	AppsDelete:      {false, false, true, true},
	MembersManage:   {false, false, true, true},
	TokensManage:    {false, false, true, true},
	EnvsManage:      {false, false, true, true},
	AuditRead:       {false, false, true, true},
	TeamsManage:     {false, false, false, true},
	ClustersManage:  {false, false, false, true},
}

// scopeMatrix is the narrowest scope allowing each permission.
var scopeMatrix = map[Permission]Scope{
	AppsRead: ScopeRead, ConfigRead: ScopeRead, SecretsRead: ScopeRead, PipelinesRead: ScopeRead,
	MembersRead: ScopeRead, AuditRead: ScopeRead, EnvsRead: ScopeRead,
	AppsDeploy: ScopeDeploy, PipelinesRun: ScopeDeploy, ConfigWrite: ScopeDeploy, SecretsWrite: ScopeDeploy,
	AppsDelete: ScopeAdmin, ApprovalsDecide: ScopeAdmin, MembersManage: ScopeAdmin, TokensManage: ScopeAdmin,
	EnvsManage: ScopeAdmin, TeamsManage: ScopeAdmin, ClustersManage: ScopeAdmin,
}

func TestMatrixCoversEveryPermission(t *testing.T) {
	t.Parallel()
	all := AllPermissions()
	if len(all) != len(matrix) || len(all) != len(scopeMatrix) {
		t.Fatalf("table has %d permissions, test matrix %d, scope matrix %d", len(all), len(matrix), len(scopeMatrix))
	}
	for _, p := range all {
		if _, ok := matrix[p]; !ok {
			t.Errorf("permission %s missing from the test matrix", p)
		}
		if !strings.Contains(string(p), ":") {
			t.Errorf("permission %s is not resource:verb", p)
		}
	}
}

func TestRolePermissionMatrix(t *testing.T) {
	t.Parallel()
	for i, role := range AllRoles() {
		for perm, row := range matrix {
			t.Run(string(role)+"/"+string(perm), func(t *testing.T) {
				t.Parallel()
				want := row[i]
				if got := role.Can(perm); got != want {
					t.Fatalf("%s.Can(%s) = %v, want %v", role, perm, got, want)
				}
				// Through Authorize, as a session (no scope) member of t1.
				p := Principal{Subject: "u1", Teams: map[string]Role{"t1": role}}
				err := Authorize(p, "t1", perm)
				if want && err != nil {
					t.Fatalf("Authorize = %v, want nil", err)
				}
				if !want && !errors.Is(err, ErrForbidden) {
					t.Fatalf("Authorize = %v, want ErrForbidden", err)
				}
			})
		}
	}
}

// TestScopeNarrowsRole checks effective = role ∩ scope over every role,
// scope and permission.
func TestScopeNarrowsRole(t *testing.T) {
	t.Parallel()
	for i, role := range AllRoles() {
		for _, scope := range AllScopes() {
			for perm, row := range matrix {
				t.Run(string(role)+"/"+string(scope)+"/"+string(perm), func(t *testing.T) {
					t.Parallel()
					want := row[i] && scope.Includes(scopeMatrix[perm])
					p := Principal{Subject: "tok_1", Teams: map[string]Role{"t1": role}, Scope: scope}
					err := Authorize(p, "t1", perm)
					if want != (err == nil) {
						t.Fatalf("Authorize = %v, want allowed=%v", err, want)
					}
					if err != nil && !errors.Is(err, ErrForbidden) {
						t.Fatalf("Authorize = %v, want ErrForbidden", err)
					}
				})
			}
		}
	}
}

func TestOtherTeamIsNotFound(t *testing.T) {
	t.Parallel()
	for _, role := range AllRoles() {
		for _, perm := range AllPermissions() {
			p := Principal{Subject: "u1", Teams: map[string]Role{"t1": role}}
			if err := Authorize(p, "t2", perm); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) {
				t.Fatalf("%s asking %s in another team: %v, want ErrNotFound only", role, perm, err)
			}
		}
	}
	// Even the widest token of a non-member is a non-member.
	p := Principal{Subject: "tok", Teams: map[string]Role{"t1": RoleOwner}, Scope: ScopeAdmin}
	if err := Authorize(p, "t2", AppsRead); !errors.Is(err, ErrNotFound) {
		t.Fatalf("owner token in another team: %v, want ErrNotFound", err)
	}
	// An empty principal (a bug upstream) is a non-member of everything.
	if err := Authorize(Principal{}, "t1", AppsRead); !errors.Is(err, ErrNotFound) {
		t.Fatalf("zero principal: %v, want ErrNotFound", err)
	}
	// A corrupt role in the membership map does not grant membership.
	p = Principal{Subject: "u1", Teams: map[string]Role{"t1": "superuser"}}
	if err := Authorize(p, "t1", AppsRead); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown role: %v, want ErrNotFound", err)
	}
}

func TestPlatformAdmin(t *testing.T) {
	t.Parallel()
	p := Principal{Subject: "admin", PlatformAdmin: true}
	for _, perm := range AllPermissions() {
		if err := Authorize(p, "any-team", perm); err != nil {
			t.Fatalf("platform admin %s: %v", perm, err)
		}
	}
	p.Scope = ScopeRead
	if err := Authorize(p, "any-team", AppsDeploy); !errors.Is(err, ErrForbidden) {
		t.Fatalf("read-scoped platform admin deploying: %v, want ErrForbidden", err)
	}
}

func TestUnknownPermissionAndScope(t *testing.T) {
	t.Parallel()
	p := Principal{Subject: "u1", Teams: map[string]Role{"t1": RoleOwner}}
	if err := Authorize(p, "t1", "apps:fly"); !errors.Is(err, ErrUnknownPermission) {
		t.Fatalf("unknown permission: %v", err)
	}
	// A scope that is not one of ours fails closed.
	p.Scope = "everything"
	if err := Authorize(p, "t1", AppsRead); !errors.Is(err, ErrForbidden) {
		t.Fatalf("bogus scope: %v, want ErrForbidden", err)
	}
}

func TestEffective(t *testing.T) {
	t.Parallel()
	p := Principal{Subject: "tok", Teams: map[string]Role{"t1": RoleDeveloper}, Scope: ScopeAdmin}
	want := RoleDeveloper.Permissions()
	if got := p.Effective("t1"); !slices.Equal(got, want) {
		t.Fatalf("developer with admin scope: %v, want the developer's own %v", got, want)
	}
	p = Principal{Subject: "tok", Teams: map[string]Role{"t1": RoleOwner}, Scope: ScopeRead}
	want = []Permission{AppsRead, AuditRead, ConfigRead, EnvsRead, MembersRead, PipelinesRead, SecretsRead}
	if got := p.Effective("t1"); !slices.Equal(got, want) {
		t.Fatalf("owner with read scope: %v, want %v", got, want)
	}
	if got := p.Effective("t2"); got != nil {
		t.Fatalf("non-member: %v, want nil", got)
	}
}

func TestOrdering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		got  bool
		want bool
	}{
		{"owner >= admin", RoleOwner.AtLeast(RoleAdmin), true},
		{"admin >= admin", RoleAdmin.AtLeast(RoleAdmin), true},
		{"developer >= admin", RoleDeveloper.AtLeast(RoleAdmin), false},
		{"unknown >= viewer", Role("x").AtLeast(RoleViewer), false},
		{"admin scope includes read", ScopeAdmin.Includes(ScopeRead), true},
		{"deploy scope includes admin", ScopeDeploy.Includes(ScopeAdmin), false},
		{"zero scope includes read", Scope("").Includes(ScopeRead), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.desc, tt.got, tt.want)
		}
	}
	// Each role's permissions contain the previous role's.
	rs := AllRoles()
	for i := 1; i < len(rs); i++ {
		for _, p := range rs[i-1].Permissions() {
			if !rs[i].Can(p) {
				t.Errorf("%s lacks %s that %s has", rs[i], p, rs[i-1])
			}
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		err     error
		wantMsg string
	}{
		{"role", func() error { _, err := ParseRole("members[0].role", "root"); return err }(), `members[0].role: invalid role "root": want one of [viewer developer admin owner]`},
		{"scope", func() error { _, err := ParseScope("scope", "write"); return err }(), `scope: invalid scope "write": want one of [read deploy admin]`},
		{"permission", func() error { _, err := ParsePermission("perm", "apps"); return err }(), `perm: invalid permission "apps"`},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalid) || !strings.HasPrefix(tt.err.Error(), tt.wantMsg) {
			t.Errorf("%s: %v, want prefix %q", tt.desc, tt.err, tt.wantMsg)
		}
	}
	if r, err := ParseRole("role", "admin"); err != nil || r != RoleAdmin {
		t.Fatalf("ParseRole(admin) = %v, %v", r, err)
	}
}
