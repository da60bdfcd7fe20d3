package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/wardhq/ward/internal/db"
)

// Migrate brings River's own tables (river_job, river_leader, ...) up to
// date; applied migrations are skipped, so running it again is harmless.
// On PostgreSQL they go into the first schema of the connection's
// search_path. Run it through db.DB.Migrate's after hook so that Ward's
// migration lock covers it when several nodes start at once.
func Migrate(ctx context.Context, d *db.DB) error {
	switch d.Dialect {
	case db.SQLite:
		return migrate(ctx, riversqlite.New(d.W))
	case db.Postgres:
		if d.Pool == nil {
			return errNoPool
		}
		return migrate(ctx, riverpgxv5.New(d.Pool))
	}
	return fmt.Errorf("jobs: unsupported dialect %q", d.Dialect)
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("jobs: migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	return nil
}
