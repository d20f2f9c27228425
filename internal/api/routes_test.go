package api

import "testing"

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
