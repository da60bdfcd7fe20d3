package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// Audit actions of backups.
const (
	ActionCreate    = "backup.create"    // a backup made at the command line
	ActionScheduled = "backup.scheduled" // a scheduled backup made
	ActionFailed    = "backup.failed"    // a scheduled backup failed
	ActionRestore   = "backup.restore"   // this database was restored from a backup
)

// ScheduleLockKey is the PostgreSQL advisory lock held by the node making
// a scheduled backup, for the whole backup.
const ScheduleLockKey = 7_310_457_013

// File names of scheduled backups: the prefix, a UTC time, the suffix.
const (
	filePrefix = "ward-backup-"
	fileSuffix = ".wbk"
	fileTime   = "20060102T150405Z"
)

// Schedule makes a backup every Every into Dir and keeps the newest Keep.
// On PostgreSQL several nodes may run it: an advisory lock lets one node at
// a time back up, and the audit trail, where every scheduled backup and
// failure is recorded, tells each node when the last one was made.
type Schedule struct {
	DB      *db.DB
	Clock   clock.Clock
	Log     *slog.Logger
	Dir     string
	Every   time.Duration
	Keep    int
	Key     Key
	Version string
	// Poll is how often to look whether a backup is due; default a tenth
	// of Every, from a second to a minute. It bounds how late another node
	// takes over when the one making the backups dies.
	Poll time.Duration
	// Alert tells the officers, inside the transaction that records a
	// failure, that a scheduled backup failed; the message carries no
	// detail of the failure.
	Alert   func(ctx context.Context, tx *sql.Tx) error
	Metrics *Metrics
	next    time.Time // when this node next looks in the audit trail
}

// Metrics are the scheduled backups' Prometheus metrics.
type Metrics struct {
	LastSuccess prometheus.Gauge
	Failures    prometheus.Counter
	Duration    prometheus.Gauge
	Bytes       prometheus.Gauge
}

// NewMetrics makes the metrics; register Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_backup_last_success_timestamp_seconds",
			Help: "When this node last made a scheduled backup (Unix time)."}),
		Failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_backup_failures_total",
			Help: "Scheduled backups that failed on this node."}),
		Duration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_backup_last_duration_seconds",
			Help: "How long this node's last scheduled backup took."}),
		Bytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_backup_last_size_bytes",
			Help: "The size of this node's last scheduled backup."}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.LastSuccess, m.Failures, m.Duration, m.Bytes}
}

// retry is how long after a failure the next attempt comes.
func (s *Schedule) retry() time.Duration { return min(s.Every, time.Hour) }

// Run makes backups when due until ctx ends.
func (s *Schedule) Run(ctx context.Context) {
	poll := s.Poll
	if poll <= 0 {
		poll = min(time.Minute, max(time.Second, s.Every/10))
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.Log.ErrorContext(ctx, "backup_failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce makes a scheduled backup if one is due and no other node is
// making one. It returns the file made, "" when none was due. A failed
// backup is recorded in the audit trail and the officers are alerted.
func (s *Schedule) RunOnce(ctx context.Context) (string, error) {
	now := s.Clock.Now()
	if now.Before(s.next) {
		return "", nil
	}
	unlock, ok, err := s.lock(ctx)
	if err != nil || !ok {
		return "", err
	}
	defer unlock()
	due, err := s.due(ctx, now)
	if err != nil || !due.IsZero() && now.Before(due) {
		s.next = due
		return "", err
	}
	began := time.Now()
	name := filePrefix + now.UTC().Format(fileTime) + fileSuffix
	m, size, err := s.make(ctx, name, now)
	if err != nil {
		s.next = now.Add(s.retry())
		if s.Metrics != nil {
			s.Metrics.Failures.Inc()
		}
		return "", errors.Join(err, s.recordFailure(ctx, now))
	}
	s.next = now.Add(s.Every)
	if s.Metrics != nil {
		s.Metrics.LastSuccess.Set(float64(now.Unix()))
		s.Metrics.Duration.Set(time.Since(began).Seconds())
		s.Metrics.Bytes.Set(float64(size))
	}
	removed, err := Prune(s.Dir, s.Keep)
	s.Log.InfoContext(ctx, "backup_made", "file", name, "bytes", size, "audit_seq", m.AuditHead.Seq,
		"seconds", time.Since(began).Seconds(), "pruned", removed)
	return name, err
}

// make writes the backup and records it in the audit trail.
func (s *Schedule) make(ctx context.Context, name string, now time.Time) (Manifest, int64, error) {
	path := filepath.Join(s.Dir, name)
	m, err := CreateFile(ctx, s.DB, path, Options{Key: s.Key, WardVersion: s.Version, Now: now})
	if err != nil {
		return Manifest{}, 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Manifest{}, 0, err
	}
	return m, fi.Size(), Record(ctx, s.DB, now, ActionScheduled, name, m)
}

// Record appends a backup's making to the audit trail.
func Record(ctx context.Context, d *db.DB, now time.Time, action, file string, m Manifest) error {
	return d.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "backup", ObjectID: m.BackupID,
			Change: map[string]any{"file": file, "created_at": m.CreatedAt, "audit_head": m.AuditHead, "parts": m.Parts}})
		return err
	})
}

func (s *Schedule) recordFailure(ctx context.Context, now time.Time) error {
	return s.DB.Write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: ActionFailed, ObjectType: "backup", ObjectID: "scheduled"}); err != nil {
			return err
		}
		if s.Alert != nil {
			return s.Alert(ctx, tx)
		}
		return nil
	})
}

// due is when the next scheduled backup is due, from the audit trail:
// Every after the last one made, or, after a failure, the retry delay
// after it; zero if none was made within Every.
func (s *Schedule) due(ctx context.Context, now time.Time) (time.Time, error) {
	last := func(action string, since time.Time) (time.Time, error) {
		var at time.Time
		err := s.DB.R.QueryRowContext(ctx, `SELECT at FROM audit_log WHERE at >= $1 AND action = $2 ORDER BY at DESC LIMIT 1`,
			since, action).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("backup schedule: %w", err)
		}
		return at, nil
	}
	ok, err := last(ActionScheduled, now.Add(-s.Every))
	if err != nil {
		return time.Time{}, err
	}
	failed, err := last(ActionFailed, now.Add(-s.retry()))
	if err != nil {
		return time.Time{}, err
	}
	due := time.Time{}
	if !ok.IsZero() {
		due = ok.Add(s.Every)
	}
	if !failed.IsZero() && failed.After(ok) {
		due = failed.Add(s.retry())
	}
	return due, nil
}

// lock takes the PostgreSQL advisory lock that lets one node at a time
// make a scheduled backup; ok is false if another node holds it. On
// SQLite there is one node.
func (s *Schedule) lock(ctx context.Context) (unlock func(), ok bool, err error) {
	if s.DB.Dialect != db.Postgres {
		return func() {}, true, nil
	}
	conn, err := s.DB.W.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("backup schedule lock: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+db.LockKey+")", ScheduleLockKey).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, err
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+db.LockKey+")", ScheduleLockKey)
		conn.Close()
	}, true, nil
}

// Prune removes all but the newest keep scheduled backups in dir and
// returns how many it removed. Only files named as scheduled backups are
// touched.
func Prune(dir string, keep int) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("backup retention: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, filePrefix) && strings.HasSuffix(n, fileSuffix) {
			if _, err := time.Parse(fileTime, strings.TrimSuffix(strings.TrimPrefix(n, filePrefix), fileSuffix)); err == nil {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	removed := 0
	var errs []error
	for _, n := range names[:max(0, len(names)-keep)] {
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
