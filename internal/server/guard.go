package server

import (
	"context"
	"fmt"
	"io"

	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
	"github.com/berthdev/berth/internal/pipeline/runner"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// guardedRuntime checks the leader's lease by the local clock before each
// change it makes to the outside world (starting, scaling or stopping
// instances, applying to a cluster): the store's fence stops a stale
// leader's writes, this stops its actions, which no database can roll
// back. Reads pass through.
type guardedRuntime struct {
	runtime.Runtime
}

func (g guardedRuntime) Apply(ctx context.Context, w runtime.Workload) error {
	if err := leader.CheckContext(ctx); err != nil {
		return fmt.Errorf("apply workload %s: %w", w.ID, err)
	}
	return g.Runtime.Apply(ctx, w)
}

func (g guardedRuntime) Delete(ctx context.Context, id string) error {
	if err := leader.CheckContext(ctx); err != nil {
		return fmt.Errorf("delete workload %s: %w", id, err)
	}
	return g.Runtime.Delete(ctx, id)
}

// ServiceAddress is a read: it passes through.
func (g guardedRuntime) ServiceAddress(ctx context.Context, app, svc string, s spec.Service) (string, bool, error) {
	if a, ok := g.Runtime.(runtime.Addresser); ok {
		return a.ServiceAddress(ctx, app, svc, s)
	}
	return "", false, nil
}

// guardedExecutor checks the lease the same way before a pipeline step
// starts.
type guardedExecutor struct {
	runner.Executor
}

func (g guardedExecutor) Run(ctx context.Context, s executor.StepSpec, out io.Writer) (executor.Result, error) {
	if err := leader.CheckContext(ctx); err != nil {
		return executor.Result{}, fmt.Errorf("step %s: %w", s.Name, err)
	}
	return g.Executor.Run(ctx, s, out)
}

// guardedClusters hands out environments' executors checked like
// guardedExecutor: before a step's pod or a checkout pod is made.
type guardedClusters struct {
	runner.ClusterExecutors
}

func (g guardedClusters) ForEnvironment(ctx context.Context, e store.Environment) (runner.ClusterExecutor, error) {
	x, err := g.ClusterExecutors.ForEnvironment(ctx, e)
	if err != nil {
		return nil, err
	}
	return guardedClusterExecutor{x}, nil
}

type guardedClusterExecutor struct {
	runner.ClusterExecutor
}

func (g guardedClusterExecutor) Run(ctx context.Context, s executor.StepSpec, out io.Writer) (executor.Result, error) {
	if err := leader.CheckContext(ctx); err != nil {
		return executor.Result{}, fmt.Errorf("step %s: %w", s.Name, err)
	}
	return g.ClusterExecutor.Run(ctx, s, out)
}

func (g guardedClusterExecutor) Checkout(ctx context.Context, runID string, ws executor.Workspace, src gitsrc.Source, out io.Writer) error {
	if err := leader.CheckContext(ctx); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	return g.ClusterExecutor.Checkout(ctx, runID, ws, src, out)
}

// Sweep deletes pipeline objects on the cluster: a leader that lost its
// lease must not remove what the new leader's runs use. The lease is
// checked again when the sweeper asks which runs are live, after its
// listing and just before it deletes.
func (g guardedClusterExecutor) Sweep(ctx context.Context, live func(context.Context) ([]string, error)) (map[string]int, error) {
	sw, ok := g.ClusterExecutor.(runner.ClusterSweeper)
	if !ok {
		return nil, nil
	}
	if err := leader.CheckContext(ctx); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return sw.Sweep(ctx, func(ctx context.Context) ([]string, error) {
		if err := leader.CheckContext(ctx); err != nil {
			return nil, fmt.Errorf("sweep: %w", err)
		}
		return live(ctx)
	})
}
