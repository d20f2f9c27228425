package store

import (
	"context"
	"time"
)

// Secret is one encrypted secret of an app. Only the envelope is stored,
// never the value: secrets.Keyring seals it for (Team, "app/"+App, Name),
// so an envelope copied to another row does not decrypt.
type Secret struct {
	Team     string // the owning team's ID when the secret was sealed
	App      string
	Name     string
	Envelope string // secrets envelope: bsec1:<key id>:<data>
	KeyID    string // the key the envelope is sealed with (for rotation)
	// Version is 1 at creation and grows by one with every new value
	// (re-encryption under a new key keeps it: the value is the same).
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Secrets stores encrypted secrets.
type Secrets interface {
	// CreateSecret stores s as given; ErrExists if the app already has a
	// secret of that name, ErrNotFound if the app does not exist.
	CreateSecret(ctx context.Context, s Secret) error
	// UpdateSecret writes a new value (Envelope, KeyID, Team, UpdatedAt)
	// when s.Version equals the stored version, and bumps the version,
	// which it returns; ErrConflict or ErrNotFound otherwise.
	UpdateSecret(ctx context.Context, s Secret) (int64, error)
	// RekeySecret replaces the envelope and key ID of a secret whose value
	// is unchanged (a key rotation) when s.Version matches; the version
	// stays. ErrConflict or ErrNotFound otherwise.
	RekeySecret(ctx context.Context, s Secret) error
	GetSecret(ctx context.Context, app, name string) (Secret, error)
	// ListSecrets returns the app's secrets ordered by name; app "" lists
	// every secret, ordered by app and name.
	ListSecrets(ctx context.Context, app string) ([]Secret, error)
	// DeleteSecret removes a secret and every kept version of it;
	// ErrNotFound if missing.
	DeleteSecret(ctx context.Context, app, name string) error
	// CreateSecret and UpdateSecret also keep the value they write as a
	// SecretVersion, so a release keeps the values it was made with.

	// GetSecretVersion reads one kept version of a secret (the current
	// one included); ErrNotFound if it is not kept.
	GetSecretVersion(ctx context.Context, app, name string, version int64) (SecretVersion, error)
	// ListSecretVersions returns every kept version of the app's secrets,
	// ordered by name and version; app "" lists those of every app,
	// ordered by app first.
	ListSecretVersions(ctx context.Context, app string) ([]SecretVersion, error)
	// RekeySecretVersion replaces the envelope and key ID of a kept
	// version whose value is unchanged (a key rotation); ErrNotFound if
	// it is not kept.
	RekeySecretVersion(ctx context.Context, v SecretVersion) error
}

// SecretVersion is one value a secret has had, kept so that a release
// runs with the versions it recorded even after the secret changed.
// Versions are written by CreateSecret and UpdateSecret and removed with
// the secret; only a key rotation changes one.
type SecretVersion struct {
	Team      string // the owning team's ID when the value was sealed
	App       string
	Name      string
	Version   int64
	Envelope  string
	KeyID     string
	CreatedAt time.Time // when this value was set
}

// ConfigVersion is one immutable version of an app's config set in one
// environment. Versions are appended, never changed.
type ConfigVersion struct {
	App     string
	Env     string
	Version int // 1, 2, 3... per (App, Env)
	Entries map[string]string
	Files   map[string]string // file name -> content
	Author  string
	Comment string
	// RollbackOf is the version this one copies (0 when not a rollback).
	RollbackOf int
	CreatedAt  time.Time
}

// ConfigSets stores config set versions.
type ConfigSets interface {
	// CreateConfigVersion appends v; ErrExists if the version number is
	// taken, ErrNotFound if the app does not exist.
	CreateConfigVersion(ctx context.Context, v ConfigVersion) error
	GetConfigVersion(ctx context.Context, app, env string, version int) (ConfigVersion, error)
	// LatestConfigVersion is the highest version; ErrNotFound if none.
	LatestConfigVersion(ctx context.Context, app, env string) (ConfigVersion, error)
	// ListConfigVersions returns every version, ascending.
	ListConfigVersions(ctx context.Context, app, env string) ([]ConfigVersion, error)
}
