package sqlite

import (
	"context"
	"time"

	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/store"
)

// The identity calls made outside InTx: reads on the read pool, writes in
// their own transaction on the writer.

func (db *DB) CreateTeam(ctx context.Context, t store.Team) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateTeam(ctx, t) })
}

func (db *DB) GetTeam(ctx context.Context, id string) (store.Team, error) {
	return db.reader().GetTeam(ctx, id)
}

func (db *DB) GetTeamByName(ctx context.Context, name string) (store.Team, error) {
	return db.reader().GetTeamByName(ctx, name)
}

func (db *DB) ListTeams(ctx context.Context) ([]store.Team, error) { return db.reader().ListTeams(ctx) }

func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateUser(ctx, u) })
}

func (db *DB) UpdateUser(ctx context.Context, u store.User) error {
	return db.inWrite(ctx, func(o ops) error { return o.UpdateUser(ctx, u) })
}

func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	return db.reader().GetUser(ctx, id)
}

func (db *DB) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	return db.reader().GetUserByEmail(ctx, email)
}

func (db *DB) GetUserByIdentity(ctx context.Context, issuer, subject string) (store.User, error) {
	return db.reader().GetUserByIdentity(ctx, issuer, subject)
}

func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) { return db.reader().ListUsers(ctx) }

func (db *DB) PutMember(ctx context.Context, m store.Member) error {
	return db.inWrite(ctx, func(o ops) error { return o.PutMember(ctx, m) })
}

func (db *DB) GetMember(ctx context.Context, team, user string) (store.Member, error) {
	return db.reader().GetMember(ctx, team, user)
}

func (db *DB) DeleteMember(ctx context.Context, team, user string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteMember(ctx, team, user) })
}

func (db *DB) ListMembers(ctx context.Context, team string) ([]store.Member, error) {
	return db.reader().ListMembers(ctx, team)
}

func (db *DB) ListMemberships(ctx context.Context, user string) ([]store.Member, error) {
	return db.reader().ListMemberships(ctx, user)
}

func (db *DB) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateInvitation(ctx, inv) })
}

func (db *DB) ListInvitations(ctx context.Context, team string) ([]store.Invitation, error) {
	return db.reader().ListInvitations(ctx, team)
}

func (db *DB) AcceptInvitation(ctx context.Context, hash, user string, at time.Time) (inv store.Invitation, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		inv, err = o.AcceptInvitation(ctx, hash, user, at)
		return err
	})
	return inv, err
}

func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	return db.inWrite(ctx, func(o ops) error { return o.CreateSession(ctx, s) })
}

func (db *DB) GetSessionByHash(ctx context.Context, hash string) (store.Session, error) {
	return db.reader().GetSessionByHash(ctx, hash)
}

func (db *DB) DeleteSession(ctx context.Context, id string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteSession(ctx, id) })
}

func (db *DB) AppendAudit(ctx context.Context, r audit.Record) (rec audit.Record, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		rec, err = o.AppendAudit(ctx, r)
		return err
	})
	return rec, err
}

func (db *DB) ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Record, error) {
	return db.reader().ListAudit(ctx, q)
}
