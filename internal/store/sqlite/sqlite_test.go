package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/internal/store/storetest"
)

func TestMain(m *testing.M) {
	if code, ok := storetest.CrashChild(openFile); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
