package backup

import (
	"context"
	"errors"

	"github.com/berthdev/berth/internal/store/snapshot"
)

// errNoPostgres: this build has no PostgreSQL store yet.
var errNoPostgres = errors.New("backup: PostgreSQL is not supported by this build")

func openPostgresSource(ctx context.Context, url string) (snapshot.Source, func(), error) {
	return nil, nil, errNoPostgres
}

func postgresTarget(url string) (Target, error) { return nil, errNoPostgres }
