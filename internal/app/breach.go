package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// maxListedProblems is how many rejected rows `ward breach import`
// prints; the rest are counted.
const maxListedProblems = 100

func breachCmd(env Env, cfg *config.Config) *cobra.Command {
	b := &cobra.Command{Use: "breach", Short: "Work with breach cases"}
	var ref string
	imp := &cobra.Command{
		Use:   "import --incident INC-2026-0001 FILE",
		Short: "Import a CSV list of affected individuals into an incident's breach case; run again to resume if interrupted",
		Long: "Imports the list as the API does (docs/BREACH.md, \"Affected individuals\"), with a progress bar on stderr.\n" +
			"Each batch of rows commits on its own; if the import is interrupted, run the same command on the same file:\n" +
			"it resumes after the last committed line (the file is recognised by its SHA-256).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ref == "" {
				return &exitError{ExitUsage, errors.New("--incident is required")}
			}
			return withKeyring(cmd, env, cfg, func(ctx context.Context, d *db.DB, kr *keys.Keyring) error {
				return importIndividuals(cliContext(ctx), env, d, kr, ref, args[0])
			})
		},
	}
	imp.Flags().StringVar(&ref, "incident", "", "the incident (number or id) whose breach case the individuals belong to")
	b.AddCommand(imp)
	return b
}

func importIndividuals(ctx context.Context, env Env, d *db.DB, kr *keys.Keyring, ref, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases, err := breach.New(d, env.Clock, incident.NewService(d, env.Clock, kr, incident.WithLogger(quiet)), kr, quiet)
	if err != nil {
		return err
	}
	bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(env.Stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(true), progressbar.OptionOnCompletion(func() { fmt.Fprintln(env.Stderr) }))
	in := progressbar.NewReader(f, bar)
	res, err := cases.ImportIndividualsWith(ctx, ref, &in, breach.ImportOptions{
		SHA256: hex.EncodeToString(h.Sum(nil)),
		Progress: func(rows int) {
			bar.Describe(fmt.Sprintf("importing: %d rows committed", rows))
		},
	})
	_ = bar.Finish()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted: run `ward breach import --incident %s %s` again to resume", ref, path)
	}
	if err != nil {
		return err
	}
	if res.Resumed {
		fmt.Fprintln(env.Stdout, "resumed an interrupted import of this file")
	}
	fmt.Fprintf(env.Stdout, "%d rows read: %d new, %d updated, %d rejected; the case counts %d individuals in %d States and owes %d notices\n",
		res.Lines, res.Created, res.Updated, res.Rejected, res.Counts.Individuals, len(res.Counts.ByState), res.Obligations)
	for i, p := range res.Problems {
		if i == maxListedProblems {
			fmt.Fprintf(env.Stdout, "… and %d more problems (the API's answer lists up to %d)\n", len(res.Problems)-maxListedProblems,
				breach.MaxReportedProblems)
			break
		}
		field := p.Field
		if field == "" {
			field = "-"
		}
		fmt.Fprintf(env.Stdout, "line %d: %s: %s\n", p.Line, field, p.Reason)
	}
	return nil
}
