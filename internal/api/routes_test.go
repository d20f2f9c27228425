package api

import (
	"net/http"
	"testing"
)

// Every route that needs a token must say which permission: the one
// authorization point cannot check what a route does not declare.
func TestEveryRouteDeclaresAPermission(t *testing.T) {
	s := &server{}
	for _, rt := range s.routes() {
		if rt.public {
			if rt.perm != "" {
				t.Errorf("%s %s is public but declares %s", rt.method, rt.path, rt.perm)
			}
			continue
		}
		if !rt.perm.Known() {
			t.Errorf("%s %s declares permission %q, want one of the rbac table", rt.method, rt.path, rt.perm)
		}
	}
}

// Every route that changes something is audited: it names its action, and
// New wraps it in the audit middleware because it does.
func TestEveryMutatingRouteIsAudited(t *testing.T) {
	s := &server{}
	seen := map[string]string{}
	for _, rt := range s.routes() {
		if rt.method != http.MethodGet && rt.action == "" {
			t.Errorf("%s %s changes state but names no audit action", rt.method, rt.path)
		}
		if rt.action != "" {
			if prev, ok := seen[rt.action]; ok {
				t.Errorf("%s %s and %s share the audit action %q", rt.method, rt.path, prev, rt.action)
			}
			seen[rt.action] = rt.method + " " + rt.path
		}
	}
}
