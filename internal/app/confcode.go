package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/confcode"
	"github.com/wardhq/ward/internal/config"
)

// withConfCode opens the database and runs fn with the configuration-as-code
// service, as the operator at the command line.
func withConfCode(cmd *cobra.Command, env Env, cfg *config.Config, fn func(ctx context.Context, c *confcode.Config) error) error {
	ctx := cmd.Context()
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(cliContext(ctx), confcode.New(d, env.Clock))
}

// readConfigDir reads every .yaml and .yml file of dir.
func readConfigDir(dir string) (*confcode.Source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if files[p], err = os.ReadFile(p); err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml files", dir)
	}
	return confcode.Parse(files)
}

func printChanges(env Env, changes []confcode.Change, verb string) {
	for _, ch := range changes {
		fmt.Fprintln(env.Stdout, ch.String())
	}
	if len(changes) == 0 {
		fmt.Fprintln(env.Stdout, "no changes: Ward already runs this configuration")
		return
	}
	fmt.Fprintf(env.Stdout, "%d changes %s\n", len(changes), verb)
}

func configCmd(env Env, cfg *config.Config) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Configuration as code: export, plan and apply services, escalation policies, schedules, SLA policies, stakeholder groups and alert rules as YAML"}

	var out string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the configuration as YAML files, one per kind, into -o DIR (standard output: one bundle); never keys or secrets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConfCode(cmd, env, cfg, func(ctx context.Context, c *confcode.Config) error {
				b, err := c.Export(ctx)
				if err != nil {
					return err
				}
				if out == "" {
					y, err := b.YAML()
					if err != nil {
						return err
					}
					_, err = env.Stdout.Write(y)
					return err
				}
				files, err := b.Files()
				if err != nil {
					return err
				}
				if err := os.MkdirAll(out, 0o700); err != nil {
					return err
				}
				names := make([]string, 0, len(files))
				for name := range files {
					names = append(names, name)
				}
				sort.Strings(names)
				for _, name := range names {
					if err := os.WriteFile(filepath.Join(out, name), files[name], 0o600); err != nil {
						return err
					}
					fmt.Fprintf(env.Stderr, "wrote %s\n", filepath.Join(out, name))
				}
				return nil
			})
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "", "directory to write services.yaml, escalation_policies.yaml, schedules.yaml, sla_policies.yaml, stakeholder_groups.yaml and alert_rules.yaml into")

	var dir string
	var prune bool
	run := func(use, short string, doApply bool) *cobra.Command {
		cmd := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				src, err := readConfigDir(dir)
				if err != nil {
					return err
				}
				return withConfCode(cmd, env, cfg, func(ctx context.Context, c *confcode.Config) error {
					if !doApply {
						changes, err := c.Plan(ctx, src, prune)
						if err != nil {
							return err
						}
						printChanges(env, changes, "planned; `ward config apply` makes them")
						return nil
					}
					changes, err := c.Apply(ctx, src, prune)
					if err != nil {
						return err
					}
					printChanges(env, changes, "applied in one transaction")
					return nil
				})
			},
		}
		cmd.Flags().StringVarP(&dir, "file", "f", "", "directory of configuration files")
		cmd.Flags().BoolVar(&prune, "prune", false, "also delete what the files no longer name")
		_ = cmd.MarkFlagRequired("file")
		return cmd
	}
	c.AddCommand(export,
		run("plan", "Show what applying the files would change (create, update field old → new, delete with --prune); changes nothing", false),
		run("apply", "Apply the files in one audited transaction; nothing is applied if anything is refused", true))
	return c
}
