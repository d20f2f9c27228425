package runner

import (
	"testing"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/pipeline"
)

func TestApproverProblem(t *testing.T) {
	t.Parallel()
	member := func(subject string, role rbac.Role) rbac.Principal {
		return rbac.Principal{Subject: subject, Teams: map[string]rbac.Role{"t1": role}}
	}
	tests := []struct {
		desc string
		p    rbac.Principal
		cfg  pipeline.Approval
		ok   bool
	}{
		{desc: "the role itself", p: member("u", rbac.RoleAdmin), cfg: pipeline.Approval{Role: "admin"}, ok: true},
		{desc: "a higher role", p: member("u", rbac.RoleOwner), cfg: pipeline.Approval{Role: "admin"}, ok: true},
		{desc: "a lower role", p: member("u", rbac.RoleDeveloper), cfg: pipeline.Approval{Role: "admin"}, ok: false},
		{desc: "another team only", p: rbac.Principal{Subject: "u", Teams: map[string]rbac.Role{"t2": rbac.RoleOwner}}, cfg: pipeline.Approval{Role: "viewer"}, ok: false},
		{desc: "a platform admin", p: rbac.Principal{Subject: "op", PlatformAdmin: true}, cfg: pipeline.Approval{Role: "owner"}, ok: true},
		{desc: "a listed user", p: member("ann", rbac.RoleViewer), cfg: pipeline.Approval{Users: []string{"bob", "ann"}}, ok: true},
		{desc: "an owner not listed", p: member("cy", rbac.RoleOwner), cfg: pipeline.Approval{Users: []string{"bob", "ann"}}, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			why := approverProblem(tc.p, "t1", &tc.cfg)
			if (why == "") != tc.ok {
				t.Errorf("approverProblem = %q, want allowed=%v", why, tc.ok)
			}
		})
	}
}
