package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
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
	var incRef, out string
	export := &cobra.Command{
		Use: "export --incident N --out FILE",
		Short: "Write an incident's evidence (content, metadata, SHA-256, chain of custody) to a signed archive an examiner " +
			"checks offline with `ward proof verify FILE`; each item's copy is a custody entry",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if incRef == "" || out == "" {
				return &exitError{ExitUsage, errors.New("give the incident (--incident INC-…) and the file to write (--out FILE)")}
			}
			return withKeyring(cmd, env, cfg, func(ctx context.Context, d *db.DB, kr *keys.Keyring) error {
				log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
				incs := incident.NewService(d, env.Clock, kr, incident.WithLogger(log))
				s := evidence.New(d, env.Clock, incs, kr, evidence.Options{MaxBytes: cfg.EvidenceMaxBytes, Log: log})
				return writeExport(cliContext(ctx), env, s, incRef, out)
			})
		},
	}
	export.Flags().StringVar(&incRef, "incident", "", "the incident's number")
	export.Flags().StringVar(&out, "out", "", "the archive to write (refused if it exists)")
	r.AddCommand(verify, export)
	return r
}

// writeExport writes incident ref's evidence export to path: into a new
// file beside it, renamed once whole, so that a failed export leaves
// nothing that looks like one.
func writeExport(ctx context.Context, env Env, s *evidence.Service, ref, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return &exitError{ExitUsage, fmt.Errorf("%s exists: give a new file", path)}
	}
	x, err := s.PrepareExport(ctx, ref, false)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ward-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	m, err := x.WriteArchive(f)
	if err := errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("evidence export of %s: %w", ref, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Exported %d evidence items of %s to %s (%d files), signed by key %s.\n", x.Items(), m.IncidentNumber, path,
		len(m.Files), m.KeyID)
	if n := x.LeftOut(); n > 0 {
		fmt.Fprintf(env.Stdout, "Left out %s marked privileged & confidential (attorney work product); "+
			"the archive names each and who holds it. Counsel or the Privacy Officer can export them from Ward.\n",
			labels.Count(n, "evidence item", "evidence items"))
	}
	fmt.Fprintf(env.Stdout, "Check it anywhere with: ward proof verify %s\n", path)
	return nil
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
