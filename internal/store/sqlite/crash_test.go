package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/internal/store/storetest"
)

func openFile(ctx context.Context, path string) (store.Store, error) {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return db, nil
}

func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	t.Parallel()
	storetest.RunCrash(t, openFile, filepath.Join(t.TempDir(), "crash.db"))
}
