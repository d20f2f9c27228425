package backup

import (
	"context"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/snapshot"
)

func openPostgresSource(ctx context.Context, url string) (snapshot.Source, blob.Store, func(), error) {
	ro, err := postgres.OpenReadOnly(ctx, url)
	if err != nil {
		return nil, nil, nil, err
	}
	blobs, err := ro.Blobs(ctx)
	if err != nil {
		_ = ro.Close()
		return nil, nil, nil, err
	}
	return ro, blobs, func() { _ = ro.Close() }, nil
}

func postgresTarget(url string) (Target, error) { return PostgresTarget{URL: url}, nil }

// PostgresTarget restores into the PostgreSQL database at URL, which must
// hold no Berth schema or an empty one.
type PostgresTarget struct{ URL string }

func (t PostgresTarget) Backend() string       { return "postgres" }
func (t PostgresTarget) SchemaVersion() int    { return postgres.SchemaVersion() }
func (t PostgresTarget) MinSchemaVersion() int { return postgres.MinSchemaVersion() }

func (t PostgresTarget) Contents(ctx context.Context) (map[string]int64, error) {
	return postgres.Contents(ctx, t.URL)
}

// KeepsBlobs: the database keeps source archives (its Load's writer takes
// them, see blobWriter), so a restore needs no blob directory.
func (t PostgresTarget) KeepsBlobs() bool { return true }

func (t PostgresTarget) Load(ctx context.Context, version int, fn func(context.Context, snapshot.Writer) error) error {
	return postgres.Restore(ctx, t.URL, version, fn)
}
