package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/backup"
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// masterKeyApart reminds the operator that a backup needs the master key.
const masterKeyApart = "The master key is not in the backup: keep it (or access to the KMS key) apart from the backups; " +
	"reading the restored data needs it (docs/OPERATIONS.md)."

// backupFlags are the scheduled backups' settings for ward serve.
type backupFlags struct {
	Dir     string
	Every   time.Duration
	Keep    int
	KeyFile string
}

// bindBackupServe adds the scheduled-backup flags to ward serve.
func bindBackupServe(fs *pflag.FlagSet, b *backupFlags) {
	b.Every, b.Keep = 24*time.Hour, 14
	fs.StringVar(&b.Dir, "backup-dir", "", "folder for scheduled backups; empty: no scheduled backups (env WARD_BACKUP_DIR)")
	fs.DurationVar(&b.Every, "backup-every", b.Every, "time between scheduled backups, 10s to 720h (env WARD_BACKUP_EVERY)")
	fs.IntVar(&b.Keep, "backup-keep", b.Keep, "how many scheduled backups to keep, 1 to 10000 (env WARD_BACKUP_KEEP)")
	bindBackupKey(fs, &b.KeyFile)
}

func bindBackupKey(fs *pflag.FlagSet, file *string) {
	fs.StringVar(file, "backup-key-file", "",
		"file holding the backup key (ward backup keygen); or set WARD_BACKUP_PASSPHRASE instead (env WARD_BACKUP_KEY_FILE)")
}

// backupKey is the key from --backup-key-file or WARD_BACKUP_PASSPHRASE;
// exactly one must be given.
func backupKey(env Env, file string) (backup.Key, error) {
	pass, _ := env.Getenv("WARD_BACKUP_PASSPHRASE")
	switch {
	case file != "" && pass != "":
		return backup.Key{}, &exitError{ExitUsage, errors.New("backup-key-file: give a backup key file or WARD_BACKUP_PASSPHRASE, not both")}
	case file != "":
		k, err := backup.KeyFromFile(file)
		if err != nil {
			return backup.Key{}, &exitError{ExitUsage, err}
		}
		return k, nil
	case pass != "":
		k, err := backup.KeyFromPassphrase(pass)
		if err != nil {
			return backup.Key{}, &exitError{ExitUsage, err}
		}
		return k, nil
	}
	return backup.Key{}, &exitError{ExitUsage, errors.New("backup-key-file: required (or set WARD_BACKUP_PASSPHRASE); make a key with `ward backup keygen --out FILE`")}
}

// newSchedule checks the scheduled-backup settings and returns the
// schedule, nil when --backup-dir is empty.
func newSchedule(env Env, b *backupFlags, d *db.DB) (*backup.Schedule, error) {
	if b.Dir == "" {
		return nil, nil
	}
	if b.Every < 10*time.Second || b.Every > 720*time.Hour {
		return nil, &exitError{ExitUsage, errors.New("backup-every: must be between 10s and 720h")}
	}
	if b.Keep < 1 || b.Keep > 10000 {
		return nil, &exitError{ExitUsage, fmt.Errorf("backup-keep: must be from 1 to 10000, got %d", b.Keep)}
	}
	if fi, err := os.Stat(b.Dir); err != nil || !fi.IsDir() {
		return nil, &exitError{ExitUsage, fmt.Errorf("backup-dir: %s is not an existing folder", b.Dir)}
	}
	k, err := backupKey(env, b.KeyFile)
	if err != nil {
		return nil, err
	}
	return &backup.Schedule{DB: d, Clock: env.Clock, Dir: b.Dir, Every: b.Every, Keep: b.Keep, Key: k, Version: env.Version,
		Metrics: backup.NewMetrics()}, nil
}

// warnInsideData warns when a backup or its key is kept in the data
// folder, where losing the folder loses it too.
func warnInsideData(env Env, cfg *config.Config, what, path string) {
	data, err1 := filepath.Abs(cfg.DataDir)
	p, err2 := filepath.Abs(path)
	if err1 == nil && err2 == nil && (p == data || strings.HasPrefix(p, data+string(filepath.Separator))) {
		fmt.Fprintf(env.Stderr, "WARNING: the %s is inside the data folder; keep it elsewhere, or losing the folder loses it too\n", what)
	}
}

func backupCmd(env Env, cfg *config.Config) *cobra.Command {
	b := &cobra.Command{Use: "backup", Short: "Make, check and restore encrypted backups (docs/OPERATIONS.md)"}
	var keyFile string
	bindBackupKey(b.PersistentFlags(), &keyFile)

	var keyOut string
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Write a new random backup key to a file (never overwritten); keep it apart from the backups and the master key",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := backup.NewKeyFile(keyOut); err != nil {
				return &exitError{ExitUsage, err}
			}
			warnInsideData(env, cfg, "backup key", keyOut)
			fmt.Fprintf(env.Stdout, "backup key written to %s\n", keyOut)
			return nil
		},
	}
	keygen.Flags().StringVar(&keyOut, "out", "", "the key file to write")
	_ = keygen.MarkFlagRequired("out")

	var out string
	create := &cobra.Command{
		Use:   "create",
		Short: "Write an encrypted, consistent backup of the database while Ward runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			k, err := backupKey(env, keyFile)
			if err != nil {
				return err
			}
			d, err := openMigrated(ctx, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			began := time.Now()
			m, err := backup.CreateFile(ctx, d, out, backup.Options{Key: k, WardVersion: env.Version, Now: env.Clock.Now()})
			if err != nil {
				return err
			}
			if err := backup.Record(cliContext(ctx), d, env.Clock.Now(), backup.ActionCreate, filepath.Base(out), m); err != nil {
				return err
			}
			warnInsideData(env, cfg, "backup", out)
			if keyFile != "" {
				warnInsideData(env, cfg, "backup key", keyFile)
			}
			fmt.Fprintf(env.Stdout, "backup written to %s in %s\n", out, time.Since(began).Round(time.Millisecond))
			printManifest(env, m)
			fmt.Fprintln(env.Stderr, masterKeyApart)
			return nil
		},
	}
	create.Flags().StringVar(&out, "out", "", "the backup file to write; it must not exist")
	_ = create.MarkFlagRequired("out")

	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a backup without restoring it: key, every chunk, every part's hash and the manifest; exit 1 with the reason if it fails",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := backupKey(env, keyFile)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			m, err := backup.Verify(f, k)
			if err != nil {
				fmt.Fprintf(env.Stdout, "backup %s FAILS verification: %v\n", args[0], err)
				return fmt.Errorf("backup fails verification: %w", err)
			}
			fmt.Fprintf(env.Stdout, "backup %s verified\n", args[0])
			printManifest(env, m)
			return nil
		},
	}

	var cps checkpointFlags
	restore := &cobra.Command{
		Use: "restore FILE",
		Short: "Restore a backup into an empty data folder (--data) or empty PostgreSQL database or schema (--db), " +
			"then verify its audit chain against the backup's manifest and the audit checkpoints, and name the published " +
			"checkpoints the backup predates",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return restoreBackup(cmd.Context(), env, cfg, keyFile, args[0], cps)
		},
	}
	f := restore.Flags()
	f.StringVar(&cps.source, "checkpoints", "", "the published audit checkpoints (a JSON Lines file, or an http(s) URL serving "+
		"them) to check the restored trail against and to learn which the backup predates; default: those the restored database holds")
	f.StringSliceVar(&cps.publicKeys, "public-key", nil, "PEM file of a public key to trust checkpoints from (repeatable); "+
		"default: the public half of --audit-signing-key-file")
	f.StringVar(&cps.token, "checkpoints-token", "", "API token sent with a --checkpoints URL (env WARD_CHECKPOINTS_TOKEN)")
	f.StringVar(&cps.caFile, "checkpoints-ca-file", "", "PEM file of extra CAs to trust for a --checkpoints https URL")
	b.AddCommand(keygen, create, verify, restore)
	return b
}

// checkpointFlags name the checkpoints a restore is checked against.
type checkpointFlags struct {
	source, token, caFile string
	publicKeys            []string
}

func restoreBackup(ctx context.Context, env Env, cfg *config.Config, keyFile, file string, cps checkpointFlags) error {
	k, err := backupKey(env, keyFile)
	if err != nil {
		return err
	}
	// Published checkpoints are read first: a bad file stops the restore
	// before it writes anything.
	var pinned []audit.PinnedCheckpoint
	if cps.source != "" {
		if pinned, err = loadCheckpoints(ctx, cps.source, cps.token, cps.caFile); err != nil {
			return &exitError{ExitUsage, fmt.Errorf("checkpoints: %w", err)}
		}
	}
	if err := cfg.Validate(false); err != nil {
		return &exitError{ExitUsage, err}
	}
	if err := cfg.EnsureDataDir(); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	trusted, err := trustedKeys(env, cfg, cps.publicKeys)
	if err != nil {
		if cps.source != "" {
			return err
		}
		fmt.Fprintf(env.Stdout, "audit checkpoints will not be checked: %v\n", message(err))
	}
	began := time.Now()
	rep, err := backup.Restore(cliContext(ctx), f, cfg.DatabaseURL(), backup.RestoreOptions{Key: k, Now: env.Clock.Now,
		Migrate:     func(ctx context.Context, d *db.DB) error { _, err := migrate(ctx, env, d); return err },
		Trusted:     trusted,
		Checkpoints: pinned})
	if err != nil {
		if rep.Checkpoints != nil {
			printCheckpointReport(env.Stdout, *rep.Checkpoints)
		}
		return err
	}
	m := rep.Manifest
	fmt.Fprintf(env.Stdout, "restored backup made %s by Ward %s in %s\n", m.CreatedAt.Format(time.RFC3339), m.WardVersion,
		time.Since(began).Round(time.Millisecond))
	fmt.Fprintf(env.Stdout, "audit trail intact: %d entries, head %s, as the backup's manifest records\n", rep.Audit.Entries, rep.Audit.Head)
	if trusted != nil {
		printRestoredCheckpoints(env, rep, cps.source != "")
	}
	d, err := db.Open(ctx, cfg.DatabaseURL())
	if err != nil {
		return err
	}
	defer d.Close()
	master, where, err := findMaster(ctx, env, cfg, false, nil)
	if err != nil {
		fmt.Fprintf(env.Stdout, "sealed values not checked: %v\n", message(err))
		fmt.Fprintln(env.Stdout, masterKeyApart)
		return nil
	}
	if _, err := keys.Load(ctx, d, master, env.Clock.Now()); err != nil {
		return fmt.Errorf("the data is restored, but the master key given (%s) does not open its keyset: %w", where, err)
	}
	fmt.Fprintf(env.Stdout, "the master key (%s) opens the restored keyset: sealed values are readable\n", where)
	return nil
}

// printRestoredCheckpoints says how the restored trail compares with the
// checkpoints and which of them the backup predates.
func printRestoredCheckpoints(env Env, rep backup.Report, published bool) {
	what := "the checkpoints the restored database holds"
	if published {
		what = "the published checkpoints"
	}
	cr := rep.Checkpoints
	switch {
	case cr == nil:
		fmt.Fprintln(env.Stdout, "no audit checkpoints checked: the restored database holds none; give --checkpoints to check the "+
			"published ones and learn which the backup predates")
	case cr.OK:
		fmt.Fprintf(env.Stdout, "audit trail proved against %d of %s; the newest covers %s\n", cr.Proved, what, cr.Newest.Describe())
	default:
		fmt.Fprintf(env.Stdout, "audit trail matches every one of %s it reaches, but this backup PREDATES %d of them: "+
			"entries %d to %d were written after the backup and are not restored (a rollback)\n",
			what, len(cr.Predates), cr.LastSeq+1, cr.Predates[len(cr.Predates)-1].Seq)
		printCheckpointReport(env.Stdout, *cr)
		if rep.Rollback != nil {
			fmt.Fprintf(env.Stdout, "the rollback is recorded in the trail: %s\n", rep.Rollback.Describe())
		}
	}
}

// printManifest prints what a backup holds.
func printManifest(env Env, m backup.Manifest) {
	fmt.Fprintf(env.Stdout, "  backup id       %s\n  made            %s by Ward %s\n  database        %s, schema version %d\n  audit head      sequence %d, hash %s\n",
		m.BackupID, m.CreatedAt.Format(time.RFC3339), m.WardVersion, m.Dialect, m.SchemaVersion, m.AuditHead.Seq, m.AuditHead.Hash)
	tables := make([]string, 0, len(m.Tables))
	for t := range m.Tables {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		if m.Tables[t] > 0 {
			fmt.Fprintf(env.Stdout, "  %-28s %d rows\n", t, m.Tables[t])
		}
	}
}
