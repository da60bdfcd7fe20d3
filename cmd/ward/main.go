// Command ward is the Ward server and its operator tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wardhq/ward/internal/app"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"
// (scripts/release.sh); without it, ward version reports the module
// version that go install records, or "dev".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, app.OSEnv(version))
	stop()
	os.Exit(code)
}
