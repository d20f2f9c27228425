package storetest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

func testSecret(app, name string) store.Secret {
	return store.Secret{
		Team: "team_a", App: app, Name: name,
		Envelope: "bsec1:0123456789abcdef:" + app + name, KeyID: "0123456789abcdef",
		Version: 1, CreatedAt: t0, UpdatedAt: t0,
	}
}

func normSecret(s store.Secret) store.Secret {
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s
}

func checkSecret(t *testing.T, what string, got, want store.Secret) {
	t.Helper()
	checkUTC(t, what+": CreatedAt", got.CreatedAt)
	if g, w := normSecret(got), normSecret(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func testConfig(app, env string, n int) store.ConfigVersion {
	return store.ConfigVersion{
		App: app, Env: env, Version: n,
		Entries: map[string]string{"LOG_LEVEL": "info", "N": string(rune('0' + n))},
		Files:   map[string]string{"app.toml": "a = 1\n"},
		Author:  "tok_1", Comment: "change", CreatedAt: t0,
	}
}

func checkConfig(t *testing.T, what string, got, want store.ConfigVersion) {
	t.Helper()
	checkUTC(t, what+": CreatedAt", got.CreatedAt)
	want.CreatedAt = want.CreatedAt.UTC()
	if len(want.Files) == 0 {
		want.Files = map[string]string{}
	}
	if len(want.Entries) == 0 {
		want.Entries = map[string]string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

var configSecretTests = []test{
	{desc: "secrets/create, get, list", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		for _, sec := range []store.Secret{testSecret("shop", "B"), testSecret("shop", "A"), testSecret("blog", "A")} {
			must(t, s.CreateSecret(ctx, sec))
		}
		got, err := s.GetSecret(ctx, "shop", "A")
		must(t, err)
		checkSecret(t, "GetSecret", got, testSecret("shop", "A"))
		list, err := s.ListSecrets(ctx, "shop")
		must(t, err)
		if len(list) != 2 || list[0].Name != "A" || list[1].Name != "B" {
			t.Errorf("ListSecrets(shop) = %+v, want A, B", list)
		}
		all, err := s.ListSecrets(ctx, "")
		must(t, err)
		if len(all) != 3 || all[0].App != "blog" {
			t.Errorf("ListSecrets(\"\") = %+v, want blog/A, shop/A, shop/B", all)
		}
		wantErr(t, "duplicate", s.CreateSecret(ctx, testSecret("shop", "A")), store.ErrExists)
		wantErr(t, "missing app", s.CreateSecret(ctx, testSecret("nope", "A")), store.ErrNotFound)
		_, err = s.GetSecret(ctx, "shop", "C")
		wantErr(t, "GetSecret missing", err, store.ErrNotFound)
	}},
	{desc: "secrets/update bumps the version, rekey keeps it", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		sec := testSecret("shop", "DB")
		must(t, s.CreateSecret(ctx, sec))
		sec.Envelope, sec.UpdatedAt = "bsec1:0123456789abcdef:new", t1
		v, err := s.UpdateSecret(ctx, sec)
		must(t, err)
		if v != 2 {
			t.Errorf("UpdateSecret version = %d, want 2", v)
		}
		_, err = s.UpdateSecret(ctx, sec) // stale version 1
		wantErr(t, "stale update", err, store.ErrConflict)
		sec.Version = 2
		sec.Envelope, sec.KeyID = "bsec1:fedcba9876543210:rekeyed", "fedcba9876543210"
		must(t, s.RekeySecret(ctx, sec))
		got, err := s.GetSecret(ctx, "shop", "DB")
		must(t, err)
		checkSecret(t, "after rekey", got, sec)
		sec.Version = 1
		wantErr(t, "stale rekey", s.RekeySecret(ctx, sec), store.ErrConflict)
		missing := testSecret("shop", "NOPE")
		wantErr(t, "rekey missing", s.RekeySecret(ctx, missing), store.ErrNotFound)
		_, err = s.UpdateSecret(ctx, missing)
		wantErr(t, "update missing", err, store.ErrNotFound)
	}},
	{desc: "secrets/delete, and with the app", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateSecret(ctx, testSecret("shop", "A")))
		must(t, s.CreateSecret(ctx, testSecret("shop", "B")))
		must(t, s.DeleteSecret(ctx, "shop", "A"))
		wantErr(t, "delete again", s.DeleteSecret(ctx, "shop", "A"), store.ErrNotFound)
		must(t, s.CreateConfigVersion(ctx, testConfig("shop", "default", 1)))
		must(t, s.DeleteApp(ctx, "shop"))
		list, err := s.ListSecrets(ctx, "")
		must(t, err)
		if len(list) != 0 {
			t.Errorf("secrets left after DeleteApp: %+v", list)
		}
		must(t, s.CreateApp(ctx, testApp("shop")))
		_, err = s.LatestConfigVersion(ctx, "shop", "default")
		wantErr(t, "config left after DeleteApp", err, store.ErrNotFound)
	}},
	{desc: "secrets/every set keeps its version; rekey one; delete removes them", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		sec := testSecret("shop", "DB")
		must(t, s.CreateSecret(ctx, sec))
		must(t, s.CreateSecret(ctx, testSecret("blog", "DB")))
		sec.Envelope, sec.Team, sec.UpdatedAt = "bsec1:0123456789abcdef:second", "team_b", t1
		v, err := s.UpdateSecret(ctx, sec)
		must(t, err)
		sec.Version = v
		v1, err := s.GetSecretVersion(ctx, "shop", "DB", 1)
		must(t, err)
		checkUTC(t, "version 1: CreatedAt", v1.CreatedAt)
		want1 := store.SecretVersion{Team: "team_a", App: "shop", Name: "DB", Version: 1,
			Envelope: testSecret("shop", "DB").Envelope, KeyID: "0123456789abcdef", CreatedAt: t0.UTC()}
		if v1.CreatedAt = v1.CreatedAt.UTC(); !reflect.DeepEqual(v1, want1) {
			t.Errorf("version 1:\n got %+v\nwant %+v", v1, want1)
		}
		v2, err := s.GetSecretVersion(ctx, "shop", "DB", 2)
		must(t, err)
		if v2.Envelope != sec.Envelope || v2.Team != "team_b" || !v2.CreatedAt.Equal(t1) {
			t.Errorf("version 2 = %+v, want the updated envelope, team and time", v2)
		}
		_, err = s.GetSecretVersion(ctx, "shop", "DB", 3)
		wantErr(t, "version not set", err, store.ErrNotFound)
		list, err := s.ListSecretVersions(ctx, "shop")
		must(t, err)
		if len(list) != 2 || list[0].Version != 1 || list[1].Version != 2 {
			t.Errorf("ListSecretVersions(shop) = %+v, want versions 1, 2", list)
		}
		all, err := s.ListSecretVersions(ctx, "")
		must(t, err)
		if len(all) != 3 || all[0].App != "blog" {
			t.Errorf("ListSecretVersions(\"\") = %+v, want blog/DB 1, shop/DB 1, 2", all)
		}

		v1.Envelope, v1.KeyID = "bsec1:fedcba9876543210:rekeyed", "fedcba9876543210"
		must(t, s.RekeySecretVersion(ctx, v1))
		got, err := s.GetSecretVersion(ctx, "shop", "DB", 1)
		must(t, err)
		if got.Envelope != v1.Envelope || got.KeyID != v1.KeyID || got.Version != 1 {
			t.Errorf("after rekey: %+v, want the new envelope and key", got)
		}
		if cur, err := s.GetSecret(ctx, "shop", "DB"); err != nil || cur.Envelope != sec.Envelope {
			t.Errorf("rekeying version 1 changed the current value: %+v %v", cur, err)
		}
		missing := v1
		missing.Version = 9
		wantErr(t, "rekey a version not kept", s.RekeySecretVersion(ctx, missing), store.ErrNotFound)
		empty := v1
		empty.Envelope = ""
		wantErr(t, "rekey without envelope", s.RekeySecretVersion(ctx, empty), store.ErrInvalid)

		// A secret removed and set again starts over at version 1.
		must(t, s.DeleteSecret(ctx, "shop", "DB"))
		_, err = s.GetSecretVersion(ctx, "shop", "DB", 1)
		wantErr(t, "version after delete", err, store.ErrNotFound)
		must(t, s.CreateSecret(ctx, testSecret("shop", "DB")))
		if list, err := s.ListSecretVersions(ctx, "shop"); err != nil || len(list) != 1 {
			t.Errorf("versions after set again = %+v %v, want version 1 only", list, err)
		}
		must(t, s.DeleteApp(ctx, "shop"))
		if all, err := s.ListSecretVersions(ctx, ""); err != nil || len(all) != 1 || all[0].App != "blog" {
			t.Errorf("versions after DeleteApp = %+v %v, want blog's only", all, err)
		}
	}},
	{desc: "secrets/versions are written in the caller's transaction", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		errRollback := errors.New("roll back")
		err := s.InTx(ctx, func(tx store.Tx) error {
			must(t, tx.CreateSecret(ctx, testSecret("shop", "DB")))
			if _, err := tx.GetSecretVersion(ctx, "shop", "DB", 1); err != nil {
				t.Errorf("version inside the transaction: %v", err)
			}
			return errRollback
		})
		wantErr(t, "InTx", err, errRollback)
		_, err = s.GetSecretVersion(ctx, "shop", "DB", 1)
		wantErr(t, "version after rollback", err, store.ErrNotFound)
	}},
	{desc: "secrets/invalid", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		for _, tc := range []struct {
			desc string
			mod  func(*store.Secret)
		}{
			{desc: "no name", mod: func(x *store.Secret) { x.Name = "" }},
			{desc: "no envelope", mod: func(x *store.Secret) { x.Envelope = "" }},
			{desc: "no key id", mod: func(x *store.Secret) { x.KeyID = "" }},
		} {
			sec := testSecret("shop", "A")
			tc.mod(&sec)
			wantErr(t, tc.desc, s.CreateSecret(ctx, sec), store.ErrInvalid)
		}
	}},
	{desc: "config/append, get, latest, list per env", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		_, err := s.LatestConfigVersion(ctx, "shop", "default")
		wantErr(t, "latest of none", err, store.ErrNotFound)
		for n := 1; n <= 3; n++ {
			must(t, s.CreateConfigVersion(ctx, testConfig("shop", "default", n)))
		}
		must(t, s.CreateConfigVersion(ctx, testConfig("shop", "prod", 1)))
		wantErr(t, "taken version", s.CreateConfigVersion(ctx, testConfig("shop", "default", 2)), store.ErrExists)
		wantErr(t, "missing app", s.CreateConfigVersion(ctx, testConfig("nope", "default", 1)), store.ErrNotFound)
		got, err := s.GetConfigVersion(ctx, "shop", "default", 2)
		must(t, err)
		checkConfig(t, "GetConfigVersion", got, testConfig("shop", "default", 2))
		latest, err := s.LatestConfigVersion(ctx, "shop", "default")
		must(t, err)
		checkConfig(t, "LatestConfigVersion", latest, testConfig("shop", "default", 3))
		list, err := s.ListConfigVersions(ctx, "shop", "default")
		must(t, err)
		if len(list) != 3 || list[0].Version != 1 || list[2].Version != 3 {
			t.Errorf("ListConfigVersions = %d versions, want 1..3", len(list))
		}
		prod, err := s.ListConfigVersions(ctx, "shop", "prod")
		must(t, err)
		if len(prod) != 1 {
			t.Errorf("prod versions = %d, want 1", len(prod))
		}
		empty := store.ConfigVersion{App: "shop", Env: "empty", Version: 1, CreatedAt: t0}
		must(t, s.CreateConfigVersion(ctx, empty))
		got, err = s.GetConfigVersion(ctx, "shop", "empty", 1)
		must(t, err)
		checkConfig(t, "empty version", got, empty)
		_, err = s.GetConfigVersion(ctx, "shop", "default", 9)
		wantErr(t, "missing version", err, store.ErrNotFound)
		wantErr(t, "version 0", s.CreateConfigVersion(ctx, testConfig("shop", "default", 0)), store.ErrInvalid)
		wantErr(t, "no env", s.CreateConfigVersion(ctx, testConfig("shop", "", 1)), store.ErrInvalid)
	}},
	{desc: "releases/config snapshot round-trips", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		r := testRelease("shop", 1)
		r.Config = &api.ReleaseConfig{Env: "default", Version: 3, Secrets: map[string]int64{"DB": 2, "MISSING": 0}}
		must(t, s.CreateRelease(ctx, r))
		must(t, s.CreateRelease(ctx, testRelease("shop", 2)))
		got, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		checkRelease(t, "with config", got, r)
		got, err = s.GetRelease(ctx, "shop", 2)
		must(t, err)
		if got.Config != nil {
			t.Errorf("release without config read back as %+v", got.Config)
		}
	}},
}
