package release

import (
	"maps"
	"slices"

	"github.com/berthdev/berth/internal/spec"
)

// LocalEnv is the name a pipeline's deploy step gives the server's own
// local runtime (an app applied without --env). No environment may take
// it, so "local" never means two things.
const LocalEnv = "local"

// MissingImages names, sorted, the services of sp that have no image: an
// environment on a Kubernetes cluster runs images, not a command in the
// uploaded folder.
func MissingImages(sp *spec.App) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(sp.Services)) {
		if sp.Services[name].Image == "" {
			out = append(out, name)
		}
	}
	return out
}
