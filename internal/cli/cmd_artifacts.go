package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

func (r *runner) newRunArtifactsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "artifacts RUN",
		Short:   "List the artifact archives a run's steps kept",
		Example: "  berth run artifacts shop.12\n  berth run artifacts shop.12 -o json",
		Args:    argsExactly("RUN"),
	}
	return readCmd(r, cmd,
		func(ctx context.Context, c *client.Client, args []string) ([]api.StepArtifacts, error) {
			if err := checkRunID(args[0]); err != nil {
				return nil, err
			}
			list, err := c.ListArtifacts(ctx, args[0])
			return list, runNotFound(err, args[0])
		},
		func(w io.Writer, list []api.StepArtifacts) error {
			if len(list) == 0 {
				fmt.Fprintln(w, "No artifacts: no step of this run kept any (steps keep the files their artifacts: name once they succeed).")
				return nil
			}
			tw := newTable(w)
			row(tw, "STEP", "FILES", "SIZE", "ARCHIVE", "DIGEST")
			for _, a := range list {
				digest := a.Digest
				if !a.ExpiredAt.IsZero() {
					// The run stays; its archive was removed by the
					// server's artifact retention.
					digest = "expired " + a.ExpiredAt.UTC().Format(time.RFC3339)
				}
				row(tw, a.Step, fmt.Sprint(a.Count), fmt.Sprint(a.Bytes), fmt.Sprint(a.Size), digest)
			}
			return tw.Flush()
		})
}

func (r *runner) newRunDownloadCmd() *cobra.Command {
	var step, dir string
	cmd := &cobra.Command{
		Use:   "download RUN --step STEP [-d DIR]",
		Short: "Download one step's artifacts and unpack them into a folder",
		Long: "Downloads the step's archive, checks it against the digest the server recorded, and unpacks it\n" +
			"into DIR (default RUN-STEP in the current folder). Names that would leave DIR, links and devices\n" +
			"are refused; files already there are replaced.",
		Example: "  berth run download shop.12 --step build\n  berth run download shop.12 --step build -d out/",
		Args:    argsExactly("RUN"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			id := args[0]
			if err := checkRunID(id); err != nil {
				return err
			}
			if step == "" {
				return usageErrorf("--step is required: name the step whose artifacts to download (see \"berth run artifacts %s\")", id)
			}
			if dir == "" {
				dir = id + "-" + step
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			rc, digest, err := c.DownloadArtifacts(ctx, id, step)
			if err != nil {
				// The server's words tell a missing run from a step that
				// kept nothing: no hint replaces them.
				return err
			}
			defer rc.Close()
			files, err := fetchAndExtract(rc, digest, dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(r.Stdout, "%d files of step %s unpacked into %s\n", len(files), step, dir)
			return nil
		}),
	}
	cmd.Flags().StringVar(&step, "step", "", "the step whose artifacts to download (required)")
	cmd.Flags().StringVarP(&dir, "dir", "d", "", "the folder to unpack into (default RUN-STEP)")
	return cmd
}

// fetchAndExtract spools the archive to a temporary file, checks it
// against digest, and only then unpacks it: a damaged or swapped download
// writes nothing into dir.
func fetchAndExtract(body io.Reader, digest, dir string) ([]string, error) {
	tmp, err := os.CreateTemp("", "berth-artifacts-*.tar.gz")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), body); err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, digest) {
		return nil, fmt.Errorf("the download hashes to %s, not to %s as the server recorded; nothing was unpacked", got, digest)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	files, err := artifact.Extract(tmp, dir, artifact.DefaultMaxBytes)
	if err != nil {
		return files, fmt.Errorf("unpack into %s: %w", dir, err)
	}
	return files, nil
}
