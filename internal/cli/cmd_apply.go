package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/berthdev/berth/internal/pipeline"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

func (r *runner) newApplyCmd() *cobra.Command {
	var (
		file string
		env  string
		w    waitFlags
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Deploy an app: upload its folder and spec, create a release, follow the rollout",
		Long: `Deploy an app: validate berth.yaml locally, pack the app's folder (leaving
out .git and what .berthignore lists), upload it, and create a release.
Applying the same spec and files again creates nothing ("unchanged").

With --wait (the default) it follows the rollout, printing a line whenever a
service's state changes, and exits 0 once the release is deployed, or 1 when
it failed or --timeout passed.`,
		Example: "  berth apply -f examples/shop/\n  berth apply -f berth.yaml --wait=false",
		Args:    argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			if err := w.check(); err != nil {
				return err
			}
			return r.apply(ctx, file, env, w.wait, w.timeout)
		}),
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "berth.yaml, or the folder holding it (required)")
	_ = cmd.MarkFlagRequired("filename")
	cmd.Flags().StringVar(&env, "env", "", "environment to run a new app in (see \"berth env list\"); default: the server's local runtime")
	w.register(cmd, true, "follow the rollout until the release is deployed or failed")
	cmd.Flags().StringVar(&r.team, "team", "", "team that owns a new app (default: your only team)")
	return cmd
}

func (r *runner) apply(ctx context.Context, file, env string, wait bool, timeout time.Duration) error {
	_, raw, dir, specFile, err := loadSpec(file)
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	digest, err := packAndUpload(ctx, c, dir)
	if err != nil {
		return err
	}
	res, err := c.Apply(ctx, api.ApplyRequest{Spec: string(raw), Source: digest, Team: r.team, Env: env})
	if err != nil {
		return serverInvalid(err, specFile)
	}
	switch {
	case res.Created && res.KeepsInstancesOf != 0:
		fmt.Fprintf(r.Stdout, "app %s: release %d created; only what pipeline runs read changed, so the running instances of release %d stay (nothing restarts)\n", res.App, res.Release, res.KeepsInstancesOf)
	case res.Created:
		fmt.Fprintf(r.Stdout, "app %s: release %d created\n", res.App, res.Release)
	default:
		fmt.Fprintf(r.Stdout, "app %s: unchanged (release %d)\n", res.App, res.Release)
	}
	if !wait {
		return nil
	}
	return r.waitRelease(ctx, c, res.App, res.Release, res.Revision, timeout)
}

// loadSpec loads and validates the spec locally; an invalid one is bad
// input with every problem listed as "file:line: path: message".
func loadSpec(file string) (app *spec.App, raw []byte, dir, specFile string, err error) {
	specFile = specFileName(file)
	app, raw, dir, err = spec.LoadWith(file, pipeline.SpecOptions)
	var ve *spec.ValidationError
	switch {
	case errors.As(err, &ve):
		return nil, nil, "", specFile, badInput(
			fmt.Errorf("%s is invalid (%s)", specFile, plural(len(ve.Problems), "problem")),
			ve.Detailed(specFile))
	case err != nil:
		return nil, nil, "", specFile, badInput(err, "")
	}
	return app, raw, dir, specFile, nil
}

// specFileName is the file Load reads for path, as the user wrote it.
func specFileName(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		for _, name := range spec.FileNames {
			if _, err := os.Stat(filepath.Join(path, name)); err == nil {
				return filepath.Join(path, name)
			}
		}
	}
	return path
}

// serverInvalid lists a 422's field problems against the spec file.
func serverInvalid(err error, specFile string) error {
	var ae *client.APIError
	if errors.As(err, &ae) && client.IsInvalid(err) {
		msg := ae.Message
		if len(ae.Details) > 0 {
			msg = fmt.Sprintf("the server rejected %s (%s): %s", specFile, plural(len(ae.Details), "problem"), ae.Message)
		}
		return badInput(hint(err, "%s", msg), fieldErrors(specFile, ae.Details))
	}
	return err
}

// packAndUpload packs dir into a temporary file (the archive is hashed
// while written, and the upload needs the digest first) and uploads it.
func packAndUpload(ctx context.Context, c *client.Client, dir string) (string, error) {
	tmp, err := os.CreateTemp("", "berth-source-*.tar.gz")
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	defer tmp.Close()
	digest, err := source.Pack(dir, tmp)
	if err != nil {
		if errors.Is(err, source.ErrTooLarge) || errors.Is(err, source.ErrUnsafeSymlink) ||
			errors.Is(err, source.ErrBadIgnore) || errors.Is(err, source.ErrUnsupportedFile) {
			return "", badInput(fmt.Errorf("pack %s: %w", dir, err), "")
		}
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := c.UploadSource(ctx, digest, tmp); err != nil {
		return "", fmt.Errorf("upload the source of %s: %w", dir, err)
	}
	return digest, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (r *runner) newValidateCmd() *cobra.Command {
	var (
		file   string
		server bool
	)
	cmd := &cobra.Command{
		Use:   "validate -f FILE|DIR",
		Short: "Check a berth.yaml and list every problem (exit 2 when invalid)",
		Args:  argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			app, raw, _, specFile, err := loadSpec(file)
			if err != nil {
				return err
			}
			if server {
				c, err := r.client()
				if err != nil {
					return err
				}
				if err := c.Validate(ctx, string(raw)); err != nil {
					return serverInvalid(err, specFile)
				}
			}
			fmt.Fprintf(r.Stdout, "%s is valid: app %q, %s\n", specFile, app.Name, plural(len(app.Services), "service"))
			return nil
		}),
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "berth.yaml, or the folder holding it (required)")
	_ = cmd.MarkFlagRequired("filename")
	cmd.Flags().BoolVar(&server, "server", false, "also ask the server to validate it")
	return cmd
}
