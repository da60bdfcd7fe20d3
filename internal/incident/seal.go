package incident

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// Sealer encrypts a value bound to its table, column and row (package keys
// implements it). Every free-text field may hold PHI (titles, descriptions,
// timeline notes, task titles, break-glass reasons), so each reaches the
// database only sealed (45 CFR 164.312(a)(2)(iv)). SearchTokens gives the
// blind index tokens of a title, which is how a sealed title is searched.
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
	SearchTokens(text string) []string
}

// open opens a value sealed for column c of row rowID (keys.Column.OpenText:
// an empty value stays empty), its error naming package incident. Values are
// sealed with keys.Column.SealText: every free-text field may hold PHI, so
// it reaches the database only sealed (45 CFR 164.312(a)(2)(iv)).
func (s *Service) open(v string, c keys.Column, rowID string) (string, error) {
	plain, err := c.OpenText(s.keys, v, rowID)
	if err != nil {
		return "", fmt.Errorf("incident: %w", err)
	}
	return plain, nil
}

// stored returns inc as it is written: its title and description sealed.
func (s *Service) stored(inc *Incident) (*Incident, error) {
	c := *inc
	var err error
	if c.Title, err = keys.IncidentTitle.SealText(s.keys, inc.Title, inc.ID); err != nil {
		return nil, err
	}
	c.Description, err = keys.IncidentDescription.SealText(s.keys, inc.Description, inc.ID)
	return &c, err
}

// index moves the blind index of incident id from the words of title
// from to those of title to (keys.SearchTokens; "" has none): it deletes
// the rows of words no longer in the title and inserts, in one statement,
// those of words new to it. The rows are keyed by word, then time, then
// incident, so each one is found through the title's words.
func (s *Service) index(ctx context.Context, tx db.Querier, id string, createdAt time.Time, from, to string) error {
	at := createdAt.UTC()
	gone := map[string]bool{}
	for _, tok := range s.keys.SearchTokens(from) {
		gone[tok] = true
	}
	var add []string
	for _, tok := range s.keys.SearchTokens(to) {
		if gone[tok] {
			delete(gone, tok)
		} else {
			add = append(add, tok)
		}
	}
	for tok := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_title_tokens
			WHERE token = $1 AND incident_created_at = $2 AND incident_id = $3`, tok, at, id); err != nil {
			return fmt.Errorf("index title: %w", err)
		}
	}
	if len(add) == 0 {
		return nil
	}
	args := []any{id, at}
	rows := make([]string, len(add))
	for i, tok := range add {
		args = append(args, tok)
		rows[i] = "($" + strconv.Itoa(len(args)) + ", $1, $2)"
	}
	return db.Exec(ctx, tx, "index title", "INSERT INTO incident_title_tokens (token, incident_id, incident_created_at) VALUES "+
		strings.Join(rows, ", "), args...)
}

// UnindexTx removes incident id's title from the blind index inside tx,
// for the retention purge, which deletes the incident next.
func (s *Service) UnindexTx(ctx context.Context, tx *sql.Tx, id string) error {
	var stored string
	var created time.Time
	var version int
	if err := tx.QueryRowContext(ctx, "SELECT title, created_at, search_version FROM incidents WHERE id = $1", id).
		Scan(&stored, &created, &version); err != nil {
		return fmt.Errorf("unindex title: %w", err)
	}
	if version == 0 {
		return nil
	}
	title, err := s.open(stored, keys.IncidentTitle, id)
	if err != nil {
		return err
	}
	return s.index(ctx, tx, id, created, title, "")
}

// searchVersion is the version of the tokeniser (keys.Words) that indexes
// titles; rows indexed by an older one (0: written before titles were
// sealed) are indexed again at start (IndexTitles). Version 0 rows have
// no index rows, which IndexTitles relies on: a version 2 must also delete
// what version 1 wrote.
const searchVersion = 1

// SafeTitle is the line shown instead of an incident's title to a reader
// whose role may not see PHI (45 CFR 164.502(b), minimum necessary): its
// number, severity and, when alerts opened it, its service; never text
// anyone typed or any tool sent.
func SafeTitle(inc *Incident, service string) string {
	line := inc.Number + ": " + string(inc.Severity) + " incident"
	if service != "" {
		line += " on " + service
	}
	return line
}

// services returns the name of a service whose alerts joined each of the
// incidents ids (the first by name when several did).
func (s *Service) services(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var args []any
	arg := binder(&args)
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = arg(id)
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT a.incident_id, MIN(v.name) FROM alerts a JOIN services v ON v.id = a.service_id
		WHERE a.incident_id IN (`+strings.Join(ph, ", ")+`) GROUP BY a.incident_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read incident services: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("read incident services: %w", err)
		}
		out[id] = name
	}
	return out, rows.Err()
}

// storedEvent returns e as it is written: its note sealed.
func (s *Service) storedEvent(e *Event) (*Event, error) {
	c := *e
	var err error
	c.Note, err = keys.IncidentEventNote.SealText(s.keys, e.Note, e.ID)
	return &c, err
}

// reveal shows or withholds the PHI in what a read returns, which holds it
// still sealed as stored. A reader whose role may see PHI gets it opened,
// and the read is recorded in the audit trail (45 CFR 164.312(b)) before it
// is returned, naming the incidents whose PHI was shown; if that record
// cannot be written the read fails. Any other reader gets the description
// and notes blanked, the title replaced by SafeTitle, the incidents marked
// redacted, and nothing is decrypted.
//
// A note marked privileged carries its mark (Event.Privilege) and is
// opened only for a reader who may see privileged content, whose read is
// audited as well (privileged.read); for anyone else it stays sealed and
// is withheld like PHI.
func (s *Service) reveal(ctx context.Context, incs []*Incident, events []*Event) error {
	actor, _ := authz.ActorFrom(ctx)
	privileged, err := s.notePrivileges(ctx, events)
	if err != nil {
		return err
	}
	mayPrivileged := authz.Has(actor.Role, authz.PrivilegedRead)
	privRead := map[string][]string{} // incident id → privileged notes shown
	for _, e := range events {
		if e.Privilege = privileged[e.ID]; e.Privilege != nil && e.Note != "" {
			if !mayPrivileged {
				e.Note, e.NoteRedacted = "", true
			} else {
				privRead[e.IncidentID] = append(privRead[e.IncidentID], e.ID)
			}
		}
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		ids := make([]string, len(incs))
		for i, inc := range incs {
			ids[i] = inc.ID
		}
		svcs, err := s.services(ctx, ids)
		if err != nil {
			return err
		}
		for _, inc := range incs {
			inc.Title, inc.Description, inc.PHIRedacted = SafeTitle(inc, svcs[inc.ID]), "", true
		}
		for _, e := range events {
			if e.Note != "" {
				e.Note, e.NoteRedacted = "", true
			}
		}
		return nil
	}
	shown := map[string][]string{} // incident id → fields shown
	for _, inc := range incs {
		if inc.Title, err = s.open(inc.Title, keys.IncidentTitle, inc.ID); err != nil {
			return err
		}
		shown[inc.ID] = append(shown[inc.ID], "title")
		if inc.Description != "" {
			if inc.Description, err = s.open(inc.Description, keys.IncidentDescription, inc.ID); err != nil {
				return err
			}
			shown[inc.ID] = append(shown[inc.ID], "description")
		}
	}
	for _, e := range events {
		if e.Note != "" {
			if e.Note, err = s.open(e.Note, keys.IncidentEventNote, e.ID); err != nil {
				return err
			}
			shown[e.IncidentID] = append(shown[e.IncidentID], "note:"+e.ID)
		}
	}
	if len(shown) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(shown))
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "incident.phi_read", ObjectType: "incident",
				ObjectID: id, Change: shown[id]}); err != nil {
				return err
			}
			if err := AuditPrivilegedRead(ctx, tx, now, id, PrivilegedNote, privRead[id]); err != nil {
				return err
			}
		}
		return nil
	})
}

// notePrivileges returns the privileged marks of the notes among events,
// by event id.
func (s *Service) notePrivileges(ctx context.Context, events []*Event) (Privileges, error) {
	out := Privileges{}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Kind != EventNote || seen[e.IncidentID] {
			continue
		}
		seen[e.IncidentID] = true
		marks, err := LoadPrivileges(ctx, s.db.R, e.IncidentID, PrivilegedNote)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, marks)
	}
	return out, nil
}

// IndexTitles seals the titles still in plaintext (written before titles
// were sealed) and indexes every title not yet indexed by this version of
// the tokeniser (search_version), batch incidents per transaction. Ward
// runs it at start, before serving; it returns how many incidents it
// indexed, and running it again finds nothing to do. A title changed
// meanwhile is left to its writer, who sealed and indexed it.
func (s *Service) IndexTitles(ctx context.Context, batch int) (int64, error) {
	if batch <= 0 {
		batch = 500
	}
	type row struct {
		id, stored, plain string
		created           time.Time
	}
	var done int64
	after := ""
	for {
		rows, err := s.db.R.QueryContext(ctx, `SELECT id, title, created_at FROM incidents WHERE search_version < $1 AND id > $2
			ORDER BY id LIMIT $3`, searchVersion, after, batch)
		if err != nil {
			return done, fmt.Errorf("read titles to index: %w", err)
		}
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.stored, &r.created); err != nil {
				rows.Close()
				return done, fmt.Errorf("read titles to index: %w", err)
			}
			todo = append(todo, r)
			after = r.id
		}
		if err := rows.Close(); err != nil {
			return done, fmt.Errorf("read titles to index: %w", err)
		}
		for i := range todo {
			if !keys.Sealed(todo[i].stored) {
				todo[i].plain = todo[i].stored
			} else if todo[i].plain, err = s.open(todo[i].stored, keys.IncidentTitle, todo[i].id); err != nil {
				return done, err
			}
		}
		err = s.db.Write(ctx, func(tx *sql.Tx) error {
			for _, r := range todo {
				stored := r.stored
				if !keys.Sealed(stored) {
					if stored, err = keys.IncidentTitle.SealText(s.keys, r.plain, r.id); err != nil {
						return err
					}
				}
				res, err := tx.ExecContext(ctx, `UPDATE incidents SET title = $1, search_version = $2 WHERE id = $3
					AND title = $4 AND search_version < $2`, stored, searchVersion, r.id, r.stored)
				if err != nil {
					return fmt.Errorf("seal title: %w", err)
				}
				if n, err := res.RowsAffected(); err != nil || n == 0 {
					continue
				}
				if err := s.index(ctx, tx, r.id, r.created, "", r.plain); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			return done, err
		}
		if len(todo) < batch {
			return done, nil
		}
	}
}
