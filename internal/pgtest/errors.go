package pgtest

import "errors"

// ErrNoServer means no PostgreSQL server could be found or started.
var ErrNoServer = errors.New("pgtest: no PostgreSQL server")
