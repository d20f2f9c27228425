package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/runtime"
)

// Options configure a Runtime.
type Options struct {
	// Config reaches the cluster (from a kubeconfig, or in-cluster).
	Config *rest.Config
	// Cluster names the cluster in errors and logs.
	Cluster string
	// Namespace is where every workload of this runtime runs (one
	// environment). Apply creates it when missing; Berth never deletes it.
	Namespace string
	// StorageClass of volume claims; "" uses the cluster's default.
	StorageClass string
	// Logger receives repair and informer messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Runtime runs workloads in one namespace of one cluster.
type Runtime struct {
	opts   Options
	client kubernetes.Interface
	log    *slog.Logger

	factory     informers.SharedInformerFactory
	deployments appslisters.DeploymentLister
	pods        corelisters.PodLister
	secrets     corelisters.SecretLister
	services    corelisters.ServiceLister
	slices      discoverylisters.EndpointSliceLister

	ctx    context.Context // ends at Close; owns every goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup

	wlocks workloadLocks
	// nsApplied is set once the namespace was applied (apply.go).
	nsApplied atomic.Bool

	mu       sync.Mutex
	desired  map[string]runtime.Workload // what Apply was last told, for drift repair
	deleting map[string]bool             // workloads Delete is removing: not repaired
	watchers map[chan runtime.Event]struct{}

	repairs *repairQueue
	ranks   *repairQueue // pods to give a deletion cost (rank.go)
	// lowCost is the lowest deletion cost given per workload; only
	// rankLoop touches it.
	lowCost map[string]int64
}

var _ runtime.Runtime = (*Runtime)(nil)

// resyncPeriod re-delivers every cached object to the handlers now and
// then, so drift repair also catches an edit whose event was missed.
const resyncPeriod = 5 * time.Minute

// New connects to the cluster, starts the informers and waits until their
// caches are filled. It fails with an error naming the cluster when the
// cluster cannot be reached or refuses the credentials.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.Config == nil {
		return nil, errors.New("kube runtime: Options.Config is required")
	}
	if opts.Namespace == "" {
		return nil, errors.New("kube runtime: Options.Namespace is required")
	}
	if opts.Cluster == "" {
		opts.Cluster = opts.Config.Host
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("cluster", opts.Cluster, "namespace", opts.Namespace)
	// The probe has a timeout, so an address that swallows packets fails
	// fast; the runtime's own client has none (an http.Client timeout
	// would cut informers' watches and followed logs): its calls are
	// bounded by their contexts.
	probeCfg := rest.CopyConfig(opts.Config)
	if probeCfg.Timeout == 0 {
		probeCfg.Timeout = kubecluster.Timeout
	}
	disco, err := discovery.NewDiscoveryClientForConfig(probeCfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", opts.Cluster, err)
	}
	if err := kubecluster.Probe(ctx, disco, opts.Cluster); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(opts.Config)
	cfg.Timeout = 0
	if cfg.UserAgent == "" {
		cfg.UserAgent = "berth"
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", opts.Cluster, err)
	}

	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Runtime{
		opts: opts, client: client, log: log,
		ctx: rctx, cancel: cancel,
		desired:  map[string]runtime.Workload{},
		deleting: map[string]bool{},
		watchers: map[chan runtime.Event]struct{}{},
		lowCost:  map[string]int64{},
	}
	r.factory = informers.NewSharedInformerFactoryWithOptions(client, resyncPeriod,
		informers.WithNamespace(opts.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.LabelSelector = labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByBerth}).String()
		}))
	dInf := r.factory.Apps().V1().Deployments()
	pInf := r.factory.Core().V1().Pods()
	sInf := r.factory.Core().V1().Secrets()
	svcInf := r.factory.Core().V1().Services()
	// EndpointSlices carry the Service's labels (the controller copies
	// them), so the same filter selects the slices of Berth's Services.
	eInf := r.factory.Discovery().V1().EndpointSlices()
	r.deployments, r.pods, r.secrets, r.slices = dInf.Lister(), pInf.Lister(), sInf.Lister(), eInf.Lister()
	r.services = svcInf.Lister()
	r.repairs, r.ranks = newRepairQueue(), newRepairQueue()
	for _, inf := range []cache.SharedIndexInformer{
		dInf.Informer(), pInf.Informer(), sInf.Informer(),
		r.factory.Core().V1().ConfigMaps().Informer(),
		svcInf.Informer(),
		r.factory.Policy().V1().PodDisruptionBudgets().Informer(),
		eInf.Informer(),
		r.factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer(),
	} {
		if _, err := inf.AddEventHandler(r.handler()); err != nil {
			cancel()
			return nil, fmt.Errorf("cluster %s: %w", opts.Cluster, err)
		}
	}
	r.factory.Start(rctx.Done())
	syncCtx, syncCancel := context.WithTimeout(ctx, time.Minute)
	defer syncCancel()
	for typ, ok := range r.factory.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			cancel()
			r.factory.Shutdown()
			return nil, fmt.Errorf("cluster %s: namespace %s: the %v cache did not fill: %w", opts.Cluster, opts.Namespace, typ, context.Cause(syncCtx))
		}
	}
	r.wg.Go(r.repairLoop)
	r.wg.Go(r.rankLoop)
	return r, nil
}

// Close stops the informers and the repair loop. Workloads keep running.
func (r *Runtime) Close() error {
	r.cancel()
	r.repairs.shutdown()
	r.ranks.shutdown()
	r.factory.Shutdown()
	r.wg.Wait()
	return nil
}

func (r *Runtime) closed() bool { return r.ctx.Err() != nil }

// Client is the runtime's clientset (for the server's cluster views).
func (r *Runtime) Client() kubernetes.Interface { return r.client }

// Namespace is where the runtime's workloads run.
func (r *Runtime) Namespace() string { return r.opts.Namespace }
