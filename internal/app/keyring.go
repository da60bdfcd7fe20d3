package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// masterKeyBesideData is the warning for a master key kept in the data
// folder: a copy of the folder then holds the key with the data it protects.
const masterKeyBesideData = "the master key is in the data folder (master.key) beside the database it protects, so a copy " +
	"of the folder reveals the PHI in it; for production keep the key apart from the data: move master.key elsewhere and " +
	"give WARD_MASTER_KEY_FILE, or set WARD_MASTER_KEY (see docs/ENCRYPTION.md)"

// loadKeyring finds the master key and opens the database's keyset,
// creating both on first use. The server warns loudly at every start while
// the master key is kept in the data folder; commands without a log
// (logger nil) warn on stderr when they make it. A KMS-held master key is
// called here, once, to open the keyset; sealing and opening values never
// call it (docs/ENCRYPTION.md).
func loadKeyring(ctx context.Context, env Env, cfg *config.Config, d *db.DB, logger *slog.Logger) (*keys.Keyring, error) {
	exists, err := keys.HasKeyset(ctx, d)
	if err != nil {
		return nil, err
	}
	master, _, err := findMaster(ctx, env, cfg, !exists, logger)
	if err != nil {
		return nil, err
	}
	kr, err := keys.Load(ctx, d, master, env.Clock.Now())
	if errors.Is(err, keys.ErrWrongMasterKey) {
		return nil, &exitError{ExitUsage, err}
	}
	return kr, err
}

// findMaster returns the configured master key and, for the audit trail
// and messages, where it is: the KMS key URI, or where the local key came
// from. generate allows making master.key in the data folder.
func findMaster(ctx context.Context, env Env, cfg *config.Config, generate bool, logger *slog.Logger) (keys.MasterKey, string, error) {
	fromEnv, _ := env.Getenv("WARD_MASTER_KEY")
	if cfg.MasterKeyURI != "" {
		if fromEnv != "" || cfg.MasterKeyFile != "" {
			return nil, "", &exitError{ExitUsage, errors.New("give one master key: --master-key-uri (WARD_MASTER_KEY_URI) is set, " +
				"and so is WARD_MASTER_KEY or --master-key-file (WARD_MASTER_KEY_FILE)")}
		}
		guard, err := cfg.Outbound()
		if err != nil {
			return nil, "", &exitError{ExitUsage, err}
		}
		m, err := keys.KMSMasterKey(ctx, cfg.MasterKeyURI, keys.KMSOptions{Endpoint: cfg.KMSEndpoint, Getenv: env.Getenv, Outbound: guard})
		if err != nil {
			return nil, "", &exitError{ExitUsage, err}
		}
		return m, cfg.MasterKeyURI, nil
	}
	raw, src, err := keys.FindMasterKey(keys.MasterKeySources{
		Env: fromEnv, File: cfg.MasterKeyFile, DataDir: cfg.DataDir, Generate: generate,
	})
	if err != nil {
		return nil, "", &exitError{ExitUsage, err}
	}
	switch {
	case logger != nil && src.BesideData():
		logger.Warn("master_key_beside_data", "warning", masterKeyBesideData, "generated_now", src == keys.FromGenerated)
	case logger == nil && src == keys.FromGenerated:
		fmt.Fprintln(env.Stderr, "WARNING: a new master key was made;", masterKeyBesideData)
	}
	m, err := keys.LocalMasterKey(raw)
	if err != nil {
		return nil, "", err
	}
	return m, localKeyName(src, cfg.MasterKeyFile), nil
}

// localKeyName says where a local master key came from, never the key.
func localKeyName(src keys.Source, file string) string {
	switch src {
	case keys.FromEnv:
		return "local key from WARD_MASTER_KEY"
	case keys.FromFile:
		return "local key file " + file
	default:
		return "local key file master.key in the data folder"
	}
}

// withKeyring opens the migrated database and its keyring for a command,
// closes the database afterwards, and runs fn.
func withKeyring(cmd *cobra.Command, env Env, cfg *config.Config, fn func(ctx context.Context, d *db.DB, kr *keys.Keyring) error) error {
	ctx := cmd.Context()
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	kr, err := loadKeyring(ctx, env, cfg, d, nil)
	if err != nil {
		return err
	}
	return fn(ctx, d, kr)
}
