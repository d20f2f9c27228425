package backup

import (
	"os"
	"testing"

	"github.com/berthdev/berth/internal/pgtest"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m))
}
