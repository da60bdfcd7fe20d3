// Package backup makes, checks and restores Ward's backups (45 CFR
// 164.308(a)(7)(ii)(A), data backup plan; (B), disaster recovery plan): a
// consistent snapshot of the database taken while Ward runs, sealed under
// a backup key that is not stored in it, with a manifest of what it holds
// and the audit chain head it contains. See docs/OPERATIONS.md.
package backup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// FormatVersion is the version of the manifest and archive layout.
const FormatVersion = 1

// Manifest describes a backup; it is the archive's last part.
type Manifest struct {
	Format        int              `json:"format"`
	BackupID      string           `json:"backup_id"`
	WardVersion   string           `json:"ward_version"`
	SchemaVersion int              `json:"schema_version"`
	CreatedAt     time.Time        `json:"created_at"`
	Dialect       db.Dialect       `json:"dialect"`
	AuditHead     Head             `json:"audit_head"`
	Tables        map[string]int64 `json:"tables"` // rows per table in the snapshot
	Parts         []Part           `json:"parts"`
}

// Part is one file in the archive.
type Part struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Table and Columns name what a PostgreSQL part holds, in COPY text
	// format, one row a line; Rows counts them.
	Table   string   `json:"table,omitempty"`
	Columns []string `json:"columns,omitempty"`
	Rows    int64    `json:"rows,omitempty"`
}

// Head is the audit chain's head: the last entry's sequence number and
// hash.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// scanner is a row: *sql.Row or pgx.Row.
type scanner interface{ Scan(dest ...any) error }

// readHead reads the audit chain head inside the snapshot that queryRow
// sees. It is the one place a backup reads the head, so that a change to
// how entries are chained changes only this.
func readHead(queryRow func(query string) scanner) (Head, error) {
	var h Head
	if err := queryRow("SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&h.Seq, &h.Hash); err != nil {
		return Head{}, fmt.Errorf("backup: read the audit chain head: %w", err)
	}
	return h, nil
}

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check reports the first thing wrong with a manifest read from a backup.
func (m *Manifest) check() error {
	switch {
	case m.Format != FormatVersion:
		return fmt.Errorf("%w: manifest format %d; this Ward reads format %d", ErrNotBackup, m.Format, FormatVersion)
	case m.Dialect != db.SQLite && m.Dialect != db.Postgres:
		return fmt.Errorf("%w: manifest names database %q", ErrDamaged, m.Dialect)
	case m.SchemaVersion < 1:
		return fmt.Errorf("%w: manifest schema version %d", ErrDamaged, m.SchemaVersion)
	case m.AuditHead.Seq < 0 || !hexHash.MatchString(m.AuditHead.Hash):
		return fmt.Errorf("%w: manifest audit head is malformed", ErrDamaged)
	case len(m.Parts) == 0:
		return fmt.Errorf("%w: manifest lists no parts", ErrDamaged)
	}
	for _, p := range m.Parts {
		if !hexHash.MatchString(p.SHA256) || p.Bytes < 0 || p.Rows < 0 {
			return fmt.Errorf("%w: manifest entry for %s is malformed", ErrDamaged, p.Name)
		}
		if m.Dialect == db.Postgres && (p.Table == "" || len(p.Columns) == 0 || m.Tables[p.Table] != p.Rows) {
			return fmt.Errorf("%w: manifest entry for %s does not name its table, columns and rows", ErrDamaged, p.Name)
		}
	}
	if m.Dialect == db.SQLite && (len(m.Parts) != 1 || m.Parts[0].Name != sqlitePart) {
		return fmt.Errorf("%w: a SQLite backup holds one part, %s", ErrDamaged, sqlitePart)
	}
	return nil
}

func (m *Manifest) encode() ([]byte, error) { return json.MarshalIndent(m, "", "  ") }
