package sqlite

import (
	"context"

	"github.com/berthdev/berth/internal/store"
)

// The *DB methods below are the calls made outside InTx: reads go to the
// read pool, writes each run in their own transaction on the writer.

func (db *DB) CreateApp(ctx context.Context, a store.App) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateApp(ctx, a) })
}

func (db *DB) GetApp(ctx context.Context, name string) (store.App, error) {
	return db.reader().GetApp(ctx, name)
}

func (db *DB) ListApps(ctx context.Context) ([]store.App, error) {
	return db.reader().ListApps(ctx)
}

func (db *DB) UpdateApp(ctx context.Context, a store.App) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateApp(ctx, a)
		return err
	})
	return version, err
}

func (db *DB) DeleteApp(ctx context.Context, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteApp(ctx, name) })
}

func (db *DB) CreateRelease(ctx context.Context, r store.Release) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateRelease(ctx, r) })
}

func (db *DB) GetRelease(ctx context.Context, app string, number int) (store.Release, error) {
	return db.reader().GetRelease(ctx, app, number)
}

func (db *DB) ListReleases(ctx context.Context, app string) ([]store.Release, error) {
	return db.reader().ListReleases(ctx, app)
}

func (db *DB) UpdateRelease(ctx context.Context, r store.Release) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateRelease(ctx, r)
		return err
	})
	return version, err
}

func (db *DB) DeleteReleases(ctx context.Context, app string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteReleases(ctx, app) })
}

func (db *DB) AppendEvent(ctx context.Context, e store.Event) (rev int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		rev, err = o.AppendEvent(ctx, e)
		return err
	})
	return rev, err
}

func (db *DB) ListEvents(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	return db.reader().ListEvents(ctx, since, limit)
}

func (db *DB) LastRevision(ctx context.Context) (int64, error) {
	return db.reader().LastRevision(ctx)
}

func (db *DB) CreateToken(ctx context.Context, t store.Token) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateToken(ctx, t) })
}

func (db *DB) GetTokenByHash(ctx context.Context, hash string) (store.Token, error) {
	return db.reader().GetTokenByHash(ctx, hash)
}

func (db *DB) ListTokens(ctx context.Context) ([]store.Token, error) {
	return db.reader().ListTokens(ctx)
}

func (db *DB) CreateCluster(ctx context.Context, c store.Cluster, kubeconfig []byte) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateCluster(ctx, c, kubeconfig) })
}

func (db *DB) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	return db.reader().GetCluster(ctx, name)
}

func (db *DB) ListClusters(ctx context.Context) ([]store.Cluster, error) {
	return db.reader().ListClusters(ctx)
}

func (db *DB) ClusterCredentials(ctx context.Context, name string) ([]byte, error) {
	return db.reader().ClusterCredentials(ctx, name)
}

func (db *DB) DeleteCluster(ctx context.Context, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteCluster(ctx, name) })
}

func (db *DB) CreateEnvironment(ctx context.Context, e store.Environment) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateEnvironment(ctx, e) })
}

func (db *DB) GetEnvironment(ctx context.Context, name string) (store.Environment, error) {
	return db.reader().GetEnvironment(ctx, name)
}

func (db *DB) ListEnvironments(ctx context.Context) ([]store.Environment, error) {
	return db.reader().ListEnvironments(ctx)
}

func (db *DB) DeleteEnvironment(ctx context.Context, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteEnvironment(ctx, name) })
}
