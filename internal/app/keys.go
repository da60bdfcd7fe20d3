package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

func keysCmd(env Env, cfg *config.Config) *cobra.Command {
	k := &cobra.Command{Use: "keys", Short: "Manage the keys that encrypt PHI at rest"}
	var batch int
	var settle time.Duration
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new primary data key and re-encrypt every sealed value under it; run again to resume if interrupted",
		Long: "Adds a new primary key to the keyset (the old keys stay, to open backups and anything not yet re-encrypted),\n" +
			"then re-encrypts every sealed column in batches, each committed on its own, with progress on stderr.\n" +
			"Running Ward servers keep serving and adopt the new key within " + keys.RefreshInterval.String() + ".\n" +
			"If interrupted, run it again: it resumes the same rotation and skips values already under the new key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeyring(cmd, env, cfg, func(ctx context.Context, _ *db.DB, kr *keys.Keyring) error {
				show := newProgress(env.Stderr)
				res, err := kr.Rotate(cliContext(ctx), keys.RotateOptions{
					Now: env.Clock.Now, Settle: settle, BatchSize: batch,
					Started: func(r keys.Rotation) {
						verb := "rotating"
						if r.Resumed {
							verb = "resuming the rotation started " + r.StartedAt.Format(time.RFC3339)
						}
						fmt.Fprintf(env.Stderr, "%s: key %d is the new primary key\n", verb, r.KeyID)
						if wait := r.StartedAt.Add(settle).Sub(env.Clock.Now()); wait > 0 {
							fmt.Fprintf(env.Stderr, "waiting %s for running Ward servers to start using it (--settle 0 if none runs)\n",
								wait.Round(time.Second))
						}
					},
					Progress: show.update,
				})
				if errors.Is(err, context.Canceled) {
					return errors.New("interrupted: run `ward keys rotate` again to finish this rotation")
				}
				if err != nil {
					return err
				}
				var parts []string
				for _, c := range keys.Columns() {
					parts = append(parts, fmt.Sprintf("%d in %s", res.Reencrypted[c.String()], c))
				}
				fmt.Fprintf(env.Stdout, "key %d is primary; re-encrypted %s\n", res.KeyID, strings.Join(parts, ", "))
				return nil
			})
		},
	}
	rotate.Flags().IntVar(&batch, "batch-size", 500, "values re-encrypted per transaction")
	rotate.Flags().DurationVar(&settle, "settle", 2*keys.RefreshInterval,
		"wait this long after adding the key before re-encrypting, so running servers seal with it by then")
	k.AddCommand(rotate, changeMasterCmd(env, cfg))
	return k
}

// changeMasterCmd re-encrypts the keyset under a new master key.
func changeMasterCmd(env Env, cfg *config.Config) *cobra.Command {
	var newURI, newFile, newEndpoint string
	c := &cobra.Command{
		Use:   "change-master",
		Short: "Re-encrypt the stored keyset under a new master key (a key file, or a KMS key URI)",
		Long: "Opens the keyset with the current master key (given as for `ward serve`), encrypts it with the new one\n" +
			"(--new-master-key-uri, --new-master-key-file, or WARD_NEW_MASTER_KEY), checks that the new one opens it,\n" +
			"and stores it in one transaction with an audit entry. No sealed value changes. From then on start Ward\n" +
			"with the new master key only; restart running servers with it. The old master key still opens backups\n" +
			"taken before the change: keep it as long as those backups. See docs/ENCRYPTION.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			next, to, err := newMaster(cmd.Context(), env, cfg, newURI, newFile, newEndpoint)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d, err := openMigrated(ctx, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			exists, err := keys.HasKeyset(ctx, d)
			if err != nil {
				return err
			}
			if !exists {
				return &exitError{ExitUsage, errors.New("this database has no keyset yet: start Ward with the new master key instead")}
			}
			cur, from, err := findMaster(ctx, env, cfg, false, nil)
			if err != nil {
				return err
			}
			if from == to {
				return &exitError{ExitUsage, fmt.Errorf("the new master key is the one in use (%s)", to)}
			}
			kr, err := keys.Load(ctx, d, cur, env.Clock.Now())
			if errors.Is(err, keys.ErrWrongMasterKey) {
				return &exitError{ExitUsage, fmt.Errorf("the current master key: %w", err)}
			}
			if err != nil {
				return err
			}
			if err := kr.ChangeMaster(cliContext(ctx), next, keys.MasterKeyChange{From: from, To: to}, env.Clock.Now()); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "the keyset is now encrypted by %s (it was %s); no sealed value changed\n", to, from)
			fmt.Fprintf(env.Stdout, "start Ward with %s only, and restart running servers with it now\n", startWith(newURI, newFile))
			fmt.Fprintf(env.Stdout, "the old master key no longer opens this database, but opens backups taken before now: "+
				"keep it as long as those backups\n")
			return nil
		},
	}
	c.Flags().StringVar(&newURI, "new-master-key-uri", "",
		"the new master key held in a KMS: aws-kms://…, gcp-kms://…, hcvault://… (env WARD_NEW_MASTER_KEY_URI)")
	c.Flags().StringVar(&newFile, "new-master-key-file", "",
		"file holding the new master key, the base64 of 32 random bytes (env WARD_NEW_MASTER_KEY_FILE)")
	c.Flags().StringVar(&newEndpoint, "new-kms-endpoint", "",
		"endpoint of the new master key's KMS, as --kms-endpoint (env WARD_NEW_KMS_ENDPOINT)")
	return c
}

// newMaster returns the master key change-master moves to: exactly one of
// a KMS key URI, a key file, or WARD_NEW_MASTER_KEY.
func newMaster(ctx context.Context, env Env, cfg *config.Config, uri, file, endpoint string) (keys.MasterKey, string, error) {
	fromEnv, _ := env.Getenv("WARD_NEW_MASTER_KEY")
	given := 0
	for _, s := range []string{uri, file, fromEnv} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return nil, "", &exitError{ExitUsage, errors.New("give the new master key once: --new-master-key-uri, " +
			"--new-master-key-file, or WARD_NEW_MASTER_KEY")}
	}
	if uri != "" {
		guard, err := cfg.Outbound()
		if err != nil {
			return nil, "", &exitError{ExitUsage, err}
		}
		m, err := keys.KMSMasterKey(ctx, uri, keys.KMSOptions{Endpoint: endpoint, Getenv: env.Getenv, Outbound: guard})
		if err != nil {
			return nil, "", &exitError{ExitUsage, fmt.Errorf("new master key: %w", err)}
		}
		return m, uri, nil
	}
	raw, src, err := keys.FindMasterKey(keys.MasterKeySources{Env: fromEnv, File: file})
	if err != nil {
		return nil, "", &exitError{ExitUsage, fmt.Errorf("new master key: %w", err)}
	}
	m, err := keys.LocalMasterKey(raw)
	if err != nil {
		return nil, "", err
	}
	if src == keys.FromEnv {
		return m, "local key from WARD_NEW_MASTER_KEY", nil
	}
	return m, localKeyName(src, file), nil
}

// startWith says how to give Ward the new master key.
func startWith(uri, file string) string {
	switch {
	case uri != "":
		return "WARD_MASTER_KEY_URI=" + uri
	case file != "":
		return "WARD_MASTER_KEY_FILE=" + file
	}
	return "the new key in WARD_MASTER_KEY"
}

// progress shows re-encryption progress: one line redrawn in place on a
// terminal, else a line at most every second and at each column's end.
type progress struct {
	w        io.Writer
	terminal bool
	last     time.Time
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, terminal: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) update(pr keys.Progress) {
	done := pr.Done >= pr.Total
	line := fmt.Sprintf("%s: %d/%d checked, %d re-encrypted", pr.Column, pr.Done, pr.Total, pr.Reencrypted)
	switch {
	case p.terminal && done:
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	case p.terminal:
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	case done || time.Since(p.last) >= time.Second:
		fmt.Fprintln(p.w, line)
		p.last = time.Now()
	}
}
