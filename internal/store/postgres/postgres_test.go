package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob/blobtest"
	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/storetest"
)

func TestMain(m *testing.M) {
	if code, ok := storetest.CrashChild(openURL); ok {
		os.Exit(code)
	}
	os.Exit(pgtest.Main(m))
}

func openURL(ctx context.Context, url string) (store.Store, error) {
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// TestAcknowledgedWritesSurviveKill kills a writing client with SIGKILL,
// in a loop: PostgreSQL keeps what it acknowledged and rolls back what it
// had not, so every acknowledged write is there and no transaction is
// half there.
func TestAcknowledgedWritesSurviveKill(t *testing.T) {
	t.Parallel()
	storetest.RunCrash(t, openURL, pgtest.URL(t))
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestBlobContract(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blobtest.Opened {
		url := pgtest.URL(t)
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return blobtest.Opened{Store: db.Blobs(),
			Damage: func(t *testing.T, digest string) {
				pgtest.Exec(t, url, `UPDATE blob_chunks SET data = set_byte(data, 7, get_byte(data, 7) # 255) WHERE digest = $1 AND seq = 0`, digest)
			},
			Age: func(t *testing.T, digest string, by time.Duration) {
				pgtest.Exec(t, url, blobtest.AgeSQL, digest, by.Seconds())
			},
		}
	})
}
