// Command ward is the Ward server and its operator tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wardhq/ward/internal/app"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, app.OSEnv(version))
	stop()
	os.Exit(code)
}
