package api

import "time"

// DefaultConfigEnv names the config set an app gets when no environment is
// given. Apps do not run in named environments yet, so it is the set every
// instance of the app receives.
const DefaultConfigEnv = "default"

// ReleaseConfig is the configuration a release was created with: versions
// only, never values. A config set or secret change that alters it creates
// a new release, which the reconciler rolls out like any other.
type ReleaseConfig struct {
	// Env is the config set's environment.
	Env string `json:"env"`
	// Version is the config set version injected (0: no config set).
	Version int `json:"version,omitempty"`
	// Secrets maps each secret a service names to its version (0: not set).
	Secrets map[string]int64 `json:"secrets,omitempty"`
	// ReloadOf is set when the release did not start instances of its
	// own: the config change it records was written into the running
	// instances of release ReloadOf and they were signalled (every
	// service declares config.reload: signal and only files changed).
	// 0: the release rolled out new instances.
	//
	// With PipelineOnly it names the release whose instances the release
	// kept as they were (see PipelineOnly).
	ReloadOf int `json:"reload_of,omitempty"`
	// PipelineOnly is set when the release changed only the pipeline
	// section of berth.yaml, which no instance runs: it starts no
	// instances and tells the running ones nothing; those of release
	// ReloadOf carry on (same processes, same pods).
	PipelineOnly bool `json:"pipeline_only,omitempty"`
}

// ConfigSet is one version of an app's configuration in one environment.
type ConfigSet struct {
	App     string `json:"app"`
	Env     string `json:"env"`
	Version int    `json:"version"` // 0: no version written yet
	// Entries are injected into every instance as environment variables.
	Entries map[string]string `json:"entries"`
	// Files are written into each instance's folder (mode 0600), in the
	// folder named by BERTH_CONFIG_DIR.
	Files      map[string]string `json:"files,omitempty"`
	Author     string            `json:"author,omitempty"`
	Comment    string            `json:"comment,omitempty"`
	RollbackOf int               `json:"rollback_of,omitempty"`
	CreatedAt  time.Time         `json:"created_at,omitzero"`
}

// ConfigSetSummary is one entry of a config set's history.
type ConfigSetSummary struct {
	Version    int       `json:"version"`
	Keys       int       `json:"keys"`
	Files      int       `json:"files"`
	Author     string    `json:"author,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	RollbackOf int       `json:"rollback_of,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// ConfigUpdate is the body of POST /apps/{app}/config: changes applied to
// the latest version, written as a new one.
type ConfigUpdate struct {
	Env         string            `json:"env,omitempty"`
	Set         map[string]string `json:"set,omitempty"`
	Unset       []string          `json:"unset,omitempty"`
	Files       map[string]string `json:"files,omitempty"`
	RemoveFiles []string          `json:"remove_files,omitempty"`
	Comment     string            `json:"comment,omitempty"`
}

// ConfigRollbackRequest is the body of POST /apps/{app}/config/rollback.
type ConfigRollbackRequest struct {
	Env string `json:"env,omitempty"`
	// To is the version to copy; 0 means the one before the latest.
	To      int    `json:"to,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// ConfigChange is the answer to a config or secret write: what was written
// and the release that rolls it out (0 when the app has none to roll, or
// nothing its instances see changed).
type ConfigChange struct {
	Config  *ConfigSet `json:"config,omitempty"`
	Secret  *Secret    `json:"secret,omitempty"`
	Release int        `json:"release,omitempty"`
	// ReloadOf is set when Release takes the change live: the running
	// instances of release ReloadOf get the new files and a signal
	// instead of being replaced (see ReleaseConfig.ReloadOf).
	ReloadOf int `json:"reload_of,omitempty"`
}

// ConfigDiff is the difference between two versions of a config set.
type ConfigDiff struct {
	App     string            `json:"app"`
	Env     string            `json:"env"`
	From    int               `json:"from"`
	To      int               `json:"to"`
	Changes []ConfigDiffEntry `json:"changes"`
}

// ConfigDiffEntry is one changed key or file. Op is added, removed or
// changed; Old and New hold the values (files: their content).
type ConfigDiffEntry struct {
	Kind string `json:"kind"` // entry | file
	Name string `json:"name"`
	Op   string `json:"op"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Secret describes a stored secret. Its value is never part of an answer.
type Secret struct {
	App       string    `json:"app"`
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SecretValue is the body of PUT /apps/{app}/secrets/{name}.
type SecretValue struct {
	Value string `json:"value"`
}
