package backup

import (
	"context"

	"github.com/berthdev/berth/internal/store/snapshot"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// SQLiteTarget restores into the database file of a data directory
// (<data-dir>/berth.db), which must be missing or empty.
type SQLiteTarget struct{ Path string }

func (t SQLiteTarget) Backend() string    { return "sqlite " + t.Path }
func (t SQLiteTarget) SchemaVersion() int { return sqlite.SchemaVersion() }

// MinSchemaVersion: SQLite has every migration since the first.
func (t SQLiteTarget) MinSchemaVersion() int { return 1 }

func (t SQLiteTarget) Contents(ctx context.Context) (map[string]int64, error) {
	return sqlite.Contents(ctx, t.Path)
}

func (t SQLiteTarget) Load(ctx context.Context, version int, fn func(context.Context, snapshot.Writer) error) error {
	return sqlite.Restore(ctx, t.Path, version, fn)
}
