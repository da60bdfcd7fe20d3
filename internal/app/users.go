package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/user"
)

// withUsers opens the database and the keyring and runs fn with the user service.
func withUsers(cmd *cobra.Command, env Env, cfg *config.Config, fn func(ctx context.Context, users *user.Service) error) error {
	return withKeyring(cmd, env, cfg, func(ctx context.Context, d *db.DB, kr *keys.Keyring) error {
		return fn(cliContext(ctx), user.NewService(d, env.Clock, userOptions(cfg, kr, "")))
	})
}

func userCmd(env Env, cfg *config.Config) *cobra.Command {
	u := &cobra.Command{Use: "user", Short: "Manage user accounts"}

	var nu user.NewUser
	var role string
	var passwordStdin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user; the password is read from the terminal or, with --password-stdin, from standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(cmd.InOrStdin(), env.Stderr, passwordStdin)
			if err != nil {
				return err
			}
			nu.Password, nu.Role = pw, authz.Role(role)
			return withUsers(cmd, env, cfg, func(ctx context.Context, users *user.Service) error {
				created, err := users.Create(ctx, nu)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "created user %s (%s) with role %s\n", created.Username, created.ID, created.Role)
				return nil
			})
		},
	}
	create.Flags().StringVar(&nu.Username, "username", "", "login name: 3 to 64 lower-case letters, digits, . _ -")
	create.Flags().StringVar(&nu.DisplayName, "name", "", "full name")
	create.Flags().StringVar(&nu.Email, "email", "", "email address")
	create.Flags().StringVar(&role, "role", string(authz.RoleResponder), "role: "+authz.RoleNames())
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	_ = create.MarkFlagRequired("username")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withUsers(cmd, env, cfg, func(ctx context.Context, users *user.Service) error {
				all, err := users.List(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USERNAME\tROLE\tMFA\tSTATUS\tNAME")
				for _, x := range all {
					status := "active"
					if x.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", x.Username, x.Role, x.MFAEnabled, status, x.DisplayName)
				}
				return tw.Flush()
			})
		},
	}

	action := func(use, short string, do func(*user.Service, context.Context, string) (user.User, error), done string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " USERNAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withUsers(cmd, env, cfg, func(ctx context.Context, users *user.Service) error {
					x, err := do(users, ctx, args[0])
					if err != nil {
						return err
					}
					fmt.Fprintf(env.Stdout, "%s %s\n", done, x.Username)
					return nil
				})
			},
		}
	}

	setup := &cobra.Command{
		Use:   "setup-link",
		Short: "Print a new one-time link to create the first administrator (only while there is no user)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withUsers(cmd, env, cfg, func(ctx context.Context, users *user.Service) error {
				link, err := setupLink(ctx, users, "https://"+cfg.Listen)
				if err != nil {
					return err
				}
				if link == "" {
					return errors.New("ward already has users: sign in, or use `ward user create`")
				}
				fmt.Fprintln(env.Stdout, link)
				return nil
			})
		},
	}

	u.AddCommand(create, list, setup,
		action("disable", "Disable a user and end their sessions", (*user.Service).Disable, "disabled"),
		action("enable", "Enable a disabled user", (*user.Service).Enable, "enabled"),
		action("reset-mfa", "Remove a user's two-factor devices and recovery codes and end their sessions",
			(*user.Service).ResetMFA, "two-factor reset for"),
	)
	return u
}

// setupLink returns a fresh first-administrator link while no user exists, "" otherwise.
func setupLink(ctx context.Context, users *user.Service, base string) (string, error) {
	needed, err := users.SetupNeeded(ctx)
	if err != nil || !needed {
		return "", err
	}
	token, err := users.CreateSetupToken(ctx)
	if err != nil {
		return "", err
	}
	return base + "/setup?token=" + token, nil
}

// readPassword reads a password: from the first line of in with
// --password-stdin, else from the terminal without echo. It is never taken
// from a flag, which would leave it in the shell history and process list.
func readPassword(in io.Reader, prompt io.Writer, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("password: give --password-stdin and pipe it in, or run from a terminal")
	}
	fmt.Fprint(prompt, "Password (at least 12 characters): ")
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	return string(pw), nil
}
