package sqlstore

import (
	"context"
	"fmt"
)

// Account management in the store: renaming a team and ending a user's
// sessions (a password change, a disabled user).

func (o ops) RenameTeam(ctx context.Context, id, name string) error {
	if err := required("team", "id", id, "name", name); err != nil {
		return err
	}
	res, err := o.q.ExecContext(ctx, `UPDATE teams SET name = ? WHERE id = ?`, name, id)
	if err != nil {
		return o.mapErr(err, "rename", fmt.Sprintf("team %q", id), "")
	}
	return affected(res, nil, fmt.Sprintf("team %q", id))
}

// DeleteUserSessions quotes "user": unquoted it is a keyword in
// PostgreSQL (the current role), not the column.
func (o ops) DeleteUserSessions(ctx context.Context, user, keep string) (int, error) {
	res, err := o.q.ExecContext(ctx, `DELETE FROM sessions WHERE "user" = ? AND id <> ?`, user, keep)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %q: %w", user, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (db *Store) RenameTeam(ctx context.Context, id, name string) error {
	return db.inWrite(ctx, func(o ops) error { return o.RenameTeam(ctx, id, name) })
}

func (db *Store) DeleteUserSessions(ctx context.Context, user, keep string) (n int, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		n, err = o.DeleteUserSessions(ctx, user, keep)
		return err
	})
	return n, err
}
