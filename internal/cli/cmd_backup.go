package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// BackupHooks are the parts of `berth backup` that read a store directly
// or read a backup file; cmd/berth provides them from internal/backup, so
// this package still reaches the server only through pkg/client.
type BackupHooks struct {
	// Offline writes a backup of a stopped server's store: its data
	// directory (SQLite), or database (a PostgreSQL URL) with dataDir for
	// the source archives.
	Offline func(ctx context.Context, dataDir, database string, w io.Writer) error
	// Verify reads a whole backup file, checking it, and describes it in
	// one line.
	Verify func(ctx context.Context, path string) (string, error)
}

func (r *runner) newBackupCmd() *cobra.Command {
	var file, dataDir, database string
	cmd := &cobra.Command{
		Use:   "backup -o FILE [--data-dir DIR | --database URL]",
		Short: "Write a backup of all platform state (online through the server, or offline)",
		Long: `Write a backup of all platform state to FILE: every table of the store, read
in one transaction, the source archives releases were built from, and the
artifact archives pipeline runs kept (those not expired). Secrets
and cluster credentials stay sealed with the master key, which is never in a
backup: keep the key (<data-dir>/master.key or $BERTH_MASTER_KEY) safe apart
from it, or restore cannot open them.

Online (the default) asks the server of the current context; it needs a
platform admin and does not stop writes. Offline reads a stopped server's
store: --data-dir DIR (SQLite, with the archives of DIR/blobs), or --database
URL (PostgreSQL, which keeps the archives itself; add --data-dir only for a
database from before it did).

  berth backup -o berth-$(date +%F).backup
  berth backup -o berth.backup --data-dir /var/lib/berth

The file is written beside FILE and renamed once read back whole, so FILE is
never a partial backup. Restore with "berth restore" (see docs/backup.md).`,
		Args: argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			if file == "" {
				return usageErrorf("-o FILE is required: where to write the backup")
			}
			if r.Backup.Verify == nil {
				return fmt.Errorf("this build of berth cannot check backups")
			}
			tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".part-*")
			if err != nil {
				return badInput(fmt.Errorf("-o %s: %w", file, err), "")
			}
			defer os.Remove(tmp.Name()) // no-op after the rename
			if err := r.writeBackup(ctx, tmp, dataDir, database); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Sync(); err != nil {
				tmp.Close()
				return fmt.Errorf("write %s: %w", file, err)
			}
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("write %s: %w", file, err)
			}
			summary, err := r.Backup.Verify(ctx, tmp.Name())
			if err != nil {
				return failed(fmt.Errorf("the backup did not read back whole, so %s was not written: %w", file, err), "")
			}
			if err := os.Rename(tmp.Name(), file); err != nil {
				return fmt.Errorf("write %s: %w", file, err)
			}
			fmt.Fprintf(r.Stdout, "wrote %s: %s\n", file, summary)
			return nil
		}),
	}
	cmd.Flags().StringVarP(&file, "output", "o", "", "file to write the backup to")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "back up this stopped server's data directory instead of asking a server")
	cmd.Flags().StringVar(&database, "database", "", "back up this PostgreSQL database (postgres://...) of stopped servers")
	return cmd
}

func (r *runner) writeBackup(ctx context.Context, w io.Writer, dataDir, database string) error {
	if dataDir != "" || database != "" {
		if r.Backup.Offline == nil {
			return fmt.Errorf("this build of berth cannot read a store directly")
		}
		return r.Backup.Offline(ctx, dataDir, database, w)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	body, err := c.Backup(ctx)
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := io.Copy(w, body); err != nil {
		return fmt.Errorf("download the backup: %w", err)
	}
	return nil
}
