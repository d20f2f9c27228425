package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// checkEnv checks an apply's environment: it must exist and belong to
// team, the app's (another team's answers as a missing one does), and on
// a cluster every service needs an image (a cluster runs images, not a
// command in the uploaded folder). Each service without one is named.
func (s *server) checkEnv(ctx context.Context, envs store.Environments, env, team string, app *spec.App) error {
	if env == "" {
		return nil
	}
	e, err := envs.GetEnvironment(ctx, env)
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.Team != team) {
		return invalidField("env", "no environment named %q; see \"berth env list\"", env)
	}
	if err != nil {
		return fmt.Errorf("apply: environment %s: %w", env, err)
	}
	var details []api.FieldError
	for _, name := range release.MissingImages(app) {
		details = append(details, api.FieldError{Field: "services." + name + ".image",
			Message: fmt.Sprintf("required in environment %s (cluster %s): a Kubernetes cluster runs images; service %q has none", e.Name, e.Cluster, name)})
	}
	if len(details) > 0 {
		return newError(http.StatusUnprocessableEntity, api.CodeInvalid, "%s: %s", details[0].Field, details[0].Message).withDetails(details...)
	}
	return nil
}

// envMismatch: an existing app applied to another environment than its own.
type envMismatch struct{ app, has, asked string }

func (e envMismatch) Error() string {
	return fmt.Sprintf("app %s runs in %s, not %s", e.app, envName(e.has), envName(e.asked))
}

func (e envMismatch) httpError() error {
	return conflict("app %q runs in %s, not %s: apply it with --env %q, or delete it first to move it (moving a running app is not supported yet)",
		e.app, envName(e.has), envName(e.asked), e.has)
}

func envName(env string) string {
	if env == "" {
		return "the local runtime"
	}
	return "environment " + env
}
