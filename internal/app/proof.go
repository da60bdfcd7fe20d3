package app

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/report"
)

func proofCmd(env Env) *cobra.Command {
	p := &cobra.Command{Use: "proof", Short: "Work with breach proof bundles and evidence exports"}
	p.AddCommand(&cobra.Command{
		Use: "verify FILE",
		Short: "Check a proof bundle or an evidence export offline: its signature and every file's SHA-256; exit 1 and name " +
			"each problem if it fails",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return &exitError{ExitUsage, err}
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			v := report.VerifyArchive(f, st.Size())
			what := "proof bundle"
			if v.Format == report.ExportFormat {
				what = "evidence export"
			}
			if !v.Valid {
				fmt.Fprintf(env.Stdout, "%s INVALID: %d problems\n", what, len(v.Problems))
				for _, p := range v.Problems {
					fmt.Fprintln(env.Stdout, "  "+p)
				}
				return &exitError{ExitFailure, fmt.Errorf("%s %s does not verify", what, args[0])}
			}
			if v.Format == report.ExportFormat {
				fmt.Fprintf(env.Stdout, "evidence export valid: %s, %d files, generated %s, signed by key %s\n", v.IncidentNumber,
					v.Files, v.GeneratedAt, v.KeyID)
			} else {
				fmt.Fprintf(env.Stdout, "proof bundle valid: %s, case %s, %d files, generated %s, signed by key %s\n", v.IncidentNumber,
					v.CaseID, v.Files, v.GeneratedAt, v.KeyID)
			}
			fmt.Fprintln(env.Stdout, "compare the key id with GET /api/v1/breach-reports/signing-keys of the Ward that made it")
			return nil
		},
	})
	return p
}
