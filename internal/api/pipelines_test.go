package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
)

// TestRunTenancy: a run of another team answers exactly as a missing run;
// a member's role decides between allowed and 403.
func TestRunTenancy(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := ts.db.CreateApp(ctx, store.App{Name: "shop", Team: "team_b", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := ts.db.CreateRun(ctx, store.Run{ID: "shop.1", App: "shop", Team: "team_b", Number: 1, Trigger: "manual", State: store.RunRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	s := &server{Deps: Deps{Store: ts.db}}
	s.setDefaults()
	load := func(p rbac.Principal, id string, perm rbac.Permission) error {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/runs/"+id, nil)
		req.SetPathValue("run", id)
		_, err := s.loadRun(req.WithContext(withPrincipal(ctx, p)), perm)
		return err
	}
	status := func(err error) int {
		var he *httpError
		if errors.As(err, &he) {
			return he.status
		}
		if err == nil {
			return http.StatusOK
		}
		return 0
	}
	outsider := rbac.Principal{Subject: "u-a", Teams: map[string]rbac.Role{"team_a": rbac.RoleOwner}}
	viewer := rbac.Principal{Subject: "u-v", Teams: map[string]rbac.Role{"team_b": rbac.RoleViewer}}
	developer := rbac.Principal{Subject: "u-d", Teams: map[string]rbac.Role{"team_b": rbac.RoleDeveloper}}
	tests := []struct {
		desc string
		p    rbac.Principal
		id   string
		perm rbac.Permission
		want int
	}{
		{desc: "another team's run is not found", p: outsider, id: "shop.1", perm: rbac.PipelinesRead, want: http.StatusNotFound},
		{desc: "a missing run is not found", p: outsider, id: "shop.2", perm: rbac.PipelinesRead, want: http.StatusNotFound},
		{desc: "a viewer reads", p: viewer, id: "shop.1", perm: rbac.PipelinesRead, want: http.StatusOK},
		{desc: "a viewer may not run", p: viewer, id: "shop.1", perm: rbac.PipelinesRun, want: http.StatusForbidden},
		{desc: "a viewer may not decide", p: viewer, id: "shop.1", perm: rbac.ApprovalsDecide, want: http.StatusForbidden},
		{desc: "a developer may cancel", p: developer, id: "shop.1", perm: rbac.PipelinesRun, want: http.StatusOK},
		{desc: "a malformed ID is bad input", p: developer, id: "shop", perm: rbac.PipelinesRead, want: http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := status(load(tc.p, tc.id, tc.perm)); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
	hidden, missing := load(outsider, "shop.1", rbac.PipelinesRead), load(outsider, "shop.2", rbac.PipelinesRead)
	var h1, h2 *httpError
	if !errors.As(hidden, &h1) || !errors.As(missing, &h2) || h1.body.Code != h2.body.Code {
		t.Errorf("hidden %v and missing %v differ", hidden, missing)
	}
}

// TestPipelineRoutesWithoutDriver: a server built without the run driver
// answers 503 on pipeline routes instead of crashing.
func TestPipelineRoutesWithoutDriver(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/pipelines", nil)
	req.Header.Set("Authorization", "Bearer "+ts.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	resp, err = http.Post(ts.URL+"/api/v1/hooks/github/shop", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("hook status %d, want 503", resp.StatusCode)
	}
}
