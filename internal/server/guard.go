package server

import (
	"context"
	"fmt"
	"io"

	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/runner"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
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
