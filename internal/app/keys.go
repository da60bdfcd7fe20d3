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
	k.AddCommand(rotate)
	return k
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
