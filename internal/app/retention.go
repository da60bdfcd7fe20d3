package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/retention"
)

func retentionCmd(env Env, cfg *config.Config) *cobra.Command {
	r := &cobra.Command{Use: "retention", Short: "Show or set how long records are kept, and purge what is past retention"}
	with := func(cmd *cobra.Command, fn func(ctx context.Context, s *retention.Service) error) error {
		return withKeyring(cmd, env, cfg, func(ctx context.Context, d *db.DB, kr *keys.Keyring) error {
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			incs := incident.NewService(d, env.Clock, kr, incident.WithLogger(log))
			return fn(cliContext(ctx), retention.New(d, env.Clock, incs, kr, log))
		})
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the retention policy in force",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return with(cmd, func(ctx context.Context, s *retention.Service) error {
				set, err := s.Settings(ctx)
				if err != nil {
					return err
				}
				printPolicy(env.Stdout, set)
				return nil
			})
		},
	}
	set := &cobra.Command{
		Use:   "set [--incidents-years N] [--breach-cases-years N] [--alerts-years N] [--messages-years N] [--sessions-years N] [--individuals-phi-days N]",
		Short: "Change the retention policy (periods in years never below the legal minimum of 6)",
		Args:  cobra.NoArgs,
	}
	vals := map[string]*int{}
	for _, ti := range retention.Types {
		flag := flagName(ti.Field)
		vals[flag] = set.Flags().Int(flag, 0, ti.Label+": "+ti.What)
	}
	set.RunE = func(cmd *cobra.Command, _ []string) error {
		return with(cmd, func(ctx context.Context, s *retention.Service) error {
			cur, err := s.Settings(ctx)
			if err != nil {
				return err
			}
			p := cur.Policy
			fields := map[string]*int{
				"incidents_years": &p.IncidentsYears, "breach_cases_years": &p.BreachCasesYears, "alerts_years": &p.AlertsYears,
				"messages_years": &p.MessagesYears, "sessions_years": &p.SessionsYears, "individuals_phi_days": &p.IndividualsPHIDays,
			}
			changed := false
			for _, ti := range retention.Types {
				if f := flagName(ti.Field); cmd.Flags().Changed(f) {
					*fields[ti.Field], changed = *vals[f], true
				}
			}
			if !changed {
				return &exitError{ExitUsage, errors.New("give at least one period to change, e.g. --incidents-years 7")}
			}
			saved, err := s.SetPolicy(ctx, p)
			if err != nil {
				return err
			}
			printPolicy(env.Stdout, saved)
			return nil
		})
	}
	var dryRun bool
	purge := &cobra.Command{
		Use:   "purge [--dry-run]",
		Short: "Remove every record past retention and not on legal hold (audited); refused while the audit chain is broken",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return with(cmd, func(ctx context.Context, s *retention.Service) error {
				rep, err := s.Purge(ctx, dryRun)
				if err != nil {
					return err
				}
				printReport(env.Stdout, rep)
				if !rep.ChainOK {
					return errors.New(rep.ChainProblem + "; a purge would be refused")
				}
				return nil
			})
		},
	}
	purge.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be purged and change nothing")
	r.AddCommand(show, set, purge)
	return r
}

// flagName turns a policy field (incidents_years) into its flag
// (incidents-years).
func flagName(field string) string {
	b := []byte(field)
	for i := range b {
		if b[i] == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

func printPolicy(w io.Writer, set retention.Settings) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ti := range retention.Types {
		fmt.Fprintf(tw, "%s\t%s\n", ti.Label, periodText(set.Policy, ti.Type))
	}
	tw.Flush()
	if set.UpdatedAt == nil {
		fmt.Fprintf(w, "These are the defaults: %d years from when a record was last in effect (%s).\n", retention.LegalMinimumYears, retention.Citation)
		return
	}
	fmt.Fprintf(w, "Set by %s on %s. The legal minimum is %d years (%s).\n", set.UpdatedBy, set.UpdatedAt.Format("2006-01-02 15:04 MST"),
		retention.LegalMinimumYears, retention.Citation)
}

// periodText says a record type's period for people.
func periodText(p retention.Policy, t retention.RecordType) string {
	if t == retention.IndividualsPHI {
		if p.IndividualsPHIDays == 0 {
			return "off (kept with their breach case)"
		}
		return fmt.Sprintf("%d days after the case is closed and every notice done", p.IndividualsPHIDays)
	}
	return fmt.Sprintf("%d years after last in effect", p.Years(t))
}

func printReport(w io.Writer, rep retention.Report) {
	verb := "Purged"
	if rep.DryRun {
		verb = "Would purge"
	}
	counts := rep.Counts()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ti := range retention.Types {
		fmt.Fprintf(tw, "%s\t%s %d\n", ti.Label, verb, counts[ti.Type])
	}
	tw.Flush()
	for _, it := range rep.Purged {
		if it.Label != "" {
			fmt.Fprintf(w, "  %s: %s\n", it.Type, it.Label)
		}
	}
	for _, it := range rep.Held {
		fmt.Fprintf(w, "Kept by a legal hold: %s %s\n", it.Type, it.Label)
	}
	if rep.RunID != "" {
		fmt.Fprintf(w, "Recorded in the audit trail as run %s.\n", rep.RunID)
	}
}
