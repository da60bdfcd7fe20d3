package app

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/report"
)

func proofCmd(env Env) *cobra.Command {
	p := &cobra.Command{Use: "proof", Short: "Work with breach proof bundles"}
	p.AddCommand(&cobra.Command{
		Use:   "verify FILE",
		Short: "Check a proof bundle offline: its signature and every file's SHA-256; exit 1 and name each problem if it fails",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return &exitError{ExitUsage, err}
			}
			defer f.Close()
			archive, err := io.ReadAll(io.LimitReader(f, report.MaxBundle+1))
			if err != nil {
				return err
			}
			if len(archive) > report.MaxBundle {
				return &exitError{ExitFailure, fmt.Errorf("%s is larger than %d bytes", args[0], report.MaxBundle)}
			}
			v := report.VerifyBundle(archive)
			if !v.Valid {
				fmt.Fprintf(env.Stdout, "proof bundle INVALID: %d problems\n", len(v.Problems))
				for _, p := range v.Problems {
					fmt.Fprintln(env.Stdout, "  "+p)
				}
				return &exitError{ExitFailure, fmt.Errorf("proof bundle %s does not verify", args[0])}
			}
			fmt.Fprintf(env.Stdout, "proof bundle valid: %s, case %s, %d files, generated %s, signed by key %s\n", v.IncidentNumber, v.CaseID,
				v.Files, v.GeneratedAt, v.KeyID)
			fmt.Fprintln(env.Stdout, "compare the key id with GET /api/v1/breach-reports/signing-keys of the Ward that made it")
			return nil
		},
	})
	return p
}
