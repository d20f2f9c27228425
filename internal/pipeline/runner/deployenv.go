package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// targetError is a deploy step naming an app or environment it cannot
// release to: the step fails with the message, and nothing is written.
type targetError struct{ msg string }

func (e *targetError) Error() string { return e.msg }

func targetErr(format string, args ...any) error {
	return &targetError{msg: fmt.Sprintf(format, args...)}
}

// deployEnv checks a deploy step's env for app a of team and returns the
// app's Env it stands for ("" is the local runtime). "local" names the
// server's local runtime; any other name an environment owned by team
// (another team's answers as a missing one, as in the API). An app lives
// in one environment: releasing it elsewhere would move it, which the
// reconciler does not do, so a mismatch fails instead of deploying to
// the place the step did not name.
func deployEnv(ctx context.Context, envs store.Environments, name, team string, a store.App, sp *spec.App) (string, string, error) {
	want, where := "", "the server's local runtime"
	if name != release.LocalEnv {
		e, err := envs.GetEnvironment(ctx, name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && e.Team != team) {
			return "", "", targetErr(`deploy.env: no environment named %q in the pipeline's team; see "berth env list" (env: %s is the server's local runtime)`, name, release.LocalEnv)
		}
		if err != nil {
			return "", "", fmt.Errorf("environment %s: %w", name, err)
		}
		want, where = e.Name, fmt.Sprintf("environment %s (cluster %s, namespace %s)", e.Name, e.Cluster, e.Namespace)
		if missing := release.MissingImages(sp); len(missing) > 0 {
			return "", "", targetErr("deploy.env: %s runs images; service(s) %s of berth.yaml have no image", where, strings.Join(missing, ", "))
		}
	}
	if a.Env != want {
		has := release.LocalEnv
		if a.Env != "" {
			has = a.Env
		}
		return "", "", targetErr("deploy.env: app %s runs in %s, not %s: set env: %s (moving an app to another environment is not supported)", a.Name, envLabel(a.Env), envLabel(want), has)
	}
	return want, where, nil
}

func envLabel(env string) string {
	if env == "" {
		return "the local runtime"
	}
	return "environment " + env
}
