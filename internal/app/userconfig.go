package app

import (
	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/user"
)

// userOptions are the account settings: the configured idle logoff, the
// defaults of package user for the rest (12-hour sessions), TOTP secrets
// sealed by the keyring, and the public URL that security keys are bound
// to ("" where no server listens: the CLI).
func userOptions(cfg *config.Config, secrets user.Sealer, publicURL string) user.Options {
	return user.Options{IdleTimeout: cfg.IdleTimeout, Secrets: secrets, PublicURL: publicURL}
}
