package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor/kube"
	"github.com/berthdev/berth/internal/pipeline/executor/local"
	"github.com/berthdev/berth/internal/pipeline/runner"
	"github.com/berthdev/berth/internal/store"
)

// pipelines adapts the run driver to the API's Pipelines interface.
type pipelines struct {
	*runner.Runner
	// wake tells the leader's run driver, on whichever server it runs,
	// that runs changed; a no-op on a server alone on its store.
	wake func()
}

// newPipelines builds the local executor, the environments' kube
// executors (pipelines with executor.env) and the run driver.
func newPipelines(ctx context.Context, cfg Config, st store.Store, access clusterAccess, blobs blob.Store, notify func(string), logger *slog.Logger) (*pipelines, error) {
	pc := cfg.Pipelines
	work := pc.WorkDir
	if work == "" {
		// One folder per data directory, so two servers never share one.
		sum := sha256.Sum256([]byte(cfg.DataDir))
		work = filepath.Join(os.TempDir(), "berth-pipelines-"+hex.EncodeToString(sum[:6]))
	}
	exec, err := local.New(ctx, local.Options{Logger: logger, User: pc.StepUser})
	if err != nil {
		return nil, fmt.Errorf("server: pipeline executor: %w", err)
	}
	secrets := pc.Secrets
	if secrets == nil {
		secrets = runner.NoSecrets{}
	}
	clusters := newClusterExecutors(st, access, kube.Options{
		DefaultImage: pc.DefaultImage, CheckoutImage: pc.CheckoutImage,
		// The cluster gateways' Berth image carries the step agent too.
		AgentImage: cfg.gatewayImage(),
	}, logger.With("component", "pipelines"))
	r, err := runner.New(ctx, runner.Options{
		Store: st, Blobs: blobs, Executor: guardedExecutor{Executor: exec}, Clusters: guardedClusters{clusters}, Secrets: secrets, Notify: notify,
		DataDir: cfg.DataDir, WorkDir: work, Logger: logger,
		PerPipeline: pc.PerPipeline, PerTeam: pc.PerTeam, AllowPrivateNotify: pc.AllowPrivateNotify,
		StepParallelism: pc.StepParallelism,
		SweepEvery:      pc.SweepEvery,
		CacheTTL:        pc.CacheTTL,
		// Step pods send their artifacts to the URL gateways in clusters
		// reach the server at.
		UploadBaseURL: cfg.AdvertiseURL,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return &pipelines{Runner: r, wake: func() {}}, nil
}

func (p *pipelines) StartRun(ctx context.Context, app, ref string, params map[string]string, by string) (store.Run, error) {
	return p.woke(p.Start(ctx, runner.StartRequest{App: app, Trigger: pipeline.EventManual, Ref: ref, Params: params, By: by}))
}

func (p *pipelines) CancelRun(ctx context.Context, id, by string) (store.Run, error) {
	return p.woke(p.Cancel(ctx, id, by))
}

func (p *pipelines) RerunRun(ctx context.Context, id, by string) (store.Run, error) {
	return p.woke(p.Rerun(ctx, id, by))
}

func (p *pipelines) Decide(ctx context.Context, pr rbac.Principal, id, decision, comment string) (store.Run, error) {
	return p.woke(p.Runner.Decide(ctx, pr, id, decision, comment))
}

func (p *pipelines) RunLogs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	return p.Logs(ctx, id, follow)
}

func (p *pipelines) ServeHook(w http.ResponseWriter, r *http.Request, forge, app string) {
	p.Runner.ServeHook(w, r, forge, app)
	p.wake()
}

// woke wakes the leader's driver after a successful change of runs.
func (p *pipelines) woke(run store.Run, err error) (store.Run, error) {
	if err == nil {
		p.wake()
	}
	return run, err
}
