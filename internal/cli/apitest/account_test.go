package apitest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/berthdev/berth/pkg/api"
)

// berth user passwd, berth user disable|enable and berth team rename
// against the real API: exit codes, messages, and their effect.
func TestAccountCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(0, []string{"login", e.url, "--token", e.token})
	e.must(0, []string{"team", "create", "shop"}, "Created team shop")
	if r := e.runAs("", "first-long-password\n", "user", "create", "ann@example.com", "--password-stdin"); r.code != 0 {
		t.Fatalf("user create: %+v", r)
	}
	ann := e.userToken("ann@example.com")

	if r := e.runAs(ann, "wrong-password\nsecond-long-password\n", "user", "passwd"); r.code != 2 || !strings.Contains(r.stderr, "current_password") {
		t.Errorf("passwd with a wrong current password: %+v", r)
	}
	if r := e.runAs(ann, "only one line\n", "user", "passwd"); r.code != 2 || !strings.Contains(r.stderr, "two lines") {
		t.Errorf("passwd with one line of input: %+v", r)
	}
	if r := e.runAs(ann, "first-long-password\nsecond-long-password\n", "user", "passwd"); r.code != 0 || !strings.Contains(r.stdout, "Password changed") {
		t.Fatalf("passwd: %+v", r)
	}

	res := e.must(0, []string{"user", "list", "-o", "json"})
	id := userID(t, res.stdout, "ann@example.com")
	e.must(0, []string{"user", "disable", id}, "User ann@example.com ("+id+") disabled.")
	if r := e.runAs(ann, "", "whoami"); r.code != 1 {
		t.Errorf("whoami as a disabled user: %+v, want exit 1", r)
	}
	e.must(0, []string{"user", "enable", id}, "enabled.")
	if r := e.runAs(ann, "", "whoami"); r.code != 0 {
		t.Errorf("whoami as an enabled user: %+v", r)
	}
	if r := e.run("user", "disable"); r.code != 2 {
		t.Errorf("disable without a user: %+v, want exit 2", r)
	}

	e.must(0, []string{"team", "rename", "shop", "storefront"}, "now named storefront")
	e.must(0, []string{"team", "list"}, "storefront")
	if r := e.run("team", "rename", "storefront", "Not A Name"); r.code != 2 || !strings.Contains(r.stderr, "name") {
		t.Errorf("rename to a bad name: %+v", r)
	}
}

// userID finds the ID of the user with email in `berth user list -o json`.
func userID(t *testing.T, listJSON, email string) string {
	t.Helper()
	var us []api.User
	if err := json.Unmarshal([]byte(listJSON), &us); err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Email == email {
			return u.ID
		}
	}
	t.Fatalf("no user %s in %s", email, listJSON)
	return ""
}
