package sqlstore

import (
	"context"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// The *Store methods below are the calls made outside InTx: reads go to the
// backend's reads, writes each run in their own write transaction.

func (db *Store) CreateApp(ctx context.Context, a store.App) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateApp(ctx, a) })
}

func (db *Store) GetApp(ctx context.Context, name string) (store.App, error) {
	return db.reader().GetApp(ctx, name)
}

func (db *Store) ListApps(ctx context.Context) ([]store.App, error) {
	return db.reader().ListApps(ctx)
}

func (db *Store) UpdateApp(ctx context.Context, a store.App) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateApp(ctx, a)
		return err
	})
	return version, err
}

func (db *Store) DeleteApp(ctx context.Context, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteApp(ctx, name) })
}

func (db *Store) CreateRelease(ctx context.Context, r store.Release) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateRelease(ctx, r) })
}

func (db *Store) GetRelease(ctx context.Context, app string, number int) (store.Release, error) {
	return db.reader().GetRelease(ctx, app, number)
}

func (db *Store) ListReleases(ctx context.Context, app string) ([]store.Release, error) {
	return db.reader().ListReleases(ctx, app)
}

func (db *Store) ReleaseSources(ctx context.Context) ([]string, error) {
	return db.reader().ReleaseSources(ctx)
}

func (db *Store) UpdateRelease(ctx context.Context, r store.Release) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateRelease(ctx, r)
		return err
	})
	return version, err
}

func (db *Store) DeleteReleases(ctx context.Context, app string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteReleases(ctx, app) })
}

func (db *Store) AppendEvent(ctx context.Context, e store.Event) (rev int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		rev, err = o.AppendEvent(ctx, e)
		return err
	})
	return rev, err
}

func (db *Store) ListEvents(ctx context.Context, since int64, limit int) ([]store.Event, error) {
	return db.reader().ListEvents(ctx, since, limit)
}

func (db *Store) LastRevision(ctx context.Context) (int64, error) {
	return db.reader().LastRevision(ctx)
}

func (db *Store) CreateToken(ctx context.Context, t store.Token) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateToken(ctx, t) })
}

func (db *Store) GetTokenByHash(ctx context.Context, hash string) (store.Token, error) {
	return db.reader().GetTokenByHash(ctx, hash)
}

func (db *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	return db.reader().ListTokens(ctx)
}

func (db *Store) CreateSecret(ctx context.Context, s store.Secret) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateSecret(ctx, s) })
}

func (db *Store) UpdateSecret(ctx context.Context, s store.Secret) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateSecret(ctx, s)
		return err
	})
	return version, err
}

func (db *Store) RekeySecret(ctx context.Context, s store.Secret) error {
	return db.inWrite(ctx, func(o ops) error { return o.RekeySecret(ctx, s) })
}

func (db *Store) GetSecret(ctx context.Context, app, name string) (store.Secret, error) {
	return db.reader().GetSecret(ctx, app, name)
}

func (db *Store) ListSecrets(ctx context.Context, app string) ([]store.Secret, error) {
	return db.reader().ListSecrets(ctx, app)
}

func (db *Store) DeleteSecret(ctx context.Context, app, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteSecret(ctx, app, name) })
}

func (db *Store) GetSecretVersion(ctx context.Context, app, name string, version int64) (store.SecretVersion, error) {
	return db.reader().GetSecretVersion(ctx, app, name, version)
}

func (db *Store) ListSecretVersions(ctx context.Context, app string) ([]store.SecretVersion, error) {
	return db.reader().ListSecretVersions(ctx, app)
}

func (db *Store) RekeySecretVersion(ctx context.Context, v store.SecretVersion) error {
	return db.inWrite(ctx, func(o ops) error { return o.RekeySecretVersion(ctx, v) })
}

func (db *Store) CreateConfigVersion(ctx context.Context, v store.ConfigVersion) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateConfigVersion(ctx, v) })
}

func (db *Store) GetConfigVersion(ctx context.Context, app, env string, version int) (store.ConfigVersion, error) {
	return db.reader().GetConfigVersion(ctx, app, env, version)
}

func (db *Store) LatestConfigVersion(ctx context.Context, app, env string) (store.ConfigVersion, error) {
	return db.reader().LatestConfigVersion(ctx, app, env)
}

func (db *Store) ListConfigVersions(ctx context.Context, app, env string) ([]store.ConfigVersion, error) {
	return db.reader().ListConfigVersions(ctx, app, env)
}

func (db *Store) CreateRun(ctx context.Context, r store.Run) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateRun(ctx, r) })
}

func (db *Store) GetRun(ctx context.Context, id string) (store.Run, error) {
	return db.reader().GetRun(ctx, id)
}

func (db *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	return db.reader().ListRuns(ctx, f)
}

func (db *Store) UpdateRun(ctx context.Context, r store.Run) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateRun(ctx, r)
		return err
	})
	return version, err
}

func (db *Store) LastRunNumber(ctx context.Context, app string) (int, error) {
	return db.reader().LastRunNumber(ctx, app)
}

func (db *Store) CreateApproval(ctx context.Context, a store.Approval) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateApproval(ctx, a) })
}

func (db *Store) ListApprovals(ctx context.Context, run string) ([]store.Approval, error) {
	return db.reader().ListApprovals(ctx, run)
}

func (db *Store) RecordDelivery(ctx context.Context, id string, at time.Time) (seen bool, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		seen, err = o.RecordDelivery(ctx, id, at)
		return err
	})
	return seen, err
}

func (db *Store) PruneDeliveries(ctx context.Context, before time.Time) (n int, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		n, err = o.PruneDeliveries(ctx, before)
		return err
	})
	return n, err
}

func (db *Store) PutPipeline(ctx context.Context, p store.PipelineState) error {
	return db.inWrite(ctx, func(o ops) error { return o.PutPipeline(ctx, p) })
}

func (db *Store) GetPipeline(ctx context.Context, app string) (store.PipelineState, error) {
	return db.reader().GetPipeline(ctx, app)
}

func (db *Store) ListPipelines(ctx context.Context) ([]store.PipelineState, error) {
	return db.reader().ListPipelines(ctx)
}

func (db *Store) GetPipelineCache(ctx context.Context, app, key string) (store.PipelineCache, error) {
	return db.reader().GetPipelineCache(ctx, app, key)
}

func (db *Store) CreatePipelineCache(ctx context.Context, c store.PipelineCache) (created bool, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		created, err = o.CreatePipelineCache(ctx, c)
		return err
	})
	return created, err
}

func (db *Store) TouchPipelineCache(ctx context.Context, app, key string, at time.Time) error {
	return db.inWrite(ctx, func(o ops) error { return o.TouchPipelineCache(ctx, app, key, at) })
}

func (db *Store) DeletePipelineCache(ctx context.Context, app, key, digest string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeletePipelineCache(ctx, app, key, digest) })
}

func (db *Store) PrunePipelineCaches(ctx context.Context, before time.Time) (gone []store.PipelineCache, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		gone, err = o.PrunePipelineCaches(ctx, before)
		return err
	})
	return gone, err
}

func (db *Store) PipelineCacheDigests(ctx context.Context) ([]string, error) {
	return db.reader().PipelineCacheDigests(ctx)
}

func (db *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	return db.reader().GetToken(ctx, id)
}

func (db *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return db.inWrite(ctx, func(o ops) error { return o.RevokeToken(ctx, id, at) })
}

func (db *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return db.inWrite(ctx, func(o ops) error { return o.TouchToken(ctx, id, at) })
}

func (db *Store) CreateCluster(ctx context.Context, c store.Cluster, kubeconfig []byte) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateCluster(ctx, c, kubeconfig) })
}

func (db *Store) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	return db.reader().GetCluster(ctx, name)
}

func (db *Store) ListClusters(ctx context.Context) ([]store.Cluster, error) {
	return db.reader().ListClusters(ctx)
}

func (db *Store) ClusterCredentials(ctx context.Context, name string) ([]byte, error) {
	return db.reader().ClusterCredentials(ctx, name)
}

func (db *Store) SetClusterCredentials(ctx context.Context, name string, kubeconfig []byte) error {
	return db.inWrite(ctx, func(o ops) error { return o.SetClusterCredentials(ctx, name, kubeconfig) })
}

func (db *Store) DeleteCluster(ctx context.Context, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteCluster(ctx, name) })
}

func (db *Store) CreateEnvironment(ctx context.Context, e store.Environment) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateEnvironment(ctx, e) })
}

func (db *Store) GetEnvironment(ctx context.Context, name string) (store.Environment, error) {
	return db.reader().GetEnvironment(ctx, name)
}

func (db *Store) ListEnvironments(ctx context.Context) ([]store.Environment, error) {
	return db.reader().ListEnvironments(ctx)
}

func (db *Store) DeleteEnvironment(ctx context.Context, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteEnvironment(ctx, name) })
}

func (db *Store) UpdateEnvironment(ctx context.Context, e store.Environment) error {
	return db.inWrite(ctx, func(o ops) error { return o.UpdateEnvironment(ctx, e) })
}

func (db *Store) SetEnvironmentStatus(ctx context.Context, name string, st api.EnvironmentStatus) error {
	return db.inWrite(ctx, func(o ops) error { return o.SetEnvironmentStatus(ctx, name, st) })
}

func (db *Store) EnvironmentStatus(ctx context.Context, name string) (api.EnvironmentStatus, error) {
	return db.reader().EnvironmentStatus(ctx, name)
}
