package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// A build may take minutes, and runs inside a pass that holds the app's
// lock and a worker. Two guards keep that from hurting:
//
//   - a build is cancelled as soon as the app no longer wants its release
//     (a newer release became the target, or the app is being deleted), and
//     a pass that built re-reads the app before acting on what it read
//     before the build;
//   - builds take one of Workers-1 slots (at least one), and a pass that
//     finds none free waits without holding a worker, so long builds never
//     stop deletes, rollouts and repairs of other apps.

// errTargetMoved ends a pass whose build outlived its reason. It is a
// conflict, so the next pass follows at once and reads the new state.
var errTargetMoved = fmt.Errorf("deploy: the app changed while its release was being built: %w", store.ErrConflict)

// errNoBuildSlot ends a pass that has to build while every slot is taken;
// it is looked at again after Requeue.
var errNoBuildSlot = errors.New("deploy: every build slot is taken")

// buildCheck is how often a running build checks that its release is still
// the app's target (Notify checks at once; this covers changes it missed).
const buildCheck = time.Second

func newBuildSlots(workers int) chan struct{} {
	return make(chan struct{}, max(1, workers-1))
}

// takeBuildSlot returns a function that gives the slot back, or false when
// every slot is taken.
func (r *Reconciler) takeBuildSlot() (func(), bool) {
	select {
	case r.buildSlots <- struct{}{}:
		return func() { <-r.buildSlots }, true
	default:
		return nil, false
	}
}

// pokeBuild asks a running build of app, if any, to check its release is
// still wanted.
func (r *Reconciler) pokeBuild(app string) {
	if v, ok := r.building.Load(app); ok {
		select {
		case v.(chan struct{}) <- struct{}{}:
		default:
		}
	}
}

// watchTarget returns a context for building release target of the app,
// which ends with errTargetMoved as its cause once the app no longer wants
// that release. stop ends the watch; it returns once its goroutine has.
func (p *pass) watchTarget(ctx context.Context, target int) (bctx context.Context, stop func()) {
	app := p.app.Name
	bctx, cancel := context.WithCancelCause(ctx)
	poke := make(chan struct{}, 1)
	p.r.building.Store(app, poke)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(buildCheck)
		defer t.Stop()
		for {
			select {
			case <-bctx.Done():
				return
			case <-t.C:
			case <-poke:
			}
			if !p.r.stillWanted(bctx, app, target) {
				cancel(errTargetMoved)
				return
			}
		}
	}()
	return bctx, func() {
		cancel(nil)
		<-done
		p.r.building.CompareAndDelete(app, poke)
	}
}

// stillWanted reports whether app still targets release target. A store
// that cannot be read says nothing: the build goes on.
func (r *Reconciler) stillWanted(ctx context.Context, app string, target int) bool {
	a, err := r.store.GetApp(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		return true
	}
	return !a.Deleting && a.TargetRelease == target
}

// unchanged returns errTargetMoved when the app record changed since the
// pass read it (the API applied, rolled back or deleted during a build).
func (p *pass) unchanged(ctx context.Context) error {
	a, err := p.r.store.GetApp(ctx, p.app.Name)
	if errors.Is(err, store.ErrNotFound) {
		return errTargetMoved
	}
	if err != nil {
		return fmt.Errorf("deploy: get app %s: %w", p.app.Name, err)
	}
	if a.Version != p.app.Version {
		return errTargetMoved
	}
	return nil
}
