package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/pipeline/executor/kube"
	"github.com/berthdev/berth/internal/pipeline/runner"
)

// registerPipelineMetrics adds the pipeline run driver's series to reg:
// how many objects of runs that were not live (a server died mid-run, a
// cleanup could not reach the cluster) the leader's sweeps removed from
// clusters, by kind (a counter that keeps rising says runs are not
// cleaning up after themselves), and how many unused caches it removed.
func registerPipelineMetrics(reg prometheus.Registerer, r *runner.Runner) {
	for _, kind := range []string{kube.KindPod, kube.KindSecret, kube.KindClaim} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "berth_pipeline_leftovers_removed_total",
			Help:        "Pipeline pods, Secrets and workspace claims of runs that are not running, removed from clusters by the leader's sweeps.",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(r.Removed(kind)) }))
	}
	for _, where := range []string{"cluster", "local"} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "berth_pipeline_caches_removed_total",
			Help:        "Pipeline caches no step restored for --pipeline-cache-ttl, removed by the leader: cluster steps' (blob store) and the local executor's.",
			ConstLabels: prometheus.Labels{"where": where},
		}, func() float64 { return float64(r.CachesRemoved(where)) }))
	}
}
