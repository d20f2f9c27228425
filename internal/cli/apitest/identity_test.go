package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// runAs runs the CLI with BERTH_TOKEN set to tok and stdin.
func (e *env) runAs(tok, stdin string, args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), args, cli.Options{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string {
			return map[string]string{"XDG_CONFIG_HOME": e.config, "BERTH_TOKEN": tok}[k]
		},
	})
	return result{code, out.String(), errOut.String()}
}

// userToken stores a personal token for the user with email.
func (e *env) userToken(email string) string {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.db.GetUserByEmail(ctx, email)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, st, err := token.New(token.KindPersonal, rbac.ScopeAdmin, time.Now(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.CreateToken(ctx, store.Token{ID: "tok_ann", Name: "test", Hash: st.Hash, Kind: "pat", User: u.ID,
		Scope: "admin", Last4: st.Last4, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func TestTeamsInvitesTokensAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(0, []string{"login", e.url, "--token", e.token})
	e.must(0, []string{"team", "create", "shop"}, "Created team shop")
	e.must(0, []string{"team", "list"}, "default", "shop")
	res := e.runAs("", "a-long-enough-password\n", "user", "create", "ann@example.com", "--name", "Ann", "--password-stdin")
	if res.code != 0 || !strings.Contains(res.stdout, "Created user ann@example.com") {
		t.Fatalf("user create: %+v", res)
	}
	e.must(0, []string{"user", "list"}, "ann@example.com Ann password")
	res = e.must(0, []string{"invite", "shop", "--role", "developer", "--email", "ann@example.com", "--expires", "2d"}, "Invitation to shop as developer")
	code := regexp.MustCompile(`berth_inv_[A-Za-z0-9_-]+`).FindString(res.stdout)
	if code == "" {
		t.Fatalf("no code in %q", res.stdout)
	}
	ann := e.userToken("ann@example.com")
	if r := e.runAs(ann, "", "invite", "accept", code); r.code != 0 || !strings.Contains(r.stdout, "Joined team shop as developer") {
		t.Fatalf("accept: %+v", r)
	}
	if r := e.runAs(ann, "", "invite", "accept", code); r.code != 1 || !strings.Contains(r.stderr, "used or expired") {
		t.Fatalf("second accept: %+v", r)
	}
	if r := e.runAs(ann, "", "whoami"); r.code != 0 || !strings.Contains(squeeze(r.stdout), "shop developer") {
		t.Fatalf("whoami: %+v", r)
	}
	members := e.must(0, []string{"team", "members", "shop", "-o", "json"})
	var ms []api.Member
	if err := json.Unmarshal([]byte(members.stdout), &ms); err != nil || len(ms) != 2 {
		t.Fatalf("members: %v %s", err, members.stdout)
	}
	var annID string
	for _, m := range ms {
		if m.Email == "ann@example.com" {
			annID = m.User
		}
	}
	e.must(0, []string{"role", "set", "shop", annID, "viewer"}, "is now viewer in shop")
	e.must(2, []string{"role", "set", "shop", annID, "superuser"})
	if r := e.runAs(ann, "", "role", "set", "shop", annID, "owner"); r.code != 1 {
		t.Fatalf("a viewer sets roles: %+v", r)
	}

	// Tokens: created (shown once), listed without the secret, revoked.
	res = e.runAs(ann, "", "token", "create", "--name", "laptop", "--scope", "read", "--expires", "30d")
	tok := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(tok, "berth_pat_") {
		t.Fatalf("token create: %+v", res)
	}
	list := e.runAs(ann, "", "token", "list", "-o", "json")
	var ts []api.Token
	if err := json.Unmarshal([]byte(list.stdout), &ts); err != nil || strings.Contains(list.stdout, tok) {
		t.Fatalf("token list: %v %s", err, list.stdout)
	}
	var id string
	for _, x := range ts {
		if x.Name == "laptop" {
			id = x.ID
		}
	}
	if r := e.runAs(tok, "", "apps"); r.code != 0 {
		t.Fatalf("new token: %+v", r)
	}
	if r := e.runAs(ann, "", "token", "revoke", id); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	if r := e.runAs(tok, "", "apps"); r.code != 1 || !strings.Contains(r.stderr, "rejected the token") {
		t.Fatalf("revoked token: %+v", r)
	}
	e.must(2, []string{"token", "create", "--scope", "root"})
	e.must(2, []string{"token", "create", "--scope", "read", "--expires", "soon"})

	// The audit log shows what happened, and its chain holds.
	res = e.must(0, []string{"audit", "--team", "shop", "-o", "json"})
	var recs []api.AuditRecord
	if err := json.Unmarshal([]byte(res.stdout), &recs); err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, r := range recs {
		actions[r.Action] = true
	}
	for _, a := range []string{"team.create", "invitation.create", "invitation.accept", "member.set_role"} {
		if !actions[a] {
			t.Errorf("audit of shop lacks %s: %v", a, actions)
		}
	}
	e.must(0, []string{"audit", "--since", "1h"}, "token.revoke")
	e.must(0, []string{"audit", "verify"}, "The audit chain holds")
	e.must(2, []string{"audit", "--since", "yesterday"})
}
