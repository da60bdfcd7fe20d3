package app

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/buildinfo"
	"github.com/wardhq/ward/internal/config"
)

func migrateCmd(env Env, cfg *config.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to this version of Ward",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := openDB(ctx, cfg, false)
			if err != nil {
				return err
			}
			defer d.Close()
			n, err := migrate(ctx, env, d)
			if err != nil {
				return err
			}
			v, err := d.SchemaVersion(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "applied %d migrations; schema is at version %d\n", n, v)
			return nil
		},
	}
}

func versionCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Ward's version, the commit it was built from and that commit's date, and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(env.Stdout, buildinfo.Read(env.Version))
			return nil
		},
	}
}

func tokenCmd(env Env, cfg *config.Config) *cobra.Command {
	tok := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var name, role string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it once; only its hash is stored",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := openMigrated(ctx, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			_, secret, err := apitoken.NewService(d, env.Clock).Create(cliContext(ctx), name, authz.Role(role))
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, secret)
			fmt.Fprintf(env.Stderr, "token %q created with role %s; it is shown only this once\n", name, role)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a unique name for the token, e.g. the tool that uses it")
	create.Flags().StringVar(&role, "role", string(authz.RoleAdmin), "the token's role")
	_ = create.MarkFlagRequired("name")
	tok.AddCommand(create)
	return tok
}

func auditCmd(env Env, cfg *config.Config) *cobra.Command {
	a := &cobra.Command{Use: "audit", Short: "Work with the audit trail"}
	a.AddCommand(auditVerifyCmd(env, cfg))
	a.AddCommand(auditExportCmd(env, cfg))
	return a
}
