package api

import (
	"os"
	"testing"

	"github.com/berthdev/berth/internal/pgtest"
)

// TestMain stops the PostgreSQL server the tests on PostgreSQL may have
// started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
