package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/pipeline/artifact"
)

// ExitCacheMiss is the exit code of "step-agent cache restore" when it
// restored nothing: no cache of the key yet, or a restore that failed
// (said in the step's log). The step's wrapper then saves the cache after
// a successful script; 0 means restored, and nothing is saved.
const ExitCacheMiss = 10

func (r *runner) newStepAgentCacheCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Restore or save the step's cache (the key is the server's)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	cmd.AddCommand(r.newStepAgentCacheRestoreCmd(), r.newStepAgentCacheSaveCmd())
	return cmd
}

// cacheFlags are what both cache commands take: the server's URL for the
// step's cache, the checkout and the home the cache spans.
type cacheFlags struct {
	url, dir, home string
	max            int64
}

func (f *cacheFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "url", "", "the step's cache address on the server (the server names it)")
	cmd.Flags().StringVar(&f.dir, "dir", ".", "the checkout (cache paths are relative to it)")
	cmd.Flags().StringVar(&f.home, "home", "", `the step's home ("~/..." cache paths); default $HOME`)
	cmd.Flags().Int64Var(&f.max, "max-bytes", artifact.DefaultMaxCacheBytes, "the most content to restore or send")
}

// open checks the flags and the token and opens the two rooted views.
func (r *runner) openCache(f *cacheFlags) (artifact.CacheRoots, string, func(), error) {
	tok := r.Getenv(StepTokenEnv)
	if f.home == "" {
		f.home = r.Getenv("HOME")
	}
	switch {
	case f.url == "":
		return artifact.CacheRoots{}, "", nil, usageErrorf("--url is required: the step's cache address")
	case tok == "":
		return artifact.CacheRoots{}, "", nil, usageErrorf("%s is not set: the step's token comes from its Secret", StepTokenEnv)
	case f.home == "":
		return artifact.CacheRoots{}, "", nil, usageErrorf("--home is required when HOME is not set")
	}
	if err := os.MkdirAll(f.home, 0o755); err != nil {
		return artifact.CacheRoots{}, "", nil, err
	}
	src, err := os.OpenRoot(f.dir)
	if err != nil {
		return artifact.CacheRoots{}, "", nil, err
	}
	home, err := os.OpenRoot(f.home)
	if err != nil {
		src.Close()
		return artifact.CacheRoots{}, "", nil, err
	}
	return artifact.CacheRoots{Src: src, Home: home}, tok, func() { src.Close(); home.Close() }, nil
}

func (r *runner) newStepAgentCacheRestoreCmd() *cobra.Command {
	var f cacheFlags
	cmd := &cobra.Command{
		Use:   "restore --url URL [--dir DIR] [--home DIR]",
		Short: "Unpack the step's cache into the checkout and home; exit 10 when nothing was restored",
		Args:  cobra.NoArgs,
		RunE: r.run(func(ctx context.Context, _ []string) error {
			roots, tok, done, err := r.openCache(&f)
			if err != nil {
				return err
			}
			defer done()
			key := r.Getenv(CacheKeyEnv)
			n, err := restoreCache(ctx, roots, f.url, tok, f.max)
			switch {
			case errors.Is(err, errNoCache):
				fmt.Fprintf(r.Stdout, "[berth] cache: no cache for key %s\n", key)
				return quietExit(ExitCacheMiss)
			case err != nil:
				// A cache is an optimisation: the step runs without it.
				fmt.Fprintf(r.Stdout, "[berth] cache: restoring key %s failed, the step runs without it: %v\n", key, err)
				return quietExit(ExitCacheMiss)
			}
			fmt.Fprintf(r.Stdout, "[berth] cache: restored key %s (%d files)\n", key, n)
			return nil
		}),
	}
	f.add(cmd)
	return cmd
}

func (r *runner) newStepAgentCacheSaveCmd() *cobra.Command {
	var f cacheFlags
	count := -1
	cmd := &cobra.Command{
		Use:   "save --url URL [--dir DIR] [--home DIR] [--count N] PATH...",
		Short: `Pack the cache paths (in the checkout, or "~/..." in the home) and send them to the server`,
		Args:  cobra.MinimumNArgs(1),
		RunE: r.run(func(ctx context.Context, paths []string) error {
			// The pod's wrapper passes the cache paths and then the
			// artifact patterns, and says how many are paths.
			switch {
			case count > len(paths) || count == 0:
				return usageErrorf("--count %d: between 1 and the %d arguments given", count, len(paths))
			case count > 0:
				paths = paths[:count]
			}
			roots, tok, done, err := r.openCache(&f)
			if err != nil {
				return err
			}
			defer done()
			key := r.Getenv(CacheKeyEnv)
			files, saved, err := saveCache(ctx, prefixed{r.Stdout}, roots, paths, f.url, tok, f.max)
			switch {
			case err != nil:
				// The wrapper goes on: the step worked, only its cache is
				// not kept.
				fmt.Fprintf(r.Stdout, "[berth] cache: key %s not saved: %v\n", key, err)
				return quietExit(ExitFailure)
			case saved:
				fmt.Fprintf(r.Stdout, "[berth] cache: saved key %s (%d files)\n", key, files)
			default:
				fmt.Fprintf(r.Stdout, "[berth] cache: key %s was saved by another run first; kept that one\n", key)
			}
			return nil
		}),
	}
	f.add(cmd)
	cmd.Flags().IntVar(&count, "count", -1, "how many of the arguments are cache paths (the rest are ignored); default all")
	return cmd
}

// CacheKeyEnv holds the step's expanded cache key in a step pod (from
// its Secret), for the agent's notes only: the server, not the agent,
// decides which cache a step reaches.
const CacheKeyEnv = artifact.CacheKeyEnv

// errNoCache is the server's 404: the key has no cache yet.
var errNoCache = errors.New("no cache")

// restoreCache GETs the step's cache and unpacks it through the rooted
// views, at most max bytes of content.
func restoreCache(ctx context.Context, roots artifact.CacheRoots, url, tok string, max int64) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set(artifact.TokenHeader, tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return 0, errNoCache
	case resp.StatusCode != http.StatusOK:
		return 0, answered(resp)
	}
	files, err := artifact.ExtractCache(resp.Body, roots, max)
	return len(files), err
}

// saveCache collects and packs the cache paths, spooled to a temporary
// file, and PUTs the archive with the step token; saved is false when the
// key had a cache already.
func saveCache(ctx context.Context, log io.Writer, roots artifact.CacheRoots, paths []string, url, tok string, max int64) (int, bool, error) {
	files, err := artifact.CollectCache(ctx, roots, paths, log)
	if err != nil {
		return 0, false, err
	}
	resp, err := sendArchive(ctx, url, tok, func(w io.Writer) (artifact.Packed, error) {
		return artifact.PackCache(ctx, roots, files, w, max)
	})
	if err != nil {
		return 0, false, fmt.Errorf("send the cache: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return len(files), true, nil
	case http.StatusOK:
		return len(files), false, nil
	}
	return 0, false, fmt.Errorf("send the cache: %w", answered(resp))
}

// answered is the error of a server answer that was not expected.
func answered(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("the server answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
}
