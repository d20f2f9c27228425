package clusterroute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/berthdev/berth/internal/routefeed"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Store is what the reconciler reads (environments, clusters, the apps'
// routes) and writes (gateway tokens).
type Store interface {
	routefeed.Reader
	ListEnvironments(ctx context.Context) ([]store.Environment, error)
	ListClusters(ctx context.Context) ([]store.Cluster, error)
	GetApp(ctx context.Context, name string) (store.App, error)
	CreateToken(ctx context.Context, t store.Token) error
	GetTokenByHash(ctx context.Context, hash string) (store.Token, error)
	ListTokens(ctx context.Context) ([]store.Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	SetEnvironmentStatus(ctx context.Context, name string, st api.EnvironmentStatus) error
}

// Clients reach one cluster: its core API and its Gateway API.
type Clients struct {
	Kube    kubernetes.Interface
	Gateway gwclient.Interface
}

// Opener opens the clients of a cluster by name (the server opens them
// with the cluster's stored credentials).
type Opener func(ctx context.Context, cluster string) (Clients, error)

// Options configure a Reconciler.
type Options struct {
	Store Store
	Open  Opener
	// ControlPlaneURL is the API URL the gateways in clusters reach the
	// control plane at; without it no gateway is run (HTTPRoutes still
	// are written).
	ControlPlaneURL string
	// Image is the berth image the gateways run.
	Image string
	// GatewayReplicas is how many gateway pods each environment runs
	// (default 2, so one can be replaced while the other serves).
	GatewayReplicas int
	// FullEvery is how often a pass re-applies everything and prunes
	// across the clusters even when nothing changed in the store (drift
	// repair, objects of removed environments); default one minute.
	FullEvery time.Duration
	// StatusEvery is how often an environment's gateway, its pods and
	// its TLS Secrets are read again for its status (and a renewed
	// certificate is noticed); default 5 s.
	StatusEvery time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Reconciler makes the clusters route to the environments' apps.
type Reconciler struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	applied  map[string]string // what was applied last, by object set: skip re-applying the same
	lastFull time.Time
	envsSeen string // the environments at the last full pass
	warned   map[string]bool
	seen     map[string]*seen // by environment
}

// New returns a Reconciler.
func New(opts Options) *Reconciler {
	if opts.GatewayReplicas <= 0 {
		opts.GatewayReplicas = 2
	}
	if opts.FullEvery <= 0 {
		opts.FullEvery = time.Minute
	}
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Reconciler{opts: opts, log: log, applied: map[string]string{}, warned: map[string]bool{}, seen: map[string]*seen{}}
}

func (r *Reconciler) now() time.Time { return r.opts.Now().UTC() }

// Run passes whenever wake fires (after every committed write: an
// environment created or removed writes no event, so the store's revision
// is not enough) and every tick, until ctx ends. A pass with nothing new
// reads the store and sends nothing to any cluster. A pass that fails is
// logged; the next one retries.
func (r *Reconciler) Run(ctx context.Context, wake <-chan struct{}, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastErr string
	var loggedAt time.Time
	for {
		// A cluster that stays unreachable fails every pass: the same
		// error is logged once a minute, not after every write.
		if err := r.Sync(ctx); err != nil && ctx.Err() == nil {
			if err.Error() != lastErr || r.now().Sub(loggedAt) >= time.Minute {
				r.log.Error("routing on clusters: pass failed; retrying", "err", err)
				lastErr, loggedAt = err.Error(), r.now()
			}
		} else {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
	}
}

// Sync is one pass: every environment's gateway or HTTPRoutes applied
// (objects that did not change since the last pass are not sent again,
// except on a full pass), and, on a full pass or when the environments
// changed, whatever belongs to environments that are gone deleted and
// their tokens revoked. Each cluster is handled on its own: one that
// cannot be reached does not stop the others.
func (r *Reconciler) Sync(ctx context.Context) error {
	envs, err := r.opts.Store.ListEnvironments(ctx)
	if err != nil {
		return fmt.Errorf("list environments: %w", err)
	}
	clusters, err := r.opts.Store.ListClusters(ctx)
	if err != nil {
		return fmt.Errorf("list clusters: %w", err)
	}
	b, _ := json.Marshal(envs) // plain structs always marshal
	sum := sha256.Sum256(b)
	envKey := hex.EncodeToString(sum[:])
	r.mu.Lock()
	full := r.now().Sub(r.lastFull) >= r.opts.FullEvery || envKey != r.envsSeen
	if full {
		r.applied = map[string]string{}
	}
	r.mu.Unlock()

	var errs []error
	// Gateway tokens of environments that are gone, or route another way.
	if full {
		keep := map[string]string{}
		for _, e := range envs {
			if routing(e) == api.RoutingGateway {
				keep[e.Name] = e.Team
			}
		}
		if err := r.revokeTokens(ctx, func(t store.Token) bool {
			team, ok := keep[t.Name]
			return !ok || team != t.Team
		}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range clusters {
		var mine []store.Environment
		for _, e := range envs {
			if e.Cluster == c.Name {
				mine = append(mine, e)
			}
		}
		if len(mine) == 0 && !full {
			continue
		}
		if err := r.syncCluster(ctx, c.Name, mine, full); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
		}
	}
	if full {
		r.forget(envs)
	}
	if len(errs) == 0 && full {
		r.mu.Lock()
		r.lastFull, r.envsSeen = r.now(), envKey
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

func routing(e store.Environment) string {
	if e.Routing == "" {
		return api.RoutingGateway
	}
	return e.Routing
}

// syncCluster applies what each environment of the cluster needs and, on
// a full pass, prunes what no environment needs.
func (r *Reconciler) syncCluster(ctx context.Context, cluster string, envs []store.Environment, full bool) error {
	cl, err := r.opts.Open(ctx, cluster)
	if err != nil {
		for _, e := range envs {
			if routing(e) == api.RoutingGateway {
				if due, s := r.lookDue(e); due {
					r.touch(s)
					r.report(ctx, e, s, api.EnvironmentStatus{Gateway: api.GatewayUnknown,
						Problems: []string{fmt.Sprintf("cluster %s cannot be reached: %v", cluster, err)}})
				}
			}
		}
		return err
	}
	var errs []error
	for _, e := range envs {
		var err error
		switch routing(e) {
		case api.RoutingGatewayAPI:
			err = r.syncRoutes(ctx, cl, e)
		default:
			err = r.syncGateway(ctx, cl, e)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", e.Name, err))
		}
	}
	if full {
		if err := r.prune(ctx, cl, envs); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// once runs apply unless the same key was applied with the same value
// since the last full pass.
func (r *Reconciler) once(key string, value any, apply func() error) error {
	b, _ := json.Marshal(value) // apply configurations always marshal
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	r.mu.Lock()
	same := r.applied[key] == h
	r.mu.Unlock()
	if same {
		return nil
	}
	if err := apply(); err != nil {
		return err
	}
	r.mu.Lock()
	r.applied[key] = h
	r.mu.Unlock()
	return nil
}

func (r *Reconciler) syncGateway(ctx context.Context, cl Clients, e store.Environment) error {
	if r.opts.ControlPlaneURL == "" {
		// Said once per environment: nothing changes until the server
		// is restarted with the URL.
		r.mu.Lock()
		warned := r.warned[e.Name]
		r.warned[e.Name] = true
		r.mu.Unlock()
		if !warned {
			r.log.Warn("no gateway runs in the environment's cluster: start the server with --advertise-url (the API URL pods reach it at)",
				"env", e.Name, "cluster", e.Cluster, "namespace", e.Namespace)
		}
		if due, s := r.lookDue(e); due {
			r.looked(s, e, tlsState{})
			r.report(ctx, e, s, api.EnvironmentStatus{Gateway: api.GatewayUnknown,
				Problems: []string{"no gateway runs: the server was started without --advertise-url (the API URL pods reach it at)"}})
		}
		return nil
	}
	// The TLS Secrets are read when the status is (not on every pass):
	// what they hold decides the Deployment.
	due, s := r.lookDue(e)
	r.mu.Lock()
	tls := s.tls
	r.mu.Unlock()
	if due {
		var err error
		if tls, err = checkTLS(ctx, cl.Kube, e, r.now()); err != nil {
			return err
		}
	}
	key := struct {
		Env    store.Environment
		Served []servedSecret
	}{e, tls.Served}
	if err := r.once("gateway/"+e.Name, key, func() error { return r.ensureGateway(ctx, cl.Kube, e, tls) }); err != nil {
		if due {
			r.report(ctx, e, s, withTLS(api.EnvironmentStatus{Gateway: api.GatewayUnknown,
				Problems: []string{"the gateway could not be applied: " + err.Error()}}, e, tls))
		}
		return err
	}
	if !due {
		return nil
	}
	r.looked(s, e, tls)
	st, err := observeGateway(ctx, cl.Kube, e)
	if err != nil {
		return err
	}
	r.report(ctx, e, s, withTLS(st, e, tls))
	return nil
}

// touch records a look that found nothing (the cluster could not be
// reached): the next look is in StatusEvery, or at once if the settings
// changed.
func (r *Reconciler) touch(s *seen) {
	r.mu.Lock()
	s.at = r.now()
	r.mu.Unlock()
}

// looked records that the environment was just looked at, with what its
// TLS Secrets held.
func (r *Reconciler) looked(s *seen, e store.Environment, tls tlsState) {
	r.mu.Lock()
	s.at, s.env, s.tls = r.now(), e, tls
	r.mu.Unlock()
}
