package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/audit"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

func benchDB(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if err := db.CreateApp(b.Context(), store.App{Name: "shop", Ports: map[string]int{"web": 41000}}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkUpdateApp is one durable commit (an fsync of the WAL) per op.
func BenchmarkUpdateApp(b *testing.B) {
	db := benchDB(b)
	a, err := db.GetApp(b.Context(), "shop")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if a.Version, err = db.UpdateApp(b.Context(), a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetAppParallel(b *testing.B) {
	db := benchDB(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.GetApp(b.Context(), "shop"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendAudit is what every mutating API call adds: a read of
// the chain's head and one durable commit.
func BenchmarkAppendAudit(b *testing.B) {
	db := benchDB(b)
	r := audit.Record{Time: time.Now(), Actor: "user_1", Team: "team_1", Action: "app.apply", Object: "app/shop",
		SourceIP: "127.0.0.1", RequestID: "r", Outcome: audit.OutcomeSuccess, Details: map[string]string{"status": "OK"}}
	for b.Loop() {
		if _, err := db.AppendAudit(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
}
