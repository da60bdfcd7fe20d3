package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// upgradeFrom is the schema the benchmark's database starts at: that of the
// oldest kept upgrade fixture (test/upgrade/testdata/schema-0018), before
// the migrations that rewrite the incidents and alerts tables (0021 drops
// incidents.search and rebuilds incidents_created, 0026 backfills
// incidents.sla_check_at, 0028 drops alerts.group_key, rebuilds alerts_open
// and copies alert_groups) and before start-up sealed the titles, alert
// fields and keys that those migrations left in clear.
const upgradeFrom = 18

// benchUpgradeRows is WARD_BENCH_UPGRADE_ROWS, 1,000,000 by default: how
// many incidents, and as many alerts, the database holds.
func benchUpgradeRows(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("WARD_BENCH_UPGRADE_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			b.Fatalf("WARD_BENCH_UPGRADE_ROWS=%q: want a number of at least 100", v)
		}
	}
	return n
}

// BenchmarkUpgrade1M measures the downtime of upgrading a large database:
// a database at migration 0018 holding WARD_BENCH_UPGRADE_ROWS (1,000,000)
// incidents, as many alerts (one each, every field as a Ward of that
// schema wrote it, in clear) and a tenth as many alert groups is migrated
// to this Ward's schema, then sealed as `ward serve` does before it
// serves (sealPlaintext: incident titles sealed and indexed, alert fields
// sealed and their dedup and group keys hashed, then every other column
// sealed since). It reports the seconds of each migration that rewrites a
// table (s/0021 and so on), of all migrations (s/migrate), and of the
// sealing (s/seal). On every configured database (dbtest.Targets). Run it
// alone; it takes minutes:
//
//	WARD_TEST_POSTGRES_URL=... go test ./internal/app -run '^$' -bench Upgrade1M -benchtime 1x -timeout 60m
func BenchmarkUpgrade1M(b *testing.B) {
	n := benchUpgradeRows(b)
	for _, target := range dbtest.Targets(b) {
		b.Run(string(target.Dialect), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				benchUpgrade(b, target, n)
				b.StartTimer()
			}
		})
	}
}

func benchUpgrade(b *testing.B, target dbtest.Target, n int) {
	ctx := context.Background()
	// A database of its own per run (b.Loop may run more than once).
	url := fmt.Sprintf("%s/upgrade-%d.db", b.TempDir(), time.Now().UnixNano())
	if target.Dialect == db.Postgres {
		url = dbtest.PostgresURL(b)
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ms, err := db.Migrations(d.Dialect)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.W.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	for _, m := range ms[:upgradeFrom] {
		if _, err := applyMigration(ctx, d, m); err != nil {
			b.Fatal(err)
		}
	}
	fillOldSchema(b, d, n)

	var total time.Duration
	for _, m := range ms[upgradeFrom:] {
		took, err := applyMigration(ctx, d, m)
		if err != nil {
			b.Fatal(err)
		}
		total += took
		switch m.Version {
		case 21, 26, 28, 29:
			b.ReportMetric(took.Seconds(), fmt.Sprintf("s/%04d", m.Version))
		}
	}
	// Ward's own Migrate finds nothing left to do, so the steps above
	// were the whole of it.
	if left, err := d.Migrate(ctx, time.Now); err != nil || left != 0 {
		b.Fatalf("Migrate after the timed migrations applied %d: %v", left, err)
	}
	b.ReportMetric(total.Seconds(), "s/migrate")

	clk := clock.Real{}
	kr := dbtest.Keyring(b, d, clk.Now())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	incidents := incident.NewService(d, clk, kr, incident.WithLogger(quiet))
	alerts := alert.NewIntake(d, clk, kr, incidents)
	t0 := time.Now()
	if err := sealPlaintext(ctx, kr, incidents, alerts, quiet); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(t0).Seconds(), "s/seal")

	for q, want := range map[string]int{
		"SELECT count(*) FROM incidents WHERE search_version = 0":                             0,
		"SELECT count(*) FROM incidents WHERE title LIKE 'Disk full%'":                        0,
		"SELECT count(*) FROM alerts WHERE dedup_hash IS NULL OR summary LIKE 'Disk full%'":   0,
		"SELECT count(*) FROM alert_groups WHERE substr(group_hash, 1, 9) = 'unhashed:'":      0,
		"SELECT count(*) FROM incidents WHERE sla_check_at IS NOT NULL":                       n / 100,
		"SELECT count(DISTINCT incident_id) FROM incident_title_tokens":                       n,
		"SELECT count(*) FROM alerts a JOIN incidents i ON i.id = a.incident_id":              n,
		"SELECT count(*) FROM alert_groups g JOIN incidents i ON i.id = g.incident_id":        n / 10,
		"SELECT count(*) FROM schema_migrations WHERE version > " + strconv.Itoa(upgradeFrom): len(ms) - upgradeFrom,
	} {
		var got int
		if err := d.R.QueryRowContext(ctx, q).Scan(&got); err != nil || got != want {
			b.Fatalf("%s = %d, want %d (%v)", q, got, want, err)
		}
	}
}

// applyMigration does what db.Migrate does for one migration, timed: its
// SQL and its schema_migrations row in one transaction, without
// PostgreSQL's statement timeout.
func applyMigration(ctx context.Context, d *db.DB, m db.Migration) (time.Duration, error) {
	t0 := time.Now()
	err := d.Write(ctx, func(tx *sql.Tx) error {
		if d.Dialect == db.Postgres {
			if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.Version, m.Name, time.Now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return time.Since(t0), nil
}

// fillOldSchema writes n incidents (one in a hundred still open, the rest
// closed), one alert for each and an alert group for one in ten, as a Ward
// at schema 0018 left them: titles, summaries and the monitoring tool's
// fields in clear. The rows are made by SQL in the database, not through
// Ward: what is timed is the upgrade, not the filling.
func fillOldSchema(b *testing.B, d *db.DB, n int) {
	ctx := context.Background()
	from := "FROM generate_series(1, " + strconv.Itoa(n) + ") AS s(i)"
	at := func(minutes string) string {
		if d.Dialect == db.Postgres {
			return "(timestamp '2020-01-01 00:00:00' + (" + minutes + ") * interval '1 minute')"
		}
		return "datetime(1577836800 + 60 * (" + minutes + "), 'unixepoch')"
	}
	if d.Dialect == db.SQLite {
		from = "FROM s"
	}
	with := func(q string) string {
		if d.Dialect == db.SQLite {
			return "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < " + strconv.Itoa(n) + ") " + q
		}
		return q
	}
	stmts := []string{
		`INSERT INTO services (id, name, description, handles_phi, group_by, created_at, updated_at, version)
			VALUES ('svc', 'pacs', '', true, 'source', '2020-01-01 00:00:00', '2020-01-01 00:00:00', 1)`,
		`INSERT INTO integration_keys (id, service_id, kind, name, key_hash, hint, mapping, created_at, created_by)
			VALUES ('ik', 'svc', 'alertmanager', 'prometheus', 'hash', 'abcd', '', '2020-01-01 00:00:00', 'admin')`,
		with(`INSERT INTO incidents (id, number, title, description, severity, category, phi_suspected, detected_at,
			created_at, updated_at, closed_at, status, resolution, commander, customers, not_applicable, created_by,
			version, search)
			SELECT 'inc-' || i, 'INC-' || i, 'Disk full on pacs-' || i || ' after the nightly backup', '', 'sev3',
				'availability', false, ` + at("i") + `, ` + at("i") + `, ` + at("i + 30") + `,
				CASE WHEN i % 100 = 0 THEN NULL ELSE ` + at("i + 30") + ` END,
				CASE WHEN i % 100 = 0 THEN 'investigating' ELSE 'closed' END, '', 'admin', '[]', '[]', 'alertmanager',
				3, 'inc-' || i || ' disk full on pacs-' || i || ' after the nightly backup' ` + from),
		with(`INSERT INTO alerts (id, service_id, integration_id, dedup_key, group_key, incident_id, status, suppressed,
			summary, source, severity, component, grp, class, details, count, first_at, last_at, resolved_at)
			SELECT 'alert-' || i, 'svc', 'ik', 'DiskFull/pacs-' || i, 'alertname=DiskFull/' || (i / 10), 'inc-' || i,
				CASE WHEN i % 100 = 0 THEN 'triggered' ELSE 'resolved' END, false,
				'Disk full on pacs-' || i || ' after the nightly backup', 'prometheus-' || (i % 7), 'error', 'disk',
				'storage', 'DiskFull', '', 1, ` + at("i") + `, ` + at("i") + `,
				CASE WHEN i % 100 = 0 THEN NULL ELSE ` + at("i + 30") + ` END ` + from),
		with(`INSERT INTO alert_groups (service_id, group_key, incident_id)
			SELECT 'svc', 'alertname=DiskFull/' || (i / 10), 'inc-' || i ` + from + ` WHERE i % 10 = 0`),
	}
	for _, q := range stmts {
		if _, err := d.W.ExecContext(ctx, q); err != nil {
			b.Fatalf("fill: %v\n%s", err, q)
		}
	}
	if d.Dialect == db.Postgres {
		// PostgreSQL's autovacuum would have analysed tables this large
		// long before an upgrade; Ward never asks SQLite to.
		if _, err := d.W.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
}
