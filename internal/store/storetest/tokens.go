package storetest

import (
	"testing"

	"github.com/berthdev/berth/internal/store"
)

var tokenTests = []test{
	{desc: "tokens/create and get by hash", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		want := testToken("tok1")
		must(t, s.CreateToken(ctx, want))
		got, err := s.GetTokenByHash(ctx, want.Hash)
		must(t, err)
		checkToken(t, "GetTokenByHash", got, want)
	}},
	{desc: "tokens/duplicates", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateToken(ctx, testToken("tok1")))
		sameID := testToken("tok1")
		sameID.Hash = testToken("other").Hash
		wantErr(t, "same ID", s.CreateToken(ctx, sameID), store.ErrExists)
		sameHash := testToken("tok2")
		sameHash.Hash = testToken("tok1").Hash
		wantErr(t, "same hash", s.CreateToken(ctx, sameHash), store.ErrExists)
		ts, err := s.ListTokens(ctx)
		must(t, err)
		if len(ts) != 1 {
			t.Errorf("ListTokens = %d tokens, want 1", len(ts))
		}
	}},
	{desc: "tokens/invalid", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		noID := testToken("x")
		noID.ID = ""
		wantErr(t, "empty ID", s.CreateToken(ctx, noID), store.ErrInvalid)
		noHash := testToken("x")
		noHash.Hash = ""
		wantErr(t, "empty hash", s.CreateToken(ctx, noHash), store.ErrInvalid)
	}},
	{desc: "tokens/get missing", run: func(t *testing.T, s store.Store) {
		_, err := s.GetTokenByHash(t.Context(), testToken("nope").Hash)
		wantErr(t, "GetTokenByHash", err, store.ErrNotFound)
	}},
	{desc: "tokens/list ordered by ID", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		ts, err := s.ListTokens(ctx)
		must(t, err)
		if len(ts) != 0 {
			t.Fatalf("ListTokens on empty store = %+v", ts)
		}
		ids := []string{"c", "a", "b"}
		for _, id := range ids {
			must(t, s.CreateToken(ctx, testToken(id)))
		}
		ts, err = s.ListTokens(ctx)
		must(t, err)
		if len(ts) != 3 {
			t.Fatalf("ListTokens = %d tokens, want 3", len(ts))
		}
		for i, id := range []string{"a", "b", "c"} {
			checkToken(t, "ListTokens["+id+"]", ts[i], testToken(id))
		}
	}},
}
