package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/sched"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// releasePoll is how often the deploy step looks at its release.
const releasePoll = 250 * time.Millisecond

// deployStep releases the checkout, as the run's steps left it (with
// their build outputs), through the same path as POST /api/v1/apply, and
// waits until the reconciler has rolled it out: healthy is success, a
// failed release fails the step.
func (r *Runner) deployStep(ctx context.Context, env *runEnv, step *pipeline.Step) sched.Outcome {
	if step.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, step.Timeout.D())
		defer cancel()
	}
	target := step.Deploy.App
	if target == "" {
		target = env.run.App
	}
	app, canonical, err := readSpec(env.ws.Src)
	if err != nil {
		env.log.note("step %s: %v", step.Name, err)
		return stepFailed(ctx, "%v", err)
	}
	if app.Name != target {
		return stepFailed(ctx, "berth.yaml of the checkout is app %q; this step deploys %q", app.Name, target)
	}
	if r.opts.Blobs == nil {
		return stepFailed(ctx, "this server keeps no source archives")
	}
	digest, err := r.packSource(ctx, env)
	if err != nil {
		return stepFailed(ctx, "packing the checkout: %v", err)
	}
	var res release.Result
	where := ""
	// Comparing source archives takes a while: not in the transaction.
	code := release.Precompared(ctx, r.st, release.BlobCode{Blobs: r.opts.Blobs}, target, canonical, digest)
	err = r.st.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.GetApp(ctx, target)
		if errors.Is(err, store.ErrNotFound) || (err == nil && a.Team != env.run.Team) {
			// Another team's app does not exist for this pipeline.
			return targetErr("deploy.app: app %q: not found in the pipeline's team", target)
		}
		if err != nil {
			return err
		}
		appEnv, w, err := deployEnv(ctx, tx, step.Deploy.Env, env.run.Team, a, app)
		if err != nil {
			return err
		}
		where = w
		res, err = release.Apply(ctx, tx, release.Input{
			Name: target, Canonical: canonical, Source: digest, Cause: "pipeline", Team: env.run.Team, Env: appEnv, Now: r.opts.Now(),
			Code: code,
		})
		return err
	})
	if errors.Is(err, release.ErrAppDeleting) {
		return stepFailed(ctx, "app %s is being deleted", target)
	}
	if te := (*targetError)(nil); errors.As(err, &te) {
		env.log.note("step %s: %s", step.Name, te.msg)
		return stepFailed(ctx, "%s", te.msg)
	}
	if err != nil {
		return stepFailed(ctx, "creating the release: %v", err)
	}
	r.opts.Notify(target)
	switch {
	case res.Created && res.KeepsInstancesOf != 0:
		env.log.note("step %s: release %d of %s created in %s from commit %s; only the pipeline or source section changed, so the running instances of release %d stay",
			step.Name, res.Release, target, where, short(env.run.Commit), res.KeepsInstancesOf)
	case res.Created:
		env.log.note("step %s: release %d of %s created in %s from commit %s", step.Name, res.Release, target, where, short(env.run.Commit))
	default:
		env.log.note("step %s: release %d of %s already has this spec and source", step.Name, res.Release, target)
	}
	return r.waitRelease(ctx, env, step, target, res.Release)
}

func (r *Runner) waitRelease(ctx context.Context, env *runEnv, step *pipeline.Step, app string, n int) sched.Outcome {
	t := time.NewTicker(releasePoll)
	defer t.Stop()
	last := ""
	for {
		rel, err := r.st.GetRelease(ctx, app, n)
		if err == nil {
			if rel.State != last {
				env.log.note("step %s: release %d is %s %s", step.Name, n, rel.State, rel.Message)
				last = rel.State
			}
			switch rel.State {
			case api.ReleaseDeployed:
				return sched.Outcome{Reason: fmt.Sprintf("release %d deployed", n)}
			case api.ReleaseFailed:
				return sched.Outcome{ExitCode: 1, Reason: fmt.Sprintf("release %d failed: %s %s", n, rel.Reason, rel.Message)}
			case api.ReleaseSuperseded:
				return sched.Outcome{ExitCode: 1, Reason: fmt.Sprintf("release %d was superseded before it became healthy", n)}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return sched.Outcome{ExitCode: 1, Reason: fmt.Sprintf("release %d was not healthy within %s", n, step.Timeout.D())}
			}
			return sched.Outcome{Cancelled: true, ExitCode: 1, Reason: "cancelled while waiting for the release"}
		case <-t.C:
		}
	}
}

// readSpec reads berth.yaml (or berth.yml) at the root of the checkout
// through a rooted view.
func readSpec(dir string) (*spec.App, []byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	for _, name := range []string{"berth.yaml", "berth.yml"} {
		data, err := readRegular(root, name, 1<<20)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", name, err)
		}
		app, err := spec.ParseWith(data, pipeline.SpecOptions)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		canonical, err := app.Canonical()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return app, canonical, nil
	}
	return nil, nil, errors.New("the checkout has no berth.yaml at its root")
}

// readRegular reads up to max bytes of the regular file name in root. It
// does not block: the run's steps own the checkout, and a FIFO one of them
// put in the file's place would otherwise hang the reading step past its
// timeout and the run's cancel. A symlink is followed only inside root.
func readRegular(root *os.Root, name string, max int64) ([]byte, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// packSource packs the checkout into the blob store and returns its digest.
func (r *Runner) packSource(ctx context.Context, env *runEnv) (string, error) {
	f, err := os.CreateTemp(env.ws.Root, "source-*.tar.gz")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	digest, err := source.Pack(env.ws.Src, f)
	if err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if err := r.opts.Blobs.Put(ctx, digest, f, source.MaxArchiveSize+1); err != nil {
		return "", err
	}
	return digest, nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
