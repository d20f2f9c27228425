package api

import (
	"fmt"
	"net/http"

	"sigs.k8s.io/yaml"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/pkg/api"
)

// diff answers the difference between two releases' specs, rendered as
// YAML because that is how people wrote them.
func (s *server) diff(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := positiveInt("from", q.Get("from"))
	if err != nil {
		return err
	}
	to, err := positiveInt("to", q.Get("to"))
	if err != nil {
		return err
	}
	if _, err := s.loadApp(r.Context(), s.Store, name, rbac.AppsRead); err != nil {
		return err
	}
	texts := make([]string, 2)
	for i, n := range []int{from, to} {
		rel, err := loadRelease(r.Context(), s.Store, name, n)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(rel.Spec)
		if err != nil {
			return fmt.Errorf("render release %s/%d as YAML: %w", name, n, err)
		}
		texts[i] = string(y)
	}
	resp := api.DiffResponse{
		App: name, From: from, To: to,
		Diff: unifiedDiff(fmt.Sprintf("%s release %d", name, from), fmt.Sprintf("%s release %d", name, to), texts[0], texts[1]),
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
