// Package app is Ward's composition root: it reads the configuration, opens
// the database, builds the services and runs the command asked for. The
// ward binary and the end-to-end tests both enter through Main.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/buildinfo"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
)

// Env is everything Main takes from the process, so tests can supply their own.
type Env struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) (string, bool)
	Clock  clock.Clock
	// Version is the release version (buildinfo.Info.Version).
	Version string
	// Ready, if set, is called with the server's base URL once it listens.
	Ready func(url string)
}

// OSEnv returns the Env of this process; linked is the version set at link
// time ("dev" when none was), completed from the build information.
func OSEnv(linked string) Env {
	return Env{
		Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.LookupEnv,
		Clock: clock.Real{}, Version: buildinfo.Read(linked).Version,
	}
}

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// exitError carries an exit code other than ExitFailure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the ward command line and returns the process exit code.
func Main(ctx context.Context, env Env) int {
	if env.Clock == nil {
		env.Clock = clock.Real{}
	}
	if env.Getenv == nil {
		env.Getenv = func(string) (string, bool) { return "", false }
	}
	root := newRoot(env)
	root.SetArgs(env.Args)
	if env.Stdin != nil {
		root.SetIn(env.Stdin)
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(env.Stderr, "ward:", message(err))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitFailure
}

// message is the error as an operator should read it.
func message(err error) string {
	if e, ok := apperr.As(err); ok && e.Code != apperr.Internal {
		return e.Message
	}
	return err.Error()
}

func newRoot(env Env) *cobra.Command {
	cfg := config.Default()
	root := &cobra.Command{
		Use:           "ward",
		Short:         "Ward: HIPAA security incident response and breach notification",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.ApplyEnv(cmd.Flags(), env.Getenv); err != nil {
				return &exitError{ExitUsage, err}
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{ExitUsage, err} })
	config.BindStorage(root.PersistentFlags(), &cfg)
	root.AddCommand(
		serveCmd(env, &cfg),
		migrateCmd(env, &cfg),
		versionCmd(env),
		healthcheckCmd(env, &cfg),
		tokenCmd(env, &cfg),
		auditCmd(env, &cfg),
		configCmd(env, &cfg),
		userCmd(env, &cfg),
		keysCmd(env, &cfg),
		proofCmd(env),
		breachCmd(env, &cfg),
		backupCmd(env, &cfg),
		retentionCmd(env, &cfg),
		evidenceCmd(env, &cfg),
	)
	return root
}

// newLogger returns the JSON logger on stderr at the configured level.
func newLogger(env Env, cfg *config.Config) (*slog.Logger, error) {
	level, err := cfg.Level()
	if err != nil {
		return nil, err
	}
	return slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level})), nil
}

// openDB validates the storage settings, makes the data folder and opens
// the database.
func openDB(ctx context.Context, cfg *config.Config, serve bool) (*db.DB, error) {
	if err := cfg.Validate(serve); err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	if err := cfg.EnsureDataDir(); err != nil {
		return nil, err
	}
	return db.OpenWith(ctx, cfg.DatabaseURL(), db.Options{MaxConns: cfg.DBMaxConns, MinConns: cfg.DBMinConns,
		StatementTimeout: cfg.DBStatementTimeout})
}

// openMigrated opens the database and checks that its schema is the one
// this Ward knows, for commands that do not migrate.
func openMigrated(ctx context.Context, cfg *config.Config) (*db.DB, error) {
	d, err := openDB(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	if err := d.CheckSchema(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// cliContext marks ctx as the operator at the command line acting, with
// the admin role: whoever runs ward against the database holds it anyway.
func cliContext(ctx context.Context) context.Context {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	ctx = authz.WithActor(ctx, authz.Actor{Kind: authz.KindCLI, ID: name, Name: name, Role: authz.RoleAdmin})
	host, _ := os.Hostname()
	return authz.WithRequest(ctx, authz.Request{ID: "cli", SourceIP: "local:" + host})
}
