package deploy

import (
	"io"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/identity/secrets"
	relpkg "github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

const (
	dbOne = "db-pass-one-4f8a1c"
	dbTwo = "db-pass-two-9b27e3"
)

// secretEnv is a testEnv whose reconciler reads secrets from a real
// secret store over the env's SQLite store.
func secretEnv(t *testing.T) (*testEnv, *secretstore.Store) {
	t.Helper()
	e := newEnv(t)
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	ss := secretstore.New(e.st, ring)
	opts := e.options()
	opts.Secrets = ss
	e.r = New(opts)
	now := e.clock.Now()
	if err := e.st.CreateApp(e.ctx, store.App{Name: "shop", Team: "team_a", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return e, ss
}

// setSecret seals value as the next version of the app's secret, as the
// API does.
func setSecret(e *testEnv, ss *secretstore.Store, name, value string) int64 {
	e.t.Helper()
	env, keyID, err := ss.Seal("team_a", "shop", name, []byte(value))
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	row, err := e.st.GetSecret(e.ctx, "shop", name)
	if err != nil {
		row = store.Secret{Team: "team_a", App: "shop", Name: name, Envelope: env, KeyID: keyID, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := e.st.CreateSecret(e.ctx, row); err != nil {
			e.t.Fatal(err)
		}
		return 1
	}
	row.Envelope, row.KeyID, row.UpdatedAt = env, keyID, now
	v, err := e.st.UpdateSecret(e.ctx, row)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// applyRecorded creates a release of a through internal/release, which
// records the secret versions the release is made with.
func applyRecorded(e *testEnv, a *spec.App) int {
	e.t.Helper()
	data, err := a.Canonical()
	if err != nil {
		e.t.Fatal(err)
	}
	var res relpkg.Result
	err = e.st.InTx(e.ctx, func(tx store.Tx) error {
		res, err = relpkg.Apply(e.ctx, tx, relpkg.Input{Name: a.Name, Canonical: data, Cause: "apply", Team: "team_a", Now: e.clock.Now()})
		return err
	})
	if err != nil || !res.Created {
		e.t.Fatalf("apply: %+v %v", res, err)
	}
	return res.Release
}

func (e *testEnv) secretOf(id, name string) string {
	e.t.Helper()
	return e.appliedWorkload(id).Secrets[name]
}

func (e *testEnv) logsOf(svc string) string {
	e.t.Helper()
	rc, err := e.r.Logs(e.ctx, "shop", svc, runtime.LogOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// A secret change makes a new release; while it rolls out and after it
// fails, the release still serving gets the value it was made with for
// its new instances, and both values are masked in the logs.
func TestServingReleaseKeepsItsSecretVersion(t *testing.T) {
	t.Parallel()
	e, ss := secretEnv(t)
	api2 := svc(2)
	api2.Secrets = []string{"DB_PASSWORD"}
	sp := appSpec("shop", map[string]*spec.Service{"api": api2})

	setSecret(e, ss, "DB_PASSWORD", dbOne)
	if n := applyRecorded(e, sp); n != 1 {
		t.Fatalf("release %d, want 1", n)
	}
	e.settle("shop")
	if got := e.secretOf("shop-api-r1", "DB_PASSWORD"); got != dbOne {
		t.Fatalf("release 1 got %q, want version 1", got)
	}

	// The new value makes release 2 (the API's secret set does this).
	if v := setSecret(e, ss, "DB_PASSWORD", dbTwo); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	if n := applyRecorded(e, sp); n != 2 {
		t.Fatalf("release %d, want 2", n)
	}
	if got := e.release("shop", 2).Config.Secrets["DB_PASSWORD"]; got != 2 {
		t.Fatalf("release 2 recorded version %d, want 2", got)
	}
	e.pass("shop")
	e.rt.setReady("shop-api-r2", 1)
	wantCalls(t, "half way", e.pass("shop"), "apply shop-api-r1 x1", "apply shop-api-r2 x2")
	if got := e.secretOf("shop-api-r2", "DB_PASSWORD"); got != dbTwo {
		t.Fatalf("release 2 got %q, want version 2", got)
	}

	// B: release 1's instance still runs and prints the earlier value.
	e.rt.mu.Lock()
	e.rt.logs["shop-api-r1"] = "api-0 | connecting with " + dbOne + "\n"
	e.rt.logs["shop-api-r2"] = "api-0 | connecting with " + dbTwo + "\n"
	e.rt.mu.Unlock()
	if out := e.logsOf("api"); strings.Contains(out, dbOne) || strings.Contains(out, dbTwo) || strings.Count(out, secrets.Mask) != 2 {
		t.Fatalf("logs during the rollout show a value:\n%s", out)
	}

	// A: release 2 fails its health; release 1 scales back up, and its
	// new instance gets version 1, not the value that broke release 2.
	e.rt.edit("shop-api-r2", func(i int, in *runtime.Instance) {
		if i == 1 {
			in.State, in.Ready, in.Restarts = runtime.StateBackoff, false, 3
			in.LastExit = &runtime.Exit{Code: 1, LogTail: []string{"auth failed for " + dbTwo}}
		}
	})
	wantCalls(t, "fail and restore", e.pass("shop"), "delete shop-api-r2", "apply shop-api-r1 x2")
	if rel := e.release("shop", 2); rel.State != api.ReleaseFailed || strings.Contains(rel.Message, dbTwo) {
		t.Fatalf("release 2: %s %q", rel.State, rel.Message)
	}
	if got := e.secretOf("shop-api-r1", "DB_PASSWORD"); got != dbOne {
		t.Fatalf("the serving release's new instance got %q, want version 1 (%q)", got, dbOne)
	}
	e.rt.readyAll()
	e.rt.finishDeletes()
	e.pass("shop")
	for range 2 {
		wantCalls(t, "steady", e.pass("shop"))
	}
	if out := e.logsOf("api"); strings.Contains(out, dbOne) || !strings.Contains(out, secrets.Mask) {
		t.Fatalf("logs of the serving release after the failure show its value:\n%s", out)
	}

	// A replacement (the runtime lost the workload) gets version 1 too.
	e.rt.mu.Lock()
	delete(e.rt.wls, "shop-api-r1")
	delete(e.rt.applied, "shop-api-r1")
	e.rt.mu.Unlock()
	wantCalls(t, "replace", e.pass("shop"), "apply shop-api-r1 x2")
	if got := e.secretOf("shop-api-r1", "DB_PASSWORD"); got != dbOne {
		t.Fatalf("the replaced workload got %q, want version 1", got)
	}
}

// A release made while a secret it names was not set fails with
// SecretMissing; the value set afterwards makes a new release, which runs.
func TestReleaseRecordedWithoutTheSecret(t *testing.T) {
	t.Parallel()
	e, ss := secretEnv(t)
	s := svc(1)
	s.Secrets = []string{"DB_PASSWORD"}
	sp := appSpec("shop", map[string]*spec.Service{"api": s})
	applyRecorded(e, sp)
	e.pass("shop")
	if rel := e.release("shop", 1); rel.State != api.ReleaseFailed || rel.Reason != ReasonSecretMissing {
		t.Fatalf("release 1: %s %s %q", rel.State, rel.Reason, rel.Message)
	}
	setSecret(e, ss, "DB_PASSWORD", dbOne)
	setSecret(e, ss, "DB_PASSWORD", dbTwo)
	if n := applyRecorded(e, sp); n != 2 {
		t.Fatalf("release %d, want 2", n)
	}
	e.settle("shop")
	if got := e.secretOf("shop-api-r2", "DB_PASSWORD"); got != dbTwo {
		t.Fatalf("release 2 got %q, want the version it recorded", got)
	}
}
