package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/backup"
	"github.com/berthdev/berth/internal/cli"
)

// backupHooks give `berth backup` its offline mode and its read-back check.
func backupHooks() cli.BackupHooks {
	return cli.BackupHooks{
		Offline: backup.WriteOffline,
		Verify: func(ctx context.Context, path string) (string, error) {
			h, tr, err := backup.Verify(ctx, path)
			if err != nil {
				return "", err
			}
			return backup.Describe(h, tr), nil
		},
	}
}

func newRestoreCmd() *cobra.Command {
	var (
		dataDir, database, keyFile string
		maps, adds                 []string
	)
	cmd := &cobra.Command{
		Use:   "restore FILE (--data-dir DIR | --database URL) [--map-cluster OLD=NEW]... [--add-cluster NAME=KUBECONFIG]...",
		Short: "Load a backup into an empty store, SQLite or PostgreSQL (with the server stopped)",
		Long: `Load a backup made by "berth backup" into an empty store: the SQLite database
of --data-dir (its source archives go to <data-dir>/blobs), or the PostgreSQL
database of --database (which keeps the source archives itself, so every
server sharing it can build them). Either kind restores into either kind, so this
is also how a platform moves from SQLite to PostgreSQL. A backup made by an
older Berth is brought up to this one's schema.

The whole file is checked before anything is written: a corrupt or truncated
backup, a store that is not empty, a master key that does not open the
backup's secrets, or a cluster mapping that leaves a reference dangling
changes nothing. The key is found as the server finds it: $BERTH_MASTER_KEY,
--master-key-file, or <data-dir>/master.key.

--map-cluster OLD=NEW (repeatable) moves everything that ran on cluster OLD
(environments) onto cluster NEW: one the backup registers, or one this
restore registers with --add-cluster NEW=KUBECONFIG (the file's current
context; its credentials are sealed with the master key, and the server
checks the cluster when it starts).

  berth restore berth.backup --data-dir /var/lib/berth-new --master-key-file old.key
  berth restore berth.backup --database postgres://berth@db/berth --master-key-file old.key
  berth restore berth.backup --data-dir d --map-cluster aliyun-hz=onprem-1
  berth restore berth.backup --data-dir d --add-cluster onprem-1=onprem.kubeconfig --map-cluster aliyun-hz=onprem-1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m := map[string]string{}
			for _, s := range maps {
				from, to, ok := strings.Cut(s, "=")
				if !ok || from == "" || to == "" {
					return fmt.Errorf("--map-cluster %q: want OLD=NEW, two cluster names", s)
				}
				if prev, dup := m[from]; dup && prev != to {
					return fmt.Errorf("--map-cluster: cluster %q is mapped twice (%s and %s)", from, prev, to)
				}
				m[from] = to
			}
			var added []backup.NewCluster
			for _, a := range adds {
				name, file, ok := strings.Cut(a, "=")
				if !ok || name == "" || file == "" {
					return fmt.Errorf("--add-cluster %q: want NAME=KUBECONFIG", a)
				}
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("--add-cluster %s: %w", name, err)
				}
				added = append(added, backup.NewCluster{Name: name, Kubeconfig: b})
			}
			target, err := backup.TargetFor(dataDir, database)
			if err != nil {
				return err
			}
			ring, from, err := backup.LoadKeyring(dataDir, keyFile, os.LookupEnv)
			if err != nil {
				return fmt.Errorf("master key: %w", err)
			}
			res, err := backup.Restore(cmd.Context(), backup.OpenFile(args[0]), target, backup.RestoreOptions{
				MapCluster: m, AddClusters: added, Keyring: ring, KeySource: from, BlobDir: backup.BlobDir(dataDir),
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored %s into %s: %s\n", args[0], target.Backend(), backup.Describe(res.Header, res.Trailer))
			if res.Header.SchemaVersion < target.SchemaVersion() {
				fmt.Fprintf(out, "brought the schema from version %d up to %d\n", res.Header.SchemaVersion, target.SchemaVersion())
			}
			printKeyHint(out, ring, from, dataDir, keyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory to restore into: its SQLite database and source archives (with --database, only where the master key is looked for)")
	cmd.Flags().StringVar(&database, "database", "", "PostgreSQL database to restore into (postgres://...)")
	cmd.Flags().StringVar(&keyFile, "master-key-file", "", "the master key the backup's secrets are sealed with (default <data-dir>/master.key; $BERTH_MASTER_KEY wins)")
	cmd.Flags().StringArrayVar(&maps, "map-cluster", nil, "OLD=NEW: move references to cluster OLD onto cluster NEW (repeatable)")
	cmd.Flags().StringArrayVar(&adds, "add-cluster", nil, "NAME=KUBECONFIG: register a cluster the backup lacks, to map onto (repeatable)")
	return cmd
}

func printKeyHint(out io.Writer, ring interface{ PrimaryID() string }, from, dataDir, keyFile string) {
	if from == "" {
		return
	}
	switch {
	case keyFile != "" && dataDir != "":
		fmt.Fprintf(out, "start the server with --master-key-file %s (key %s), or copy it to %s/master.key\n", keyFile, ring.PrimaryID(), dataDir)
	case keyFile == "" && !strings.HasSuffix(from, "master.key"):
		fmt.Fprintf(out, "start the server with the same %s (key %s)\n", from, ring.PrimaryID())
	}
}
