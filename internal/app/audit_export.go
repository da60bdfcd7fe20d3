package app

import (
	"bufio"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/config"
)

// auditExportCmd is `ward audit export`: the trail, or the part the flags
// select, with its chain proof, read from the database directly.
func auditExportCmd(env Env, cfg *config.Config) *cobra.Command {
	var q audit.Query
	var format, from, to string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the audit trail with its chain proof as JSON Lines or CSV to standard output (ward audit export --format csv > trail.csv)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if q.From, err = audit.ParseTime("from", from); err != nil {
				return &exitError{ExitUsage, err}
			}
			if q.To, err = audit.ParseTime("to", to); err != nil {
				return &exitError{ExitUsage, err}
			}
			ctx := cliContext(cmd.Context())
			d, err := openMigrated(ctx, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			x, err := audit.NewReader(d, env.Clock).ExportLocal(ctx, q, format)
			if err != nil {
				if e, ok := apperr.As(err); ok && e.Code == apperr.Invalid {
					return &exitError{ExitUsage, err}
				}
				return err
			}
			out := bufio.NewWriterSize(env.Stdout, 256<<10)
			if err := x.WriteTo(ctx, out, nil); err != nil {
				return err
			}
			return out.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", audit.FormatJSONL, "jsonl or csv")
	f.StringVar(&from, "from", "", "only entries at or after this time (RFC 3339, or a date: midnight UTC)")
	f.StringVar(&to, "to", "", "only entries before this time (RFC 3339, or a date: midnight UTC)")
	f.StringVar(&q.Actor, "actor", "", "only this actor, e.g. user:alice or token:siem")
	f.StringVar(&q.Action, "action", "", "only this action (incident.create), or actions with this prefix (incident.)")
	f.StringVar(&q.ObjectType, "object-type", "", "only objects of this type, e.g. incident")
	f.StringVar(&q.ObjectID, "object-id", "", "only this object (with --object-type)")
	f.StringVar(&q.Incident, "incident", "", "only the entries about this incident number")
	return cmd
}
