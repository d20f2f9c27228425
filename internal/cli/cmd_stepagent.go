package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/pipeline/artifact"
)

// StepTokenEnv holds the step agent's token in a step pod (from the
// step's Secret, never the pod spec).
const StepTokenEnv = artifact.TokenEnv

// newStepAgentCmd is the hidden agent a cluster step pod runs: "install"
// in its init container (copies this binary into the pod's agent volume),
// "upload" after the step's script exited 0, "cache restore" before the
// script and "cache save" after it (see cmd_stepagent_cache.go).
func (r *runner) newStepAgentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "step-agent",
		Short:  "Helpers a pipeline step's pod runs (not for people)",
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		RunE:   groupRunE,
	}
	cmd.AddCommand(r.newStepAgentInstallCmd(), r.newStepAgentUploadCmd(), r.newStepAgentCacheCmd())
	return cmd
}

func (r *runner) newStepAgentInstallCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "install DEST",
		Short: "Copy this binary to DEST (the pod's agent volume)",
		Args:  argsExactly("DEST"),
		RunE: r.run(func(_ context.Context, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			src, err := os.Open(self)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
			if err != nil {
				return err
			}
			if _, err := io.Copy(dst, src); err != nil {
				dst.Close()
				return fmt.Errorf("install the step agent: %w", err)
			}
			return dst.Close()
		}),
	}
}

func (r *runner) newStepAgentUploadCmd() *cobra.Command {
	var url, dir string
	var max int64
	cmd := &cobra.Command{
		Use:   "upload --url URL [--dir DIR] PATTERN...",
		Short: "Pack the files the artifact patterns name (under DIR) and send them to the server",
		Args:  cobra.MinimumNArgs(1),
		RunE: r.run(func(ctx context.Context, patterns []string) error {
			tok := r.Getenv(StepTokenEnv)
			switch {
			case url == "":
				return usageErrorf("--url is required: where to send the archive")
			case tok == "":
				return usageErrorf("%s is not set: the step's token comes from its Secret", StepTokenEnv)
			}
			n, err := uploadArtifacts(ctx, r.Stdout, dir, patterns, url, tok, max)
			if err != nil {
				return err
			}
			fmt.Fprintf(r.Stdout, "[berth] artifacts: %d files sent\n", n)
			return nil
		}),
	}
	cmd.Flags().StringVar(&url, "url", "", "where to PUT the archive (the server names it)")
	cmd.Flags().StringVar(&dir, "dir", ".", "the checkout the patterns are relative to")
	cmd.Flags().Int64Var(&max, "max-bytes", artifact.DefaultMaxBytes, "the most content to send")
	return cmd
}

// uploadArtifacts collects and packs the files through a rooted view of
// dir (no ".." or symlink leads out of it), spooled to a temporary file,
// and PUTs the archive with the step token.
func uploadArtifacts(ctx context.Context, log io.Writer, dir string, patterns []string, url, tok string, max int64) (int, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	files, err := artifact.Collect(ctx, root, patterns, prefixed{log})
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, nil // nothing to keep; the step still succeeded
	}
	resp, err := sendArchive(ctx, url, tok, func(w io.Writer) (artifact.Packed, error) {
		return artifact.Pack(ctx, root, files, w, max)
	})
	if err != nil {
		return 0, fmt.Errorf("send artifacts to %s: %w", filepath.Base(url), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("send artifacts: %w", answered(resp))
	}
	return len(files), nil
}

// sendArchive packs an archive with pack into a temporary file (its size
// must be known before it is sent) and PUTs it to url with the step
// token. The caller closes the answer's body.
func sendArchive(ctx context.Context, url, tok string, pack func(io.Writer) (artifact.Packed, error)) (*http.Response, error) {
	tmp, err := os.CreateTemp("", "berth-archive-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	p, err := pack(tmp)
	if err != nil {
		return nil, fmt.Errorf("pack the archive: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, tmp)
	if err != nil {
		return nil, err
	}
	req.ContentLength = p.Size
	req.Header.Set("Content-Type", "application/gzip")
	req.Header.Set(artifact.TokenHeader, tok)
	return http.DefaultClient.Do(req)
}

// prefixed marks the agent's notes as Berth's in the step's log.
type prefixed struct{ w io.Writer }

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, "[berth] "); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}
