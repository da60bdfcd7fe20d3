package app

import (
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/user"
)

// userOptions are the account settings: the configured idle logoff, the
// defaults of package user for the rest (12-hour sessions), and TOTP
// secrets sealed by the keyring.
func userOptions(cfg *config.Config, secrets user.Sealer) user.Options {
	return user.Options{IdleTimeout: cfg.IdleTimeout, Secrets: secrets}
}
