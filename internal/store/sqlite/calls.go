package sqlite

import (
	"context"
	"time"

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

func (db *DB) CreateSecret(ctx context.Context, s store.Secret) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateSecret(ctx, s) })
}

func (db *DB) UpdateSecret(ctx context.Context, s store.Secret) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateSecret(ctx, s)
		return err
	})
	return version, err
}

func (db *DB) RekeySecret(ctx context.Context, s store.Secret) error {
	return db.inWrite(ctx, func(o ops) error { return o.RekeySecret(ctx, s) })
}

func (db *DB) GetSecret(ctx context.Context, app, name string) (store.Secret, error) {
	return db.reader().GetSecret(ctx, app, name)
}

func (db *DB) ListSecrets(ctx context.Context, app string) ([]store.Secret, error) {
	return db.reader().ListSecrets(ctx, app)
}

func (db *DB) DeleteSecret(ctx context.Context, app, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteSecret(ctx, app, name) })
}

func (db *DB) GetSecretVersion(ctx context.Context, app, name string, version int64) (store.SecretVersion, error) {
	return db.reader().GetSecretVersion(ctx, app, name, version)
}

func (db *DB) ListSecretVersions(ctx context.Context, app string) ([]store.SecretVersion, error) {
	return db.reader().ListSecretVersions(ctx, app)
}

func (db *DB) RekeySecretVersion(ctx context.Context, v store.SecretVersion) error {
	return db.inWrite(ctx, func(o ops) error { return o.RekeySecretVersion(ctx, v) })
}

func (db *DB) CreateConfigVersion(ctx context.Context, v store.ConfigVersion) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateConfigVersion(ctx, v) })
}

func (db *DB) GetConfigVersion(ctx context.Context, app, env string, version int) (store.ConfigVersion, error) {
	return db.reader().GetConfigVersion(ctx, app, env, version)
}

func (db *DB) LatestConfigVersion(ctx context.Context, app, env string) (store.ConfigVersion, error) {
	return db.reader().LatestConfigVersion(ctx, app, env)
}

func (db *DB) ListConfigVersions(ctx context.Context, app, env string) ([]store.ConfigVersion, error) {
	return db.reader().ListConfigVersions(ctx, app, env)
}

func (db *DB) CreateRun(ctx context.Context, r store.Run) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateRun(ctx, r) })
}

func (db *DB) GetRun(ctx context.Context, id string) (store.Run, error) {
	return db.reader().GetRun(ctx, id)
}

func (db *DB) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	return db.reader().ListRuns(ctx, f)
}

func (db *DB) UpdateRun(ctx context.Context, r store.Run) (version int64, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		version, err = o.UpdateRun(ctx, r)
		return err
	})
	return version, err
}

func (db *DB) LastRunNumber(ctx context.Context, app string) (int, error) {
	return db.reader().LastRunNumber(ctx, app)
}

func (db *DB) CreateApproval(ctx context.Context, a store.Approval) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateApproval(ctx, a) })
}

func (db *DB) ListApprovals(ctx context.Context, run string) ([]store.Approval, error) {
	return db.reader().ListApprovals(ctx, run)
}

func (db *DB) RecordDelivery(ctx context.Context, id string, at time.Time) (seen bool, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		seen, err = o.RecordDelivery(ctx, id, at)
		return err
	})
	return seen, err
}

func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (n int, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		n, err = o.PruneDeliveries(ctx, before)
		return err
	})
	return n, err
}

func (db *DB) PutPipeline(ctx context.Context, p store.PipelineState) error {
	return db.inWrite(ctx, func(o ops) error { return o.PutPipeline(ctx, p) })
}

func (db *DB) GetPipeline(ctx context.Context, app string) (store.PipelineState, error) {
	return db.reader().GetPipeline(ctx, app)
}

func (db *DB) ListPipelines(ctx context.Context) ([]store.PipelineState, error) {
	return db.reader().ListPipelines(ctx)
}

func (db *DB) GetToken(ctx context.Context, id string) (store.Token, error) {
	return db.reader().GetToken(ctx, id)
}

func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return db.inWrite(ctx, func(o ops) error { return o.RevokeToken(ctx, id, at) })
}

func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	return db.inWrite(ctx, func(o ops) error { return o.TouchToken(ctx, id, at) })
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

func (db *DB) SetClusterCredentials(ctx context.Context, name string, kubeconfig []byte) error {
	return db.inWrite(ctx, func(o ops) error { return o.SetClusterCredentials(ctx, name, kubeconfig) })
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
