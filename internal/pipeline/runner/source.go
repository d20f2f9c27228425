package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// appSource is an app's repository as its target release's spec names it,
// with the branch defaulted.
func appSource(ctx context.Context, st store.Releases, a store.App) (spec.Source, error) {
	src, _, err := releaseSource(ctx, st, a, a.TargetRelease)
	return src, err
}

// releaseSource is the repository release n of app a names, with the
// branch defaulted, and that release's spec (canonical JSON), which may
// hold the pipeline itself.
func releaseSource(ctx context.Context, st store.Releases, a store.App, n int) (spec.Source, []byte, error) {
	if n == 0 {
		return spec.Source{}, nil, pipeline.ErrNoSource
	}
	rel, err := st.GetRelease(ctx, a.Name, n)
	if err != nil {
		return spec.Source{}, nil, err
	}
	var sp struct {
		Source *spec.Source `json:"source"`
	}
	if err := json.Unmarshal(rel.Spec, &sp); err != nil {
		return spec.Source{}, nil, fmt.Errorf("runner: release %s/%d spec: %w", a.Name, rel.Number, err)
	}
	if sp.Source == nil || sp.Source.Git == "" {
		return spec.Source{}, nil, fmt.Errorf("%w (app %s)", pipeline.ErrNoSource, a.Name)
	}
	if sp.Source.Branch == "" {
		sp.Source.Branch = "main"
	}
	return *sp.Source, rel.Spec, nil
}

// Source returns app's source as its target release names it: the
// repository and branch its pipeline runs on, the pipeline file, the
// forge commit status goes to.
func (r *Runner) Source(ctx context.Context, app string) (spec.Source, error) {
	a, err := r.st.GetApp(ctx, app)
	if err != nil {
		return spec.Source{}, err
	}
	return appSource(ctx, r.st, a)
}

// gitAuth reads the credential source.secret names from the app's
// secrets. The value is added to the run log's secrets first, so no note,
// reason or error of the run can show it. It is used by the server's own
// fetches only: steps never see it, and go-git keeps it out of the
// checkout's .git/config.
func (r *Runner) gitAuth(ctx context.Context, env *runEnv, src spec.Source) (gitsrc.Auth, error) {
	if src.Secret == "" {
		return gitsrc.Auth{}, nil
	}
	got, err := r.opts.Secrets.Resolve(ctx, env.run.Team, env.run.App, []string{src.Secret})
	if err != nil {
		return gitsrc.Auth{}, fmt.Errorf("source.secret %s: %w", src.Secret, err)
	}
	v, ok := got[src.Secret]
	if !ok || v == "" {
		return gitsrc.Auth{}, fmt.Errorf("source.secret names %s, which app %s does not have: set it with `berth secret set %s %s`", src.Secret, env.run.App, env.run.App, src.Secret)
	}
	env.log.addSecrets([]string{v})
	// The URL's protocol picks which of the two gitsrc uses.
	return gitsrc.Auth{Token: v, Username: src.Username, SSHKey: []byte(v), KnownHosts: []byte(src.KnownHosts)}, nil
}

// fetchError says what to do about a refused fetch: name a credential, or
// check the one named.
func fetchError(app string, src spec.Source, err error) error {
	if !errors.Is(err, gitsrc.ErrUnauthorized) {
		return err
	}
	if src.Secret == "" {
		return fmt.Errorf("%w; a private repository needs a credential: store an access token with `berth secret set %s NAME` and name it in berth.yaml's source.secret", err, app)
	}
	return fmt.Errorf("%w; the credential in secret %s (source.secret) was refused: check that it is valid and may read the repository", err, src.Secret)
}
