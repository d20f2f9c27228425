// Package api serves Berth's HTTP/JSON API under /api/v1. Handlers are thin:
// they validate input, check the token, write desired state to the store and
// wake the reconciler. No handler talks to a runtime; logs come through the
// LogSource the server wires in.
package api

import (
	"context"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/loginlimit"
	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/routefeed"
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
	// Blobs keeps uploaded source archives: the data directory's folder
	// on SQLite, the database on PostgreSQL (every replica sees them).
	Blobs blob.Store
	// Notify wakes the reconciler for an app after a write; nil is allowed.
	Notify func(app string)
	// Logs serves GET .../logs; nil answers 503.
	Logs LogSource
	// Secrets seals secret values; nil (no master key) answers 503 to
	// writes of secrets.
	Secrets SecretSealer
	Logger  *slog.Logger
	Now     func() time.Time
	Version api.Version
	// MaxBodyBytes limits JSON bodies (default 1 MiB); MaxBlobBytes limits
	// source archives (default 64 MiB).
	MaxBodyBytes int64
	MaxBlobBytes int64
	// MaxArtifactBytes limits a step's artifact archive sent by a pod's
	// step agent (default artifact.DefaultMaxBytes), and its content.
	MaxArtifactBytes int64
	// MaxCacheBytes limits a step's cache archive sent by a pod's step
	// agent (default artifact.DefaultMaxCacheBytes), and its content.
	MaxCacheBytes int64
	// Changes wakes watchers when the store changed. The API pokes it after
	// its own writes; the server should hand the same Broadcaster to the
	// reconciler. Watchers also poll every WatchPoll, so nil works (slower).
	Changes *Broadcaster
	// Pipelines drives pipeline runs; nil answers 503 on pipeline routes.
	Pipelines Pipelines
	// WatchPoll is the fallback poll interval of /watch (default 1s) and
	// Heartbeat the interval of its keep-alive comments (default 15s).
	WatchPoll time.Duration
	Heartbeat time.Duration
	// OIDC signs users in with an OpenID provider; nil turns SSO off.
	// Its GroupRoles name teams by name.
	OIDC *oidclogin.Client
	// SecureCookies marks session cookies Secure even on plain HTTP (set it
	// when a TLS proxy fronts the server); requests that arrive over TLS
	// always get Secure cookies.
	SecureCookies bool
	// SessionTTL is how long a console session lasts (default 12h).
	SessionTTL time.Duration
	// LoginLimit sets how password logins are throttled (zero fields take
	// loginlimit's defaults). The counts are kept in Store, shared by
	// every server on it.
	LoginLimit loginlimit.Config
	// Clusters stores clusters with their credentials sealed, and opens
	// them for health checks; nil (no master key) answers 503 to adding a
	// cluster with a kubeconfig.
	Clusters ClusterVault
	// InCluster is where the server finds its own service account, for
	// clusters added in_cluster (the zero value: the pod's).
	InCluster kubecluster.InClusterSource
	// Backup writes platform backups for GET /api/v1/backup; nil answers
	// 503.
	Backup BackupWriter
	// Routes compiles the gateway snapshots GET /api/v1/gateway/snapshot
	// serves; nil: a feed of its own over Store.
	Routes *routefeed.Feed
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
	if d.MaxArtifactBytes <= 0 {
		d.MaxArtifactBytes = artifact.DefaultMaxBytes
	}
	if d.MaxCacheBytes <= 0 {
		d.MaxCacheBytes = artifact.DefaultMaxCacheBytes
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
	if d.SessionTTL <= 0 {
		d.SessionTTL = defaultSessionTTL
	}
	if d.Routes == nil && d.Store != nil {
		d.Routes = routefeed.NewFeed(d.Store)
	}
}

// server holds the dependencies the handlers share.
type server struct {
	Deps
	// logins counts failed password logins in the store.
	logins loginThrottle
	// revocations is poked when access may have been taken away (a token
	// revoked, sessions ended, a user disabled, a member removed), so
	// open streams check their caller again at once (streamguard.go).
	revocations *Broadcaster
}

// New returns the API's handler: /healthz and everything under /api/v1.
func New(d Deps) http.Handler {
	return newServer(d).handler()
}

func newServer(d Deps) *server {
	d.setDefaults()
	policy, err := loginlimit.NewPolicy(d.LoginLimit)
	if err != nil {
		d.Logger.Error("login limits invalid; using the defaults", "err", err)
		policy, _ = loginlimit.NewPolicy(loginlimit.Config{}) // the defaults are valid
	}
	return &server{Deps: d, logins: loginThrottle{policy: policy, st: d.Store}, revocations: NewBroadcaster()}
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range s.routes() {
		h := s.wrap(rt.handle)
		if !rt.public {
			h = s.authenticate(h)
		}
		if rt.action != "" {
			h = s.audited(rt, h)
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
	perm rbac.Permission
	// action names the route in audit records ("app.apply"); every
	// mutating route has one (a test fails otherwise), and a route with
	// one is audited.
	action string
	handle handlerFunc
}

func (s *server) routes() []route {
	return []route{
		{method: http.MethodGet, path: "/healthz", public: true, handle: s.healthz},
		{method: http.MethodGet, path: "/api/v1/openapi.json", public: true, handle: s.openAPI},
		{method: http.MethodGet, path: "/api/v1/version", perm: rbac.AppsRead, handle: s.version},
		{method: http.MethodPut, path: "/api/v1/blobs/{digest}", perm: rbac.AppsDeploy, action: "blob.upload", handle: s.putBlob},
		{method: http.MethodPost, path: "/api/v1/validate", perm: rbac.AppsRead, action: "spec.validate", handle: s.validate},
		{method: http.MethodPost, path: "/api/v1/apply", perm: rbac.AppsDeploy, action: "app.apply", handle: s.apply},
		{method: http.MethodGet, path: "/api/v1/apps", perm: rbac.AppsRead, handle: s.listApps},
		{method: http.MethodGet, path: "/api/v1/apps/{app}", perm: rbac.AppsRead, handle: s.getApp},
		{method: http.MethodDelete, path: "/api/v1/apps/{app}", perm: rbac.AppsDelete, action: "app.delete", handle: s.deleteApp},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/releases", perm: rbac.AppsRead, handle: s.listReleases},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/releases/{release}", perm: rbac.AppsRead, handle: s.getRelease},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/diff", perm: rbac.AppsRead, handle: s.diff},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/rollback", perm: rbac.AppsDeploy, action: "app.rollback", handle: s.rollback},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/rollout", perm: rbac.AppsDeploy, action: "app.rollout", handle: s.rollout},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/promote", perm: rbac.AppsDeploy, action: "app.promote", handle: s.promote},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/abort", perm: rbac.AppsDeploy, action: "app.abort", handle: s.abort},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/logs", perm: rbac.AppsRead, handle: s.logs},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/config", perm: rbac.ConfigRead, handle: s.getConfig},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/config", perm: rbac.ConfigWrite, action: "config.set", handle: s.setConfig},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/config/history", perm: rbac.ConfigRead, handle: s.configHistory},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/config/diff", perm: rbac.ConfigRead, handle: s.diffConfig},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/config/rollback", perm: rbac.ConfigWrite, action: "config.rollback", handle: s.rollbackConfig},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/secrets", perm: rbac.SecretsRead, handle: s.listSecrets},
		{method: http.MethodPut, path: "/api/v1/apps/{app}/secrets/{name}", perm: rbac.SecretsWrite, action: "secret.set", handle: s.setSecret},
		{method: http.MethodDelete, path: "/api/v1/apps/{app}/secrets/{name}", perm: rbac.SecretsWrite, action: "secret.delete", handle: s.deleteSecret},
		{method: http.MethodGet, path: "/api/v1/watch", perm: rbac.AppsRead, handle: s.watch},
		{method: http.MethodGet, path: "/api/v1/gateway/snapshot", perm: rbac.ClustersManage, handle: s.gatewaySnapshot},
		{method: http.MethodGet, path: "/api/v1/pipelines", perm: rbac.PipelinesRead, handle: s.listPipelines},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/pipeline", perm: rbac.PipelinesRead, handle: s.getPipeline},
		{method: http.MethodPost, path: "/api/v1/apps/{app}/runs", perm: rbac.PipelinesRun, action: "run.start", handle: s.startRun},
		{method: http.MethodGet, path: "/api/v1/apps/{app}/runs", perm: rbac.PipelinesRead, handle: s.listRuns},
		{method: http.MethodGet, path: "/api/v1/runs", perm: rbac.PipelinesRead, handle: s.listRuns},
		{method: http.MethodGet, path: "/api/v1/runs/{run}", perm: rbac.PipelinesRead, handle: s.getRun},
		{method: http.MethodGet, path: "/api/v1/runs/{run}/logs", perm: rbac.PipelinesRead, handle: s.runLogs},
		{method: http.MethodGet, path: "/api/v1/runs/{run}/artifacts", perm: rbac.PipelinesRead, handle: s.listArtifacts},
		{method: http.MethodGet, path: "/api/v1/runs/{run}/artifacts/{step}", perm: rbac.PipelinesRead, handle: s.downloadArtifacts},
		// Public: a step's pod sends its archive with its own step token,
		// checked by the handler (good for that run and step only).
		{method: http.MethodPut, path: "/api/v1/runs/{run}/artifacts/{step}", public: true, action: "run.artifacts_upload", handle: s.uploadArtifacts},
		// Public the same way: the step's token reaches only the cache key
		// the server expanded for that step, of the run's app.
		{method: http.MethodGet, path: "/api/v1/runs/{run}/cache/{step}", public: true, handle: s.restoreCache},
		{method: http.MethodPut, path: "/api/v1/runs/{run}/cache/{step}", public: true, action: "run.cache_save", handle: s.saveCache},
		{method: http.MethodPost, path: "/api/v1/runs/{run}/cancel", perm: rbac.PipelinesRun, action: "run.cancel", handle: s.cancelRun},
		{method: http.MethodPost, path: "/api/v1/runs/{run}/rerun", perm: rbac.PipelinesRun, action: "run.rerun", handle: s.rerunRun},
		{method: http.MethodPost, path: "/api/v1/runs/{run}/approve", perm: rbac.ApprovalsDecide, action: "run.approve", handle: s.approveRun},
		{method: http.MethodPost, path: "/api/v1/runs/{run}/reject", perm: rbac.ApprovalsDecide, action: "run.reject", handle: s.rejectRun},
		{method: http.MethodPost, path: "/api/v1/hooks/{forge}/{app}", public: true, action: "run.webhook", handle: s.hook},

		// Identity: logins, the caller, teams, members, invitations, users,
		// tokens and the audit log.
		{method: http.MethodPost, path: "/api/v1/auth/login", public: true, action: "session.login", handle: s.login},
		{method: http.MethodPost, path: "/api/v1/auth/logout", perm: rbac.AppsRead, action: "session.logout", handle: s.logout},
		{method: http.MethodGet, path: "/api/v1/auth/oidc/start", public: true, handle: s.oidcStart},
		{method: http.MethodGet, path: "/api/v1/auth/oidc/callback", public: true, action: "session.sso_login", handle: s.oidcCallback},
		{method: http.MethodPost, path: "/api/v1/auth/cli/exchange", public: true, action: "token.cli_login", handle: s.cliExchange},
		{method: http.MethodGet, path: "/api/v1/whoami", perm: rbac.AppsRead, handle: s.whoami},
		{method: http.MethodGet, path: "/api/v1/teams", perm: rbac.MembersRead, handle: s.listTeams},
		{method: http.MethodPost, path: "/api/v1/teams", perm: rbac.TeamsManage, action: "team.create", handle: s.createTeam},
		{method: http.MethodGet, path: "/api/v1/teams/{team}", perm: rbac.MembersRead, handle: s.getTeam},
		{method: http.MethodGet, path: "/api/v1/teams/{team}/members", perm: rbac.MembersRead, handle: s.listMembers},
		{method: http.MethodPut, path: "/api/v1/teams/{team}/members/{user}", perm: rbac.MembersManage, action: "member.set_role", handle: s.setRole},
		{method: http.MethodDelete, path: "/api/v1/teams/{team}/members/{user}", perm: rbac.MembersManage, action: "member.remove", handle: s.removeMember},
		{method: http.MethodGet, path: "/api/v1/teams/{team}/invitations", perm: rbac.MembersManage, handle: s.listInvitations},
		{method: http.MethodPost, path: "/api/v1/teams/{team}/invitations", perm: rbac.MembersManage, action: "invitation.create", handle: s.createInvitation},
		{method: http.MethodPost, path: "/api/v1/invitations/accept", perm: rbac.MembersRead, action: "invitation.accept", handle: s.acceptInvitation},
		{method: http.MethodGet, path: "/api/v1/users", perm: rbac.MembersManage, handle: s.listUsers},
		{method: http.MethodPost, path: "/api/v1/users", perm: rbac.MembersManage, action: "user.create", handle: s.createUser},
		{method: http.MethodGet, path: "/api/v1/tokens", perm: rbac.AppsRead, handle: s.listTokens},
		{method: http.MethodPost, path: "/api/v1/tokens", perm: rbac.AppsRead, action: "token.create", handle: s.createToken},
		{method: http.MethodDelete, path: "/api/v1/tokens/{token}", perm: rbac.AppsRead, action: "token.revoke", handle: s.revokeToken},
		{method: http.MethodGet, path: "/api/v1/audit", perm: rbac.AuditRead, handle: s.listAudit},
		{method: http.MethodGet, path: "/api/v1/audit/verify", perm: rbac.AuditRead, handle: s.verifyAudit},
		{method: http.MethodPost, path: "/api/v1/clusters", perm: rbac.ClustersManage, action: "cluster.add", handle: s.addCluster},
		{method: http.MethodGet, path: "/api/v1/clusters", perm: rbac.ClustersManage, handle: s.listClusters},
		{method: http.MethodGet, path: "/api/v1/clusters/{cluster}", perm: rbac.ClustersManage, handle: s.getCluster},
		{method: http.MethodDelete, path: "/api/v1/clusters/{cluster}", perm: rbac.ClustersManage, action: "cluster.remove", handle: s.removeCluster},
		{method: http.MethodPost, path: "/api/v1/envs", perm: rbac.EnvsManage, action: "env.create", handle: s.createEnvironment},
		{method: http.MethodGet, path: "/api/v1/envs", perm: rbac.EnvsRead, handle: s.listEnvironments},
		{method: http.MethodGet, path: "/api/v1/envs/{env}", perm: rbac.EnvsRead, handle: s.getEnvironment},
		{method: http.MethodPatch, path: "/api/v1/envs/{env}", perm: rbac.EnvsManage, action: "env.update", handle: s.updateEnvironment},
		{method: http.MethodDelete, path: "/api/v1/envs/{env}", perm: rbac.EnvsManage, action: "env.remove", handle: s.removeEnvironment},
		{method: http.MethodGet, path: "/api/v1/backup", perm: rbac.ClustersManage, action: "platform.backup", handle: s.backup},
		{method: http.MethodPost, path: "/api/v1/users/me/password", perm: rbac.AppsRead, action: "user.change_password", handle: s.changePassword},
		{method: http.MethodPost, path: "/api/v1/users/{user}/disable", perm: rbac.MembersManage, action: "user.disable", handle: s.disableUser},
		{method: http.MethodPost, path: "/api/v1/users/{user}/enable", perm: rbac.MembersManage, action: "user.enable", handle: s.enableUser},
		{method: http.MethodPatch, path: "/api/v1/teams/{team}", perm: rbac.TeamsManage, action: "team.rename", handle: s.renameTeam},
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
