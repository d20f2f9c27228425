// Package store holds Berth's desired and observed state. It defines one
// small interface per aggregate; sqlite/ implements them (and a PostgreSQL
// implementation will, unchanged). The store never invents IDs or
// timestamps: callers pass them in. Objects returned are copies.
package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// App is an app's record: which release it should run, and what the
// reconciler last observed.
type App struct {
	Name string
	// Team is the ID of the team that owns the app ("" for apps created
	// before teams existed; the identity bootstrap assigns them). App
	// names are unique across teams.
	Team string
	// LatestRelease is the highest release number created.
	LatestRelease int
	// TargetRelease is the release the reconciler must converge to.
	TargetRelease int
	// Ports are stable local ports per service, allocated once, on which the
	// server forwards to the service's ready instances.
	Ports map[string]int
	// Deleting marks an app whose workloads are being stopped; the
	// reconciler removes the record when they are gone.
	Deleting bool
	// Canary is the canary release running beside the serving one, nil
	// when there is none.
	Canary *Canary
	// Env is the environment the app runs in (a cluster namespace); ""
	// for the server's local runtime. Set when the app is created.
	Env       string
	Status    api.AppStatus
	Version   int64 // optimistic concurrency: bumped by every update
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Canary is the desired state of a canary release: which release, at which
// traffic weight, at which step of its strategy. The API writes it when a
// user starts, moves, promotes or aborts a canary; the reconciler when a
// step's pause is over.
type Canary struct {
	// Release is the canary release (the app's target release).
	Release int
	// Weight is the canary's share of traffic, in percent (0-100).
	Weight int
	// Step is the index of the current step of the release's
	// strategy.steps (0 when it has none).
	Step int
	// StepStartedAt is when the current step (or the promotion) began;
	// a step's pause counts from it.
	StepStartedAt time.Time
	// Manual means the canary is moved by hand only: its steps do not
	// advance and it is not promoted on its own.
	Manual bool
	// Promote asks for the canary to be rolled to full replicas and made
	// the serving release (the stable one is then stopped).
	Promote bool
}

// Release is an immutable revision of an app's spec and source. Only State,
// Reason, Message and Artifacts change after creation.
type Release struct {
	App        string
	Number     int
	Spec       json.RawMessage // spec.App with defaults, canonical JSON
	SpecHash   string          // sha256 of Spec and Source
	Source     string          // digest of the source archive, "" if none
	Artifacts  map[string]api.Artifact
	Cause      string
	RollbackOf int
	// Config is the config set and secret versions the release was made
	// with (nil for releases from before config sets). Immutable.
	Config    *api.ReleaseConfig
	State     string
	Reason    string
	Message   string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Event is one change record; Revision is assigned by the store in commit
// order (the one thing it numbers, because only it knows the order).
type Event struct {
	Revision int64
	Kind     string
	App      string
	Release  int
	Time     time.Time
	Data     json.RawMessage
}

// Token is an API token; only its hash is kept.
type Token struct {
	ID   string
	Name string
	Hash string // hex sha256 of the token
	// Kind is "pat" (personal: acts as User) or "tt" (team: acts in Team
	// with Role); "" is the bootstrap admin token of old data directories,
	// which acts as a platform admin.
	Kind  string
	User  string // owner of a personal token; creator of a team token
	Team  string // team of a team token
	Role  string // role of a team token in Team
	Scope string // read | deploy | admin
	Last4 string // the token's last four characters, for lists
	// ExpiresAt zero means never; LastUsedAt and RevokedAt zero mean not
	// yet.
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
	CreatedAt  time.Time
}

// Apps stores app records.
type Apps interface {
	// CreateApp stores a as given, Version included (normally 0); ErrExists
	// if present.
	CreateApp(ctx context.Context, a App) error
	GetApp(ctx context.Context, name string) (App, error)
	ListApps(ctx context.Context) ([]App, error) // ordered by name
	// ListAppsPage returns up to q.Limit apps of q.Teams with names after
	// q.After, ordered by name.
	ListAppsPage(ctx context.Context, q AppQuery) ([]App, error)
	// UpdateApp writes a when a.Version equals the stored version, and bumps
	// it; otherwise ErrConflict. It returns the new version. CreatedAt is
	// kept from CreateApp. ErrNotFound if the app is missing.
	UpdateApp(ctx context.Context, a App) (int64, error)
	// DeleteApp removes the app and its releases; ErrNotFound if missing.
	DeleteApp(ctx context.Context, name string) error
}

// AppQuery selects a page of apps.
type AppQuery struct {
	// Teams are the team IDs whose apps are listed; none lists none.
	Teams []string
	// AllTeams lists the apps of every existing team instead of Teams
	// (for a platform admin): the same apps as Teams holding every team's
	// ID, without sending them all with the query.
	AllTeams bool
	// After is the last name of the previous page ("" for the first).
	After string
	// Limit is the most apps returned; it must be at least 1.
	Limit int
}

// Releases stores releases.
type Releases interface {
	// CreateRelease stores r (Version as given); ErrExists if the number is
	// taken, ErrNotFound if the app does not exist. Spec is returned
	// byte for byte as stored, because SpecHash covers those bytes.
	CreateRelease(ctx context.Context, r Release) error
	GetRelease(ctx context.Context, app string, number int) (Release, error)
	ListReleases(ctx context.Context, app string) ([]Release, error) // ascending
	// UpdateRelease writes the mutable fields (State, Reason, Message,
	// Artifacts, UpdatedAt) when r.Version matches, and bumps it; otherwise
	// ErrConflict (ErrNotFound if the release is missing).
	UpdateRelease(ctx context.Context, r Release) (int64, error)
	DeleteReleases(ctx context.Context, app string) error
	// ReleaseSources lists the source archives releases of every app
	// name, sorted, each once: a blob collector counts them as
	// referenced, without reading every release.
	ReleaseSources(ctx context.Context) ([]string, error)
}

// Events is the append-only change log behind the watch API.
type Events interface {
	// AppendEvent stores e and returns its revision.
	AppendEvent(ctx context.Context, e Event) (int64, error)
	// ListEvents returns up to limit events with Revision > since, ascending;
	// limit <= 0 means no limit.
	ListEvents(ctx context.Context, since int64, limit int) ([]Event, error)
	// LastRevision is the highest revision stored, 0 if none.
	LastRevision(ctx context.Context) (int64, error)
}

// Tokens stores API token hashes.
type Tokens interface {
	CreateToken(ctx context.Context, t Token) error // ErrExists if the ID or hash is taken
	GetTokenByHash(ctx context.Context, hash string) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error) // ordered by ID
	// GetToken reads a token by ID; ErrNotFound if missing.
	GetToken(ctx context.Context, id string) (Token, error)
	// RevokeToken sets RevokedAt (once: a second revoke keeps the first
	// time); ErrNotFound if missing.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken sets LastUsedAt to at when at is later; ErrNotFound if
	// missing.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Cluster is a Kubernetes cluster Berth deploys to. Its credentials are
// kept apart (ClusterCredentials) so that reading or listing clusters
// never loads them.
type Cluster struct {
	Name string
	// Server is the API server's URL, as the kubeconfig names it.
	Server string
	// Context is the kubeconfig context the cluster was added from.
	Context string
	// InCluster means the server's own service account reaches the
	// cluster (Berth runs inside it); there are no stored credentials.
	InCluster bool
	CreatedAt time.Time
}

// Clusters stores clusters and their credentials.
type Clusters interface {
	// CreateCluster stores c and its credentials (a kubeconfig reduced to
	// one context, sealed by internal/secretstore; nil for an in-cluster
	// one); ErrExists if the name is taken. The store keeps the bytes as
	// given and never interprets them.
	CreateCluster(ctx context.Context, c Cluster, kubeconfig []byte) error
	GetCluster(ctx context.Context, name string) (Cluster, error)
	ListClusters(ctx context.Context) ([]Cluster, error) // ordered by name
	// ClusterCredentials returns the stored kubeconfig; ErrNotFound if
	// the cluster is missing.
	ClusterCredentials(ctx context.Context, name string) ([]byte, error)
	// SetClusterCredentials replaces the stored credentials (key
	// rotation re-seals them); ErrNotFound if the cluster has none.
	SetClusterCredentials(ctx context.Context, name string, kubeconfig []byte) error
	// DeleteCluster removes the cluster and its credentials; ErrNotFound
	// if missing.
	DeleteCluster(ctx context.Context, name string) error
}

// Environment is where apps deployed to it run: a namespace of a cluster.
type Environment struct {
	Name string
	// Team is the ID of the team that owns it ("" for one made before
	// environments had teams: only platform admins reach those).
	Team      string
	Cluster   string
	Namespace string
	// StorageClass of volume claims; "" for the cluster's default.
	StorageClass string
	// Routing is "gateway" (Berth's gateway runs in the namespace; "" is
	// read as it) or "gateway-api" (HTTPRoutes attached to
	// GatewayParent, "NAME" or "NAMESPACE/NAME").
	Routing       string
	GatewayParent string
	// TLSSecrets names, comma-separated, the kubernetes.io/tls Secrets in
	// Namespace that the environment's gateway serves HTTPS with (routing
	// gateway only; the operator owns them). A string, not a slice, so an
	// Environment stays comparable.
	TLSSecrets string
	CreatedAt  time.Time
}

// Environments stores environments. A cluster and namespace belong to at
// most one environment (two would fight over the same objects).
type Environments interface {
	// CreateEnvironment stores e; ErrExists if the name, or the cluster
	// and namespace, are taken.
	CreateEnvironment(ctx context.Context, e Environment) error
	GetEnvironment(ctx context.Context, name string) (Environment, error)
	ListEnvironments(ctx context.Context) ([]Environment, error) // ordered by name
	// DeleteEnvironment removes it; ErrNotFound if missing.
	DeleteEnvironment(ctx context.Context, name string) error
	// UpdateEnvironment writes the settings of e that may change after
	// creation (TLSSecrets); ErrNotFound if missing.
	UpdateEnvironment(ctx context.Context, e Environment) error
	// SetEnvironmentStatus records what the routing reconciler last saw
	// of the environment's gateway; ErrNotFound if missing.
	SetEnvironmentStatus(ctx context.Context, name string, st api.EnvironmentStatus) error
	// EnvironmentStatus returns it (zero before the reconciler looked).
	EnvironmentStatus(ctx context.Context, name string) (api.EnvironmentStatus, error)
}

// Tx is the set of aggregates usable inside one transaction.
type Tx interface {
	Apps
	Releases
	Events
	Tokens
	Secrets
	ConfigSets
	Runs
	Approvals
	Deliveries
	Pipelines
	PipelineCaches
	Identity
	Clusters
	Environments
	SSOPendings
	LoginThrottles
}

// Store is a transactional store. Calls outside InTx run in their own
// transaction each.
type Store interface {
	Tx
	// InTx runs fn in one transaction; it commits when fn returns nil.
	// Otherwise it rolls back and returns fn's error; if fn panics it rolls
	// back and the panic goes on. fn must use tx, never the Store itself: a
	// backend may have a single writer, so a Store write inside fn waits for
	// fn to end (a deadlock until ctx is done).
	InTx(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}
