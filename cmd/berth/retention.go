package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/retention"
	"github.com/berthdev/berth/internal/server"
)

// retentionFlags are the server's flags for artifact retention and blob
// garbage collection. On the command line 0 means "forever" / "none";
// server.RetentionConfig keeps 0 for its defaults and says so with a
// negative value.
type retentionFlags struct {
	ttl   time.Duration
	last  int
	every time.Duration
}

func (f *retentionFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.ttl, "artifact-retention", retention.DefaultArtifactTTL,
		"how long after a run ended its pipeline artifacts are kept (720h is 30 days; 0 keeps them forever)")
	cmd.Flags().IntVar(&f.last, "artifact-keep-last", retention.DefaultKeepLast,
		"the newest N successful runs of each app's pipeline that kept artifacts keep them however old (0: none)")
	cmd.Flags().DurationVar(&f.every, "retention-sweep-every", 0,
		"how often the leader expires artifacts and deletes blobs nothing refers to (default 1h; it also sweeps when it starts leading)")
}

func (f retentionFlags) config() (server.RetentionConfig, error) {
	switch {
	case f.ttl < 0:
		return server.RetentionConfig{}, cli.BadInput(fmt.Errorf("--artifact-retention: %s is negative; give a duration such as 720h (0 keeps artifacts forever)", f.ttl))
	case f.last < 0:
		return server.RetentionConfig{}, cli.BadInput(fmt.Errorf("--artifact-keep-last: %d is negative; give a count such as 5 (0 keeps no run's artifacts past --artifact-retention)", f.last))
	case f.every < 0:
		return server.RetentionConfig{}, cli.BadInput(fmt.Errorf("--retention-sweep-every: %s is negative; give a duration such as 1h (0 for the default)", f.every))
	}
	c := server.RetentionConfig{ArtifactTTL: f.ttl, ArtifactKeepLast: f.last, Every: f.every}
	if f.ttl == 0 {
		c.ArtifactTTL = -1
	}
	if f.last == 0 {
		c.ArtifactKeepLast = -1
	}
	return c, nil
}
