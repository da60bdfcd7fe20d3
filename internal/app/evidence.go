package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

func evidenceCmd(env Env, cfg *config.Config) *cobra.Command {
	r := &cobra.Command{Use: "evidence", Short: "Check the evidence vault"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Decrypt and re-hash every evidence item, record when each was verified, and exit 1 if any fails",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withKeyring(cmd, env, cfg, func(ctx context.Context, d *db.DB, kr *keys.Keyring) error {
				log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
				incs := incident.NewService(d, env.Clock, kr, incident.WithLogger(log))
				s := evidence.New(d, env.Clock, incs, kr, evidence.Options{MaxBytes: cfg.EvidenceMaxBytes, Log: log})
				rep, err := s.VerifyAll(cliContext(ctx))
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Checked %d evidence items.\n", rep.Checked)
				for _, it := range rep.Failed {
					fmt.Fprintf(env.Stdout, "FAILED: item %s of incident %s: its stored content was altered or damaged\n", it.ID,
						incidentNumber(ctx, d, it.IncidentID))
				}
				if len(rep.Failed) > 0 {
					return fmt.Errorf("%d evidence items failed their integrity check", len(rep.Failed))
				}
				return nil
			})
		},
	}
	r.AddCommand(verify)
	return r
}

// incidentNumber is the number of incident id, or its id if it cannot be
// read.
func incidentNumber(ctx context.Context, d *db.DB, id string) string {
	var n string
	if err := d.R.QueryRowContext(ctx, `SELECT number FROM incidents WHERE id = $1`, id).Scan(&n); err != nil {
		return id
	}
	return n
}
