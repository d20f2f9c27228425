package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func testTeam(id, name string) store.Team { return store.Team{ID: id, Name: name, CreatedAt: t0} }

func testUser(id, email string) store.User {
	return store.User{ID: id, Email: email, Name: "User " + id, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA",
		CreatedAt: t0, UpdatedAt: t0}
}

func normUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u
}

var identityTests = []test{
	{desc: "identity/teams: create, get, by name, list, duplicates", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateTeam(ctx, testTeam("team_b", "blog")))
		must(t, s.CreateTeam(ctx, testTeam("team_a", "shop")))
		wantErr(t, "same ID", s.CreateTeam(ctx, testTeam("team_a", "other")), store.ErrExists)
		wantErr(t, "same name", s.CreateTeam(ctx, testTeam("team_c", "shop")), store.ErrExists)
		wantErr(t, "no name", s.CreateTeam(ctx, testTeam("team_d", "")), store.ErrInvalid)
		got, err := s.GetTeam(ctx, "team_a")
		must(t, err)
		if got.Name != "shop" || !got.CreatedAt.Equal(t0) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("GetTeam = %+v", got)
		}
		got, err = s.GetTeamByName(ctx, "blog")
		must(t, err)
		if got.ID != "team_b" {
			t.Errorf("GetTeamByName = %+v", got)
		}
		_, err = s.GetTeam(ctx, "nope")
		wantErr(t, "GetTeam missing", err, store.ErrNotFound)
		ts, err := s.ListTeams(ctx)
		must(t, err)
		if len(ts) != 2 || ts[0].Name != "blog" || ts[1].Name != "shop" {
			t.Errorf("ListTeams = %+v", ts)
		}
	}},
	{desc: "identity/users: create, lookups, update, uniqueness", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		u := testUser("u1", "Ann@Example.com")
		u.OIDCIssuer, u.OIDCSubject = "https://sso.example", "sub-1"
		must(t, s.CreateUser(ctx, u))
		got, err := s.GetUser(ctx, "u1")
		must(t, err)
		if !reflect.DeepEqual(normUser(got), normUser(u)) {
			t.Errorf("GetUser:\n got %+v\nwant %+v", got, u)
		}
		got, err = s.GetUserByEmail(ctx, "ann@example.COM")
		must(t, err)
		if got.ID != "u1" {
			t.Errorf("GetUserByEmail (other case) = %+v", got)
		}
		got, err = s.GetUserByIdentity(ctx, "https://sso.example", "sub-1")
		must(t, err)
		if got.ID != "u1" {
			t.Errorf("GetUserByIdentity = %+v", got)
		}
		_, err = s.GetUserByIdentity(ctx, "https://sso.example", "sub-2")
		wantErr(t, "other subject", err, store.ErrNotFound)
		wantErr(t, "same email other case", s.CreateUser(ctx, testUser("u2", "ann@example.com")), store.ErrExists)
		dupIdentity := testUser("u3", "bob@example.com")
		dupIdentity.OIDCIssuer, dupIdentity.OIDCSubject = u.OIDCIssuer, u.OIDCSubject
		wantErr(t, "same identity", s.CreateUser(ctx, dupIdentity), store.ErrExists)
		// Users without an SSO identity do not collide on the empty pair.
		must(t, s.CreateUser(ctx, testUser("u4", "cid@example.com")))
		must(t, s.CreateUser(ctx, testUser("u5", "dan@example.com")))
		half := testUser("u6", "eve@example.com")
		half.OIDCIssuer = "https://sso.example"
		wantErr(t, "issuer without subject", s.CreateUser(ctx, half), store.ErrInvalid)

		u.Name, u.PlatformAdmin, u.Disabled, u.UpdatedAt = "Ann B", true, true, t1
		must(t, s.UpdateUser(ctx, u))
		got, err = s.GetUser(ctx, "u1")
		must(t, err)
		if !reflect.DeepEqual(normUser(got), normUser(u)) {
			t.Errorf("after UpdateUser:\n got %+v\nwant %+v", got, u)
		}
		taken := u
		taken.Email = "CID@example.com"
		wantErr(t, "update to a taken email", s.UpdateUser(ctx, taken), store.ErrExists)
		wantErr(t, "update missing", s.UpdateUser(ctx, testUser("nope", "x@example.com")), store.ErrNotFound)
		us, err := s.ListUsers(ctx)
		must(t, err)
		if len(us) != 3 || us[0].ID != "u1" || us[2].ID != "u5" {
			t.Errorf("ListUsers = %+v", us)
		}
	}},
	{desc: "identity/members: put, change role, list both ways, delete", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateTeam(ctx, testTeam("ta", "shop")))
		must(t, s.CreateTeam(ctx, testTeam("tb", "blog")))
		must(t, s.CreateUser(ctx, testUser("u1", "a@example.com")))
		must(t, s.CreateUser(ctx, testUser("u2", "b@example.com")))
		must(t, s.PutMember(ctx, store.Member{Team: "ta", User: "u1", Role: "viewer", Source: "manual", CreatedAt: t0}))
		must(t, s.PutMember(ctx, store.Member{Team: "tb", User: "u1", Role: "owner", Source: "sso", CreatedAt: t0}))
		must(t, s.PutMember(ctx, store.Member{Team: "ta", User: "u2", Role: "admin", Source: "manual", CreatedAt: t0}))
		must(t, s.PutMember(ctx, store.Member{Team: "ta", User: "u1", Role: "developer", Source: "manual", CreatedAt: t1}))
		m, err := s.GetMember(ctx, "ta", "u1")
		must(t, err)
		if m.Role != "developer" || !m.CreatedAt.Equal(t0) {
			t.Errorf("after role change = %+v (want developer, created_at kept)", m)
		}
		wantErr(t, "unknown team", s.PutMember(ctx, store.Member{Team: "tz", User: "u1", Role: "viewer", CreatedAt: t0}), store.ErrNotFound)
		wantErr(t, "unknown user", s.PutMember(ctx, store.Member{Team: "ta", User: "uz", Role: "viewer", CreatedAt: t0}), store.ErrNotFound)
		ms, err := s.ListMembers(ctx, "ta")
		must(t, err)
		if len(ms) != 2 || ms[0].User != "u1" || ms[1].User != "u2" {
			t.Errorf("ListMembers = %+v", ms)
		}
		ms, err = s.ListMemberships(ctx, "u1")
		must(t, err)
		if len(ms) != 2 || ms[0].Team != "ta" || ms[1].Team != "tb" || ms[1].Role != "owner" {
			t.Errorf("ListMemberships = %+v", ms)
		}
		must(t, s.DeleteMember(ctx, "ta", "u1"))
		wantErr(t, "delete again", s.DeleteMember(ctx, "ta", "u1"), store.ErrNotFound)
		_, err = s.GetMember(ctx, "ta", "u1")
		wantErr(t, "get deleted", err, store.ErrNotFound)
	}},
	{desc: "identity/invitations: single use, expiry, bound team and role", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateTeam(ctx, testTeam("ta", "shop")))
		inv := store.Invitation{ID: "inv1", Hash: "h1", Team: "ta", Role: "developer", CreatedBy: "u0", CreatedAt: t0, ExpiresAt: t1}
		must(t, s.CreateInvitation(ctx, inv))
		wantErr(t, "same hash", s.CreateInvitation(ctx, store.Invitation{ID: "inv2", Hash: "h1", Team: "ta", Role: "viewer", CreatedAt: t0, ExpiresAt: t1}), store.ErrExists)
		wantErr(t, "unknown team", s.CreateInvitation(ctx, store.Invitation{ID: "inv3", Hash: "h3", Team: "tz", Role: "viewer", CreatedAt: t0, ExpiresAt: t1}), store.ErrNotFound)
		must(t, s.CreateInvitation(ctx, store.Invitation{ID: "inv4", Hash: "h4", Team: "ta", Role: "viewer", CreatedAt: t0, ExpiresAt: t1}))
		_, err := s.AcceptInvitation(ctx, "nope", "u1", t0)
		wantErr(t, "unknown", err, store.ErrNotFound)
		_, err = s.AcceptInvitation(ctx, "h4", "u1", t1)
		wantErr(t, "at expiry", err, store.ErrConflict)

		// Two accepts race: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				got, err := s.AcceptInvitation(ctx, "h1", "u1", t0.Add(time.Minute))
				if err == nil && (got.Team != "ta" || got.Role != "developer" || got.AcceptedBy != "u1") {
					t.Errorf("accepted = %+v", got)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				wantErr(t, "losing accept", err, store.ErrConflict)
			}
		}
		if wins != 1 {
			t.Errorf("%d accepts won, want 1", wins)
		}
		invs, err := s.ListInvitations(ctx, "ta")
		must(t, err)
		if len(invs) != 2 || invs[0].ID != "inv1" || invs[0].AcceptedAt.IsZero() || !invs[1].AcceptedAt.IsZero() {
			t.Errorf("ListInvitations = %+v", invs)
		}
	}},
	{desc: "identity/tokens: revoke once, touch only forward, get by ID", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		tok := testToken("tok1")
		must(t, s.CreateToken(ctx, tok))
		must(t, s.TouchToken(ctx, "tok1", t1))
		must(t, s.TouchToken(ctx, "tok1", t0)) // older: ignored
		must(t, s.RevokeToken(ctx, "tok1", t0))
		must(t, s.RevokeToken(ctx, "tok1", t1)) // again: first time kept
		got, err := s.GetToken(ctx, "tok1")
		must(t, err)
		tok.LastUsedAt, tok.RevokedAt = t1, t0
		checkToken(t, "GetToken", got, tok)
		wantErr(t, "revoke missing", s.RevokeToken(ctx, "nope", t0), store.ErrNotFound)
		wantErr(t, "touch missing", s.TouchToken(ctx, "nope", t0), store.ErrNotFound)
		_, err = s.GetToken(ctx, "nope")
		wantErr(t, "get missing", err, store.ErrNotFound)
	}},
	{desc: "identity/sessions: create, get by hash, delete", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateUser(ctx, testUser("u1", "a@example.com")))
		se := store.Session{ID: "s1", Hash: "sh", CSRFHash: "ch", User: "u1", CreatedAt: t0, ExpiresAt: t1}
		must(t, s.CreateSession(ctx, se))
		wantErr(t, "unknown user", s.CreateSession(ctx, store.Session{ID: "s2", Hash: "x", CSRFHash: "y", User: "uz", CreatedAt: t0, ExpiresAt: t1}), store.ErrNotFound)
		got, err := s.GetSessionByHash(ctx, "sh")
		must(t, err)
		if got.ID != "s1" || got.User != "u1" || got.CSRFHash != "ch" || !got.ExpiresAt.Equal(t1) {
			t.Errorf("GetSessionByHash = %+v", got)
		}
		must(t, s.DeleteSession(ctx, "s1"))
		_, err = s.GetSessionByHash(ctx, "sh")
		wantErr(t, "deleted", err, store.ErrNotFound)
	}},
	{desc: "identity/sessions: end every session of a user but one", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateUser(ctx, testUser("u1", "a@example.com")))
		must(t, s.CreateUser(ctx, testUser("u2", "b@example.com")))
		for _, se := range []store.Session{
			{ID: "s1", Hash: "h1", CSRFHash: "c1", User: "u1", CreatedAt: t0, ExpiresAt: t1},
			{ID: "s2", Hash: "h2", CSRFHash: "c2", User: "u1", CreatedAt: t0, ExpiresAt: t1},
			{ID: "s3", Hash: "h3", CSRFHash: "c3", User: "u1", CreatedAt: t0, ExpiresAt: t1},
			{ID: "s4", Hash: "h4", CSRFHash: "c4", User: "u2", CreatedAt: t0, ExpiresAt: t1},
		} {
			must(t, s.CreateSession(ctx, se))
		}
		n, err := s.DeleteUserSessions(ctx, "u1", "s2")
		must(t, err)
		if n != 2 {
			t.Errorf("ended %d sessions, want 2", n)
		}
		for hash, want := range map[string]bool{"h1": false, "h2": true, "h3": false, "h4": true} {
			_, err := s.GetSessionByHash(ctx, hash)
			if (err == nil) != want {
				t.Errorf("session %s: %v, want kept %v", hash, err, want)
			}
		}
		n, err = s.DeleteUserSessions(ctx, "u1", "")
		must(t, err)
		if n != 1 {
			t.Errorf("ended %d sessions, want the last 1", n)
		}
	}},
	{desc: "identity/teams: rename", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateTeam(ctx, testTeam("team_a", "shop")))
		must(t, s.CreateTeam(ctx, testTeam("team_b", "blog")))
		must(t, s.RenameTeam(ctx, "team_a", "store"))
		got, err := s.GetTeamByName(ctx, "store")
		must(t, err)
		if got.ID != "team_a" || !got.CreatedAt.Equal(t0) {
			t.Errorf("renamed team = %+v", got)
		}
		wantErr(t, "a taken name", s.RenameTeam(ctx, "team_a", "blog"), store.ErrExists)
		wantErr(t, "missing team", s.RenameTeam(ctx, "nope", "x"), store.ErrNotFound)
		wantErr(t, "no name", s.RenameTeam(ctx, "team_a", ""), store.ErrInvalid)
	}},
}
