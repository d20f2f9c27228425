// Package api serves Berth's HTTP/JSON API under /api/v1. Handlers are thin:
// they validate input, check the token, write desired state to the store and
// wake the reconciler. No handler talks to a runtime; logs come through the
// LogSource the server wires in.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Default limits and intervals, used when Deps leaves them zero.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxBlobBytes = 64 << 20
	defaultWatchPoll    = time.Second
	defaultHeartbeat    = 15 * time.Second
)

// LogSource streams the output of an app's services. service "" means every
// service of the app.
type LogSource interface {
	Logs(ctx context.Context, app, service string, opts runtime.LogOptions) (io.ReadCloser, error)
}

// Deps is what the API needs from the server.
type Deps struct {
	Store store.Store
	Blobs *blob.Store
	// Notify wakes the reconciler for an app after a write; nil is allowed.
	Notify func(app string)
	// Logs serves GET .../logs; nil answers 503.
	Logs    LogSource
	Logger  *slog.Logger
	Now     func() time.Time
	Version api.Version
	// MaxBodyBytes limits JSON bodies (default 1 MiB); MaxBlobBytes limits
	// source archives (default 64 MiB).
	MaxBodyBytes int64
	MaxBlobBytes int64
	// Changes wakes watchers when the store changed. The API pokes it after
	// its own writes; the server should hand the same Broadcaster to the
	// reconciler. Watchers also poll every WatchPoll, so nil works (slower).
	Changes *Broadcaster
	// WatchPoll is the fallback poll interval of /watch (default 1s) and
	// Heartbeat the interval of its keep-alive comments (default 15s).
	WatchPoll time.Duration
	Heartbeat time.Duration
}

func (d *Deps) setDefaults() {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if d.MaxBlobBytes <= 0 {
		d.MaxBlobBytes = DefaultMaxBlobBytes
	}
	if d.Notify == nil {
		d.Notify = func(string) {}
	}
	if d.Changes == nil {
		d.Changes = NewBroadcaster()
	}
	if d.WatchPoll <= 0 {
		d.WatchPoll = defaultWatchPoll
	}
	if d.Heartbeat <= 0 {
		d.Heartbeat = defaultHeartbeat
	}
}

// server holds the dependencies the handlers share.
type server struct {
	Deps
}

// New returns the API's handler: /healthz and everything under /api/v1.
func New(d Deps) http.Handler {
	d.setDefaults()
	s := &server{Deps: d}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range s.routes() {
		h := s.wrap(rt.handle)
		if !rt.public {
			h = s.requireToken(h)
		}
		mux.Handle(rt.method+" "+rt.path, h)
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// A known path with the wrong method, and an unknown path, answer in
	// the JSON error shape too (ServeMux would answer in plain text).
	for path, methods := range allowed {
		mux.Handle(path, s.wrap(methodNotAllowed(methods)))
	}
	mux.Handle("/", s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no route for %s %s; the routes are listed at /api/v1/openapi.json", r.Method, r.URL.Path)
	}))
	return s.requestContext(mux)
}

// route is one entry of the API's route table, which New registers and the
// OpenAPI test checks against the document.
type route struct {
	method string
	path   string
	public bool // no token needed
	// perm is the permission the route needs; every non-public route
	// declares one (a test fails otherwise). Handlers of team objects
	// check it against the object's team with s.authorize.
	perm   rbac.Permission
	handle handlerFunc
}

func (s *server) routes() []route {
	return []route{
		{method: http.MethodGet, path: "/healthz", public: true, handle: s.healthz},
		{method: http.MethodGet, path: "/api/v1/openapi.json", public: true, handle: s.openAPI},
		{method: http.MethodGet, path: "/api/v1/version", perm: rbac.AppsRead, handle: s.version},
		{method: http.MethodPut, path: "/api/v1/blobs/{digest}", perm: rbac.AppsDeploy, handle: s.putBlob},
		{method: http.MethodPost, path: "/api/v1/validate", perm: rbac.AppsRead, handle: s.validate},
		{method: http.MethodPost, path: "/api/v1/apply", perm: rbac.AppsDeploy, handle: s.apply},
		{method: http.MethodGet, path: "/api/v1/apps", perm: rbac.AppsRead, handle: s.listApps},
		{method: http.MethodGet, path: "/api/v1/apps/{app}", perm: rbac.AppsRead, handle: s.getApp},
		{method: http.MethodDelete, path: "/api/v1/apps/{app}", perm: rbac.AppsDelete, handle: s.deleteApp},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/releases", perm: rbac.AppsRead, handle: s.listReleases},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/releases/{release}", perm: rbac.AppsRead, handle: s.getRelease},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/diff", perm: rbac.AppsRead, handle: s.diff},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/rollback", perm: rbac.AppsDeploy, handle: s.rollback},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/rollout", perm: rbac.AppsDeploy, handle: s.rollout},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/promote", perm: rbac.AppsDeploy, handle: s.promote},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/abort", perm: rbac.AppsDeploy, handle: s.abort},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/logs", perm: rbac.AppsRead, handle: s.logs},
		{method: http.MethodGet, path: "/api/v1/watch", perm: rbac.AppsRead, handle: s.watch},
		{method: http.MethodGet, path: "/api/v1/gateway/snapshot", perm: rbac.ClustersManage, handle: s.gatewaySnapshot},
		{method: http.MethodPost, path: "/api/v1/clusters", perm: rbac.ClustersManage, handle: s.addCluster},
		{method: http.MethodGet, path: "/api/v1/clusters", perm: rbac.ClustersManage, handle: s.listClusters},
		{method: http.MethodGet, path: "/api/v1/clusters/{cluster}", perm: rbac.ClustersManage, handle: s.getCluster},
		{method: http.MethodDelete, path: "/api/v1/clusters/{cluster}", perm: rbac.ClustersManage, handle: s.removeCluster},
		{method: http.MethodPost, path: "/api/v1/envs", perm: rbac.EnvsManage, handle: s.createEnvironment},
		{method: http.MethodGet, path: "/api/v1/envs", perm: rbac.EnvsManage, handle: s.listEnvironments},
		{method: http.MethodGet, path: "/api/v1/envs/{env}", perm: rbac.EnvsManage, handle: s.getEnvironment},
		{method: http.MethodDelete, path: "/api/v1/envs/{env}", perm: rbac.EnvsManage, handle: s.removeEnvironment},
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(w, "ok\n")
	return err
}

func (s *server) version(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.Version)
	return nil
}
