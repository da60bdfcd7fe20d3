package app

import (
	"context"
	"log/slog"

	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// loadKeyring finds the master key and opens the database's keyset. A
// master key made now, in the data folder beside the database it protects,
// is logged as a warning (logger may be nil for commands without a log).
func loadKeyring(ctx context.Context, env Env, cfg *config.Config, d *db.DB, logger *slog.Logger) (*keys.Keyring, error) {
	fromEnv, _ := env.Getenv("WARD_MASTER_KEY")
	master, src, err := keys.MasterKey(fromEnv, cfg.MasterKeyFile, cfg.DataDir)
	if err != nil {
		return nil, &exitError{ExitUsage, err}
	}
	if logger != nil && (src == keys.FromGenerated || src == keys.FromDataDir) {
		logger.Warn("master_key_beside_data",
			"warning", "the master key is in the data folder beside the database it protects; for production keep it apart "+
				"(WARD_MASTER_KEY or --master-key-file) so that a copy of the data folder reveals no PHI",
			"generated_now", src == keys.FromGenerated)
	}
	return keys.Load(ctx, d, master, env.Clock.Now())
}
