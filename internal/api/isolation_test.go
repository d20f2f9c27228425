package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// The isolation matrix: every caller of team B — each role with a session,
// personal tokens of each scope, team tokens of each role and scope —
// against every route of the table with team A's object IDs. Routes about
// a team's object answer exactly the 404 of a missing object; the others
// (lists, apply, self-service) reveal nothing of team A; and nothing of
// team A changes. A route, or a path parameter, without a rule here fails
// the test.

const specShopA = `name: shop-a
services:
  web:
    command: [./web]
    ports: [8080]
`

// isoRule is how one route must treat team B's callers.
type isoRule struct {
	// skip explains why the route has no team object to attack (public
	// routes); it is then not called.
	skip string
	// teamObject: the route reads or changes an object of team A named by
	// its path (or query); the answer must be the missing object's 404.
	teamObject bool
	query      string
	body       any
	// allowed are the statuses a route without a team object may answer
	// (its body must still hold nothing of team A).
	allowed []int
	// tokensOnly: a session caller would end its own session.
	tokensOnly bool
}

// isoCaller is one caller of team B.
type isoCaller struct {
	desc    string
	token   string
	session string // cookie value
	csrf    string
}

func (c isoCaller) headers() map[string]string {
	if c.token != "" {
		return map[string]string{"Authorization": "Bearer " + c.token}
	}
	return map[string]string{"Cookie": SessionCookie + "=" + c.session, CSRFHeader: c.csrf}
}

func TestIsolationMatrix(t *testing.T) {
	t.Parallel()
	trip := &tripwirePipelines{t: t}
	ts := newTestServer(t, func(d *Deps) {
		d.Pipelines = trip
		key, err := secrets.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ring, err := secrets.NewKeyring(key)
		if err != nil {
			t.Fatal(err)
		}
		d.Secrets = secretstore.New(d.Store, ring)
	})
	ctx := t.Context()
	teamA, teamB := ts.createTeam(t, "team-a"), ts.createTeam(t, "team-b")
	ts.applyIn(t, "team-a", specShopA)
	// Team A's config, secret and run, which team B must not reach.
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apps/shop-a/config", api.ConfigUpdate{Set: map[string]string{"LOG_LEVEL": "info"}}, nil)
	ts.mustCall(t, http.StatusCreated, http.MethodPut, "/api/v1/apps/shop-a/secrets/DB_PASSWORD", api.SecretValue{Value: "team-a-secret-value"}, nil)
	now := time.Now().UTC()
	if err := ts.db.CreateRun(ctx, store.Run{ID: "shop-a.1", App: "shop-a", Team: teamA.ID, Number: 1, Trigger: "manual", State: store.RunRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// Team A's environment, on a platform cluster (a record only: no
	// connection is made).
	if err := ts.db.CreateCluster(ctx, store.Cluster{Name: "c1", Server: "https://c1.example", CreatedAt: now}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	if err := ts.db.CreateEnvironment(ctx, store.Environment{Name: "prod", Team: teamA.ID, Cluster: "c1", Namespace: "shop", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	userA := ts.addUser(t, "alice@a.example", map[string]rbac.Role{teamA.ID: rbac.RoleDeveloper})
	_, tokA := ts.teamToken(t, teamA.ID, rbac.RoleDeveloper, rbac.ScopeDeploy)
	var invA api.Invitation
	ts.mustCall(t, http.StatusCreated, http.MethodPost, "/api/v1/teams/"+teamA.ID+"/invitations", api.CreateInvitationRequest{Role: "viewer"}, &invA)
	blob := []byte("source archive")
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	// One fixture per path parameter: team A's objects.
	fixtures := map[string]string{"app": "shop-a", "release": "1", "team": teamA.ID, "user": userA.ID, "token": tokA.ID, "digest": digest, "name": "DB_PASSWORD", "run": "shop-a.1", "cluster": "c1", "env": "prod", "step": "build"}
	// Values that name nothing, for the "same as missing" comparison.
	missing := map[string]string{"app": "nope-zz", "release": "7", "team": "team_0000000000000000", "user": "user_0000000000000000", "token": "tok_0000000000000000", "digest": digest, "name": "NOPE_ZZ", "run": "nope-zz.7", "cluster": "nope-cluster", "env": "nope-env", "step": "nope"}
	// What of team A must never show in an answer to B (names B did not send).
	secretsOfA := []string{"team-a", "alice@a.example", invA.ID, invA.Token, "team-a-secret-value"}

	var callers []isoCaller
	for _, role := range rbac.AllRoles() {
		u := ts.addUser(t, string(role)+"@b.example", map[string]rbac.Role{teamB.ID: role})
		for _, scope := range rbac.AllScopes() {
			tok, _ := ts.personalToken(t, u.ID, scope)
			callers = append(callers, isoCaller{desc: fmt.Sprintf("%s personal %s token", role, scope), token: tok})
			tok, _ = ts.teamToken(t, teamB.ID, role, scope)
			callers = append(callers, isoCaller{desc: fmt.Sprintf("%s team %s token", role, scope), token: tok})
		}
		se, csrf := ts.sessionFor(t, u.ID)
		callers = append(callers, isoCaller{desc: string(role) + " session", session: se, csrf: csrf})
	}

	rules := map[string]isoRule{
		"GET /healthz":                               {skip: "public; no objects"},
		"GET /api/v1/openapi.json":                   {skip: "public; the same document for everyone"},
		"POST /api/v1/auth/login":                    {skip: "public; tested by the login tests"},
		"GET /api/v1/auth/oidc/start":                {skip: "public; tested by the SSO tests"},
		"GET /api/v1/auth/oidc/callback":             {skip: "public; tested by the SSO tests"},
		"POST /api/v1/auth/cli/exchange":             {skip: "public; tested by the SSO tests"},
		"GET /api/v1/version":                        {allowed: []int{200}},
		"PUT /api/v1/blobs/{digest}":                 {body: blob, allowed: []int{204, 403}},
		"POST /api/v1/validate":                      {body: api.ApplyRequest{Spec: specShopA}, allowed: []int{200, 403}},
		"POST /api/v1/apply":                         {body: api.ApplyRequest{Spec: specShopA}, allowed: []int{403, 409}},
		"GET /api/v1/apps":                           {allowed: []int{200}},
		"GET /api/v1/apps/{app}":                     {teamObject: true},
		"DELETE /api/v1/apps/{app}":                  {teamObject: true},
		"GET /api/v1/apps/{app}/releases":            {teamObject: true},
		"GET /api/v1/apps/{app}/releases/{release}":  {teamObject: true},
		"GET /api/v1/apps/{app}/diff":                {teamObject: true, query: "from=1&to=1"},
		"POST /api/v1/apps/{app}/rollback":           {teamObject: true, body: api.RollbackRequest{}},
		"POST /api/v1/apps/{app}/rollout":            {teamObject: true, body: map[string]int{"canary": 10}},
		"POST /api/v1/apps/{app}/promote":            {teamObject: true},
		"POST /api/v1/apps/{app}/abort":              {teamObject: true},
		"GET /api/v1/apps/{app}/logs":                {teamObject: true},
		"GET /api/v1/watch":                          {allowed: []int{200}},
		"GET /api/v1/gateway/snapshot":               {teamObject: true},
		"POST /api/v1/auth/logout":                   {allowed: []int{422}, tokensOnly: true},
		"GET /api/v1/whoami":                         {allowed: []int{200}},
		"GET /api/v1/teams":                          {allowed: []int{200}},
		"POST /api/v1/teams":                         {body: api.CreateTeamRequest{Name: "team-a"}, allowed: []int{403}},
		"GET /api/v1/teams/{team}":                   {teamObject: true},
		"GET /api/v1/teams/{team}/members":           {teamObject: true},
		"PUT /api/v1/teams/{team}/members/{user}":    {teamObject: true, body: api.SetRoleRequest{Role: "viewer"}},
		"DELETE /api/v1/teams/{team}/members/{user}": {teamObject: true},
		"GET /api/v1/teams/{team}/invitations":       {teamObject: true},
		"POST /api/v1/teams/{team}/invitations":      {teamObject: true, body: api.CreateInvitationRequest{Role: "viewer"}},
		"POST /api/v1/invitations/accept":            {body: api.AcceptInvitationRequest{Token: "berth_inv_guessed"}, allowed: []int{404, 422}},
		"GET /api/v1/users":                          {allowed: []int{403}},
		"POST /api/v1/users":                         {body: api.CreateUserRequest{Email: "x@b.example"}, allowed: []int{403}},
		"GET /api/v1/tokens":                         {allowed: []int{200}},
		"POST /api/v1/tokens":                        {teamObject: true, body: map[string]string{"name": "ci", "scope": "read", "team": teamA.ID, "role": "viewer"}},
		"DELETE /api/v1/tokens/{token}":              {teamObject: true},
		"GET /api/v1/audit":                          {teamObject: true, query: "team=" + teamA.ID},
		"GET /api/v1/audit/verify":                   {allowed: []int{403}},
		"GET /api/v1/apps/{app}/config":              {teamObject: true},
		"POST /api/v1/apps/{app}/config":             {teamObject: true, body: api.ConfigUpdate{Set: map[string]string{"LOG_LEVEL": "debug"}}},
		"GET /api/v1/apps/{app}/config/history":      {teamObject: true},
		"GET /api/v1/apps/{app}/config/diff":         {teamObject: true},
		"POST /api/v1/apps/{app}/config/rollback":    {teamObject: true, body: api.ConfigRollbackRequest{}},
		"GET /api/v1/apps/{app}/secrets":             {teamObject: true},
		"PUT /api/v1/apps/{app}/secrets/{name}":      {teamObject: true, body: api.SecretValue{Value: "overwritten"}},
		"DELETE /api/v1/apps/{app}/secrets/{name}":   {teamObject: true},
		"GET /api/v1/pipelines":                      {allowed: []int{200}},
		"GET /api/v1/apps/{app}/pipeline":            {teamObject: true},
		"POST /api/v1/apps/{app}/runs":               {teamObject: true, body: api.RunRequest{}},
		"GET /api/v1/apps/{app}/runs":                {teamObject: true},
		"GET /api/v1/runs":                           {allowed: []int{200}},
		"GET /api/v1/runs/{run}":                     {teamObject: true},
		"GET /api/v1/runs/{run}/logs":                {teamObject: true},
		"GET /api/v1/runs/{run}/artifacts":           {teamObject: true},
		"GET /api/v1/runs/{run}/artifacts/{step}":    {teamObject: true},
		// Public, but only a step token minted for that run and step opens
		// it: API tokens and sessions of anyone are refused.
		"PUT /api/v1/runs/{run}/artifacts/{step}": {allowed: []int{401}},
		"GET /api/v1/runs/{run}/cache/{step}":     {allowed: []int{401}},
		"PUT /api/v1/runs/{run}/cache/{step}":     {allowed: []int{401}},
		"POST /api/v1/runs/{run}/cancel":          {teamObject: true},
		"POST /api/v1/runs/{run}/rerun":           {teamObject: true},
		"POST /api/v1/runs/{run}/approve":         {teamObject: true, body: api.DecisionRequest{}},
		"POST /api/v1/runs/{run}/reject":          {teamObject: true, body: api.DecisionRequest{}},
		"POST /api/v1/hooks/{forge}/{app}":        {skip: "public; verified by the hook's signature, tested by the webhook tests"},
		// Clusters are the platform's: nobody of team B (no platform
		// admin) may manage them, and the 403 comes before any lookup.
		"POST /api/v1/clusters":             {body: map[string]string{"name": "c1", "kubeconfig": "x"}, allowed: []int{403}},
		"GET /api/v1/clusters":              {allowed: []int{403}},
		"GET /api/v1/clusters/{cluster}":    {allowed: []int{403}},
		"DELETE /api/v1/clusters/{cluster}": {allowed: []int{403}},
		"GET /api/v1/backup":                {allowed: []int{403}},
		// Environments are a team's: team B's admins may create theirs
		// (a name or namespace team A holds is a bare 409), and see none
		// of team A's.
		"POST /api/v1/envs":         {body: map[string]string{"name": "prod", "cluster": "c1", "namespace": "shop"}, allowed: []int{403, 409}},
		"GET /api/v1/envs":          {allowed: []int{200}},
		"GET /api/v1/envs/{env}":    {teamObject: true},
		"DELETE /api/v1/envs/{env}": {teamObject: true},
		"PATCH /api/v1/envs/{env}":  {teamObject: true, body: api.EnvironmentUpdate{TLSSecrets: &[]string{"taken-over"}}},
		// Account management: one's own password only (team B's users
		// have none, team tokens are no user); users are the platform
		// admin's, so to anyone else team A's user is a missing one; a
		// team is renamed by its owners.
		"POST /api/v1/users/me/password":    {body: api.ChangePasswordRequest{CurrentPassword: "guess", NewPassword: "a new long password 1"}, allowed: []int{403, 422}},
		"POST /api/v1/users/{user}/disable": {teamObject: true},
		"POST /api/v1/users/{user}/enable":  {teamObject: true},
		"PATCH /api/v1/teams/{team}":        {teamObject: true, body: api.RenameTeamRequest{Name: "taken-over"}},
	}

	before := ts.stateOf(t, ctx, teamA.ID)
	param := regexp.MustCompile(`\{([a-z]+)\}`)
	for _, rt := range (&server{}).routes() {
		key := rt.method + " " + rt.path
		rule, ok := rules[key]
		if !ok {
			t.Errorf("%s has no isolation rule: add one to TestIsolationMatrix", key)
			continue
		}
		if rule.skip != "" {
			if !rt.public {
				t.Errorf("%s is skipped (%s) but is not public", key, rule.skip)
			}
			continue
		}
		fill := func(values map[string]string) string {
			p := param.ReplaceAllStringFunc(rt.path, func(m string) string {
				name := m[1 : len(m)-1]
				v, ok := values[name]
				if !ok {
					t.Errorf("%s: path parameter {%s} has no fixture", key, name)
				}
				return v
			})
			q := rule.query
			if strings.Contains(q, teamA.ID) && values["team"] != teamA.ID {
				q = strings.ReplaceAll(q, teamA.ID, values["team"])
			}
			if q != "" {
				p += "?" + q
			}
			return p
		}
		path, missingPath := fill(fixtures), fill(missing)
		for _, c := range callers {
			if rule.tokensOnly && c.token == "" {
				continue
			}
			status, body := ts.isoCall(t, rt.method, path, rule.body, c)
			what := fmt.Sprintf("%s as %s", key, c.desc)
			if rule.teamObject {
				if status != http.StatusNotFound {
					t.Errorf("%s: status %d, want 404; body %s", what, status, body)
					continue
				}
				missReq := rule.body
				if m, ok := rule.body.(map[string]string); ok {
					swapped := map[string]string{}
					for k, v := range m {
						swapped[k] = v
						if v == fixtures[k] {
							swapped[k] = missing[k]
						}
					}
					missReq = swapped
				}
				_, missBody := ts.isoCall(t, rt.method, missingPath, missReq, c)
				if got, want := normalise404(t, body, fixtures), normalise404(t, missBody, missing); got != want {
					t.Errorf("%s: 404 differs from a missing object's:\n got %s\nwant %s", what, got, want)
				}
			} else if !containsInt(rule.allowed, status) {
				t.Errorf("%s: status %d, want one of %v; body %s", what, status, rule.allowed, body)
			}
			for _, s := range secretsOfA {
				if s != "" && bytes.Contains(body, []byte(s)) {
					t.Errorf("%s: answer reveals %q of team A: %s", what, s, body)
				}
			}
			if !rule.teamObject && bytes.Contains(body, []byte("shop-a")) && rt.method == http.MethodGet {
				t.Errorf("%s: answer lists team A's app: %s", what, body)
			}
		}
		if after := ts.stateOf(t, ctx, teamA.ID); after != before {
			t.Fatalf("team A's state changed after %s:\nbefore %s\nafter  %s", key, before, after)
		}
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// normalise404 drops the request ID and puts placeholders where the
// request's own values are echoed, so two 404s can be compared.
func normalise404(t *testing.T, body []byte, values map[string]string) string {
	t.Helper()
	e := decodeError(t, body)
	e.RequestID = ""
	msg := e.Message
	// Only whole echoed values: quoted ("x") or a bare number (release 1).
	for name, v := range values {
		msg = strings.ReplaceAll(msg, `"`+v+`"`, `"{`+name+`}"`)
		msg = strings.ReplaceAll(msg, " "+v+" ", " {"+name+"} ")
	}
	return e.Code + ": " + msg
}

// isoCall makes one call as c. Streams (watch, logs) are read for a
// moment only.
func (ts *testServer) isoCall(t *testing.T, method, path string, body any, c isoCaller) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	// Calls get time enough on a loaded machine; a stream (watch) is read
	// for a moment once its headers are in.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	timer := time.AfterFunc(10*time.Second, cancel)
	defer timer.Stop()
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.headers() {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		timer.Reset(100 * time.Millisecond)
	}
	b, _ := io.ReadAll(resp.Body) // a stream ends when the timer cancels it
	return resp.StatusCode, b
}

// stateOf is everything of team A a call could change, as text.
func (ts *testServer) stateOf(t *testing.T, ctx context.Context, team string) string {
	t.Helper()
	var b strings.Builder
	apps, err := ts.db.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		fmt.Fprintf(&b, "app %s team=%s v=%d target=%d deleting=%v canary=%v;", a.Name, a.Team, a.Version, a.TargetRelease, a.Deleting, a.Canary)
		rels, _ := ts.db.ListReleases(ctx, a.Name)
		fmt.Fprintf(&b, "releases=%d;", len(rels))
	}
	teams, _ := ts.db.ListTeams(ctx)
	for _, tm := range teams {
		fmt.Fprintf(&b, "team %s %s;", tm.ID, tm.Name)
		ms, _ := ts.db.ListMembers(ctx, tm.ID)
		for _, m := range ms {
			if tm.ID == team {
				fmt.Fprintf(&b, "member %s %s;", m.User, m.Role)
			}
		}
	}
	invs, _ := ts.db.ListInvitations(ctx, team)
	for _, inv := range invs {
		fmt.Fprintf(&b, "inv %s accepted=%v;", inv.ID, inv.AcceptedAt)
	}
	toks, _ := ts.db.ListTokens(ctx)
	for _, tk := range toks {
		fmt.Fprintf(&b, "token %s revoked=%v;", tk.ID, tk.RevokedAt)
	}
	envs, _ := ts.db.ListEnvironments(ctx)
	for _, e := range envs {
		fmt.Fprintf(&b, "env %s team=%s cluster=%s ns=%s;", e.Name, e.Team, e.Cluster, e.Namespace)
	}
	us, _ := ts.db.ListUsers(ctx)
	fmt.Fprintf(&b, "users=%d;", len(us))
	for _, u := range us {
		fmt.Fprintf(&b, "user %s disabled=%v pw=%s;", u.ID, u.Disabled, u.PasswordHash)
	}
	for _, a := range apps {
		runs, _ := ts.db.ListRuns(ctx, store.RunFilter{App: a.Name})
		for _, r := range runs {
			fmt.Fprintf(&b, "run %s %s cancel=%v v=%d;", r.ID, r.State, r.CancelRequested, r.Version)
		}
		sec, _ := ts.db.ListSecrets(ctx, a.Name)
		for _, x := range sec {
			fmt.Fprintf(&b, "secret %s v=%d;", x.Name, x.Version)
		}
		cfg, _ := ts.db.ListConfigVersions(ctx, a.Name, api.DefaultConfigEnv)
		fmt.Fprintf(&b, "config versions=%d;", len(cfg))
	}
	return b.String()
}

// tripwirePipelines is the run driver of the isolation matrix: team B's
// calls must be refused before any of them reaches it.
type tripwirePipelines struct{ t *testing.T }

func (p *tripwirePipelines) trip(what string) error {
	p.t.Errorf("the run driver was reached (%s): authorization must come first", what)
	return errors.New("tripwire")
}

func (p *tripwirePipelines) Source(context.Context, string) (spec.Source, error) {
	return spec.Source{}, p.trip("Source")
}

func (p *tripwirePipelines) StartRun(context.Context, string, string, map[string]string, string) (store.Run, error) {
	return store.Run{}, p.trip("StartRun")
}

func (p *tripwirePipelines) CancelRun(context.Context, string, string) (store.Run, error) {
	return store.Run{}, p.trip("CancelRun")
}

func (p *tripwirePipelines) RerunRun(context.Context, string, string) (store.Run, error) {
	return store.Run{}, p.trip("RerunRun")
}

func (p *tripwirePipelines) Decide(context.Context, rbac.Principal, string, string, string) (store.Run, error) {
	return store.Run{}, p.trip("Decide")
}

func (p *tripwirePipelines) RunLogs(context.Context, string, bool) (io.ReadCloser, error) {
	return nil, p.trip("RunLogs")
}

func (p *tripwirePipelines) ServeHook(http.ResponseWriter, *http.Request, string, string) {
	_ = p.trip("ServeHook")
}

func (p *tripwirePipelines) HookSecret(string) string {
	_ = p.trip("HookSecret")
	return ""
}
