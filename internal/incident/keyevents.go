package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
)

// MaxKeyEvents caps the key events of one review.
const MaxKeyEvents = 500

// KeyEvent is an entry of a post-incident review's key-events timeline
// (docs/REVIEW.md): an event of the incident's timeline that a responder
// imported, with its time, a plain-language label, the event's text and
// the responder's annotation. Text and Annotation may hold PHI and are
// sealed; a reader whose role may not see PHI gets them empty and
// TextRedacted set.
type KeyEvent struct {
	ID           string
	IncidentID   string
	EventID      string
	Seq          int64 // the timeline entry's place: key events are in its order
	At           time.Time
	Kind         EventKind
	FromStatus   Status
	ToStatus     Status
	Label        string
	Text         string
	Annotation   string
	CreatedBy    string
	TextRedacted bool
	// Privilege is the mark that makes the key event privileged: its
	// note's, or the review's; nil when neither is marked.
	Privilege *Privilege
}

// KeyEventImport picks the events to import: EventIDs from the
// incident's timeline, and with Milestones every milestone as well.
type KeyEventImport struct {
	EventIDs   []string
	Milestones bool
}

// EventLabel names a timeline entry for people: "Incident recorded
// (detection)", "Phase changed: Analysis → Containment".
func EventLabel(kind EventKind, from, to Status) string {
	switch kind {
	case EventCreated:
		return "Incident recorded (detection)"
	case EventTransition:
		if to == Containment {
			return "Containment began (phase changed: " + labels.Of(string(from)) + " → " + labels.Of(string(to)) + ")"
		}
		return "Phase changed: " + labels.Of(string(from)) + " → " + labels.Of(string(to))
	case EventPaging:
		return "Paging"
	case EventBreach:
		return "Breach case"
	case EventStatusUpdate:
		return "Status update sent to stakeholders"
	case EventReview:
		return "Post-incident review"
	}
	return labels.Of(string(kind))
}

// milestone reports whether timeline entry e (its note opened) is one the
// "import all milestones" choice takes: detection, acknowledgement, phase
// changes, the breach case's opening, facts, determinations and notices,
// and status updates sent.
func milestone(e *Event) bool {
	switch e.Kind {
	case EventCreated, EventTransition, EventBreach, EventStatusUpdate:
		return true
	case EventPaging:
		return strings.HasPrefix(e.Note, "Page acknowledged")
	}
	return false
}

const keyEventColumns = "id, incident_id, event_id, seq, at, kind, from_status, to_status, text, annotation, created_by"

func listKeyEvents(ctx context.Context, q db.Querier, incidentID string) ([]KeyEvent, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+keyEventColumns+
		" FROM incident_review_events WHERE incident_id = $1 ORDER BY seq", incidentID)
	if err != nil {
		return nil, fmt.Errorf("list key events: %w", err)
	}
	defer rows.Close()
	out := []KeyEvent{}
	for rows.Next() {
		var k KeyEvent
		if err := rows.Scan(&k.ID, &k.IncidentID, &k.EventID, &k.Seq, &k.At, &k.Kind, &k.FromStatus, &k.ToStatus, &k.Text,
			&k.Annotation, &k.CreatedBy); err != nil {
			return nil, fmt.Errorf("list key events: %w", err)
		}
		k.At, k.Label = k.At.UTC(), EventLabel(k.Kind, k.FromStatus, k.ToStatus)
		out = append(out, k)
	}
	return out, rows.Err()
}

// KeyEvents returns the key events of an incident's review in the
// timeline's order.
// A reader whose role may see PHI gets their text, and the read is
// audited before it is returned; anyone else gets it withheld.
func (s *Service) KeyEvents(ctx context.Context, ref string) ([]KeyEvent, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return nil, err
	}
	ks, err := listKeyEvents(ctx, s.db.R, inc.ID)
	if err != nil || len(ks) == 0 {
		return ks, err
	}
	notes, err := LoadPrivileges(ctx, s.db.R, inc.ID, PrivilegedNote)
	if err != nil {
		return nil, err
	}
	review, err := LoadPrivileges(ctx, s.db.R, inc.ID, PrivilegedReview)
	if err != nil {
		return nil, err
	}
	mayPrivileged := authz.Has(actor.Role, authz.PrivilegedRead)
	var privileged []string
	for i := range ks {
		if ks[i].Privilege = review[inc.ID]; ks[i].Privilege == nil {
			ks[i].Privilege = notes[ks[i].EventID]
		}
		if ks[i].Privilege != nil {
			privileged = append(privileged, ks[i].ID)
		}
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for i := range ks {
			ks[i].Text, ks[i].Annotation, ks[i].TextRedacted = "", "", true
		}
		return ks, nil
	}
	for i := range ks {
		if ks[i].Privilege != nil && !mayPrivileged {
			ks[i].Text, ks[i].Annotation, ks[i].TextRedacted = "", "", true
			continue
		}
		if ks[i].Text, err = s.open(ks[i].Text, keys.ReviewEventText, ks[i].ID); err != nil {
			return nil, err
		}
		if ks[i].Annotation, err = s.open(ks[i].Annotation, keys.ReviewEventAnnotation, ks[i].ID); err != nil {
			return nil, err
		}
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "incident.phi_read", ObjectType: "incident",
			ObjectID: inc.ID, Change: []string{"review_key_events"}}); err != nil {
			return err
		}
		if !mayPrivileged {
			return nil
		}
		return AuditPrivilegedRead(ctx, tx, now, inc.ID, "review_key_event", privileged)
	})
	if err != nil {
		return nil, err
	}
	return ks, nil
}

// reviewWritable refuses a change to the review of inc outside the
// post_incident phase or once the review is complete.
func reviewWritable(ctx context.Context, tx *sql.Tx, inc *Incident) error {
	if inc.Status != PostIncident {
		return apperr.New(apperr.Conflict,
			"the post-incident review of %s is written in the post-incident phase; the incident is in %s", inc.Number,
			labels.Of(string(inc.Status)))
	}
	r, err := loadReview(ctx, tx, inc.ID)
	if err != nil {
		return err
	}
	if r.CompletedAt != nil {
		return apperr.New(apperr.Conflict, "the post-incident review of %s was marked complete and can no longer change", inc.Number)
	}
	return nil
}

// ImportKeyEvents copies events of the incident's timeline into its
// review's key events: those named, and every milestone if asked. An
// event already imported is left as it is. Each keeps its time and kind;
// its note is copied sealed. The timeline records how many were imported.
func (s *Service) ImportKeyEvents(ctx context.Context, ref string, in KeyEventImport) ([]KeyEvent, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return nil, err
	}
	if len(in.EventIDs) == 0 && !in.Milestones {
		return nil, apperr.Field("event_ids", "pick at least one event of the timeline, or import all milestones")
	}
	if len(in.EventIDs) > MaxKeyEvents {
		return nil, apperr.Field("event_ids", "at most %d events at once", MaxKeyEvents)
	}
	_, _, err = s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		if err := reviewWritable(ctx, tx, inc); err != nil {
			return Event{}, "", err
		}
		have, err := listKeyEvents(ctx, tx, inc.ID)
		if err != nil {
			return Event{}, "", err
		}
		taken := make(map[string]bool, len(have))
		for _, k := range have {
			taken[k.EventID] = true
		}
		evs, err := listEvents(ctx, tx, inc.ID, "", 0, 1<<30)
		if err != nil {
			return Event{}, "", err
		}
		byID := make(map[string]*Event, len(evs))
		for i := range evs {
			byID[evs[i].ID] = &evs[i]
		}
		marks, err := LoadPrivileges(ctx, tx, inc.ID, PrivilegedNote)
		if err != nil {
			return Event{}, "", err
		}
		var picked []*Event
		seen := map[string]bool{}
		for _, id := range in.EventIDs {
			e, ok := byID[id]
			if !ok {
				return Event{}, "", apperr.Field("event_ids", "names an event that is not on the timeline of %s", inc.Number)
			}
			if p := marks[id]; p != nil && !MayReadPrivileged(ctx) {
				return Event{}, "", apperr.Field("event_ids", "names a note marked %s: only counsel and the "+
					"Privacy Officer may import it", p.Phrase())
			}
			if !seen[id] {
				seen[id] = true
				picked = append(picked, e)
			}
		}
		for i := range evs {
			e := &evs[i]
			if !seen[e.ID] && (e.Kind == EventNote || !in.Milestones) {
				continue // opened only when imported: a privileged note stays sealed
			}
			if e.Note, err = s.open(e.Note, keys.IncidentEventNote, e.ID); err != nil {
				return Event{}, "", err
			}
			if in.Milestones && !seen[e.ID] && milestone(e) {
				seen[e.ID] = true
				picked = append(picked, e)
			}
		}
		n := 0
		for _, e := range picked {
			if taken[e.ID] {
				continue
			}
			if len(have)+n >= MaxKeyEvents {
				return Event{}, "", apperr.Field("event_ids", "a review holds at most %d key events", MaxKeyEvents)
			}
			id := newID()
			text, err := keys.ReviewEventText.SealText(s.keys, e.Note, id)
			if err != nil {
				return Event{}, "", err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO incident_review_events ("+keyEventColumns+`, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, $11, $11)`,
				id, inc.ID, e.ID, e.Seq, e.At, e.Kind, e.FromStatus, e.ToStatus, text, actor.String(), now); err != nil {
				return Event{}, "", fmt.Errorf("import key event: %w", err)
			}
			n++
		}
		if n == 0 {
			return Event{}, "", errNoChange
		}
		return Event{Kind: EventReview, FromStatus: inc.Status, ToStatus: inc.Status,
			Changes: []Change{{Field: "key_events_imported", New: n}}}, "incident.review.key_events.import", nil
	})
	if err != nil {
		return nil, err
	}
	return s.KeyEvents(ctx, ref)
}

// keyEventChange runs mutate on key event id of the incident's review
// while the review may change.
func (s *Service) keyEventChange(ctx context.Context, ref, id string,
	mutate func(tx *sql.Tx, inc *Incident, k *KeyEvent, now time.Time) (Event, string, error)) error {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return err
	}
	_, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		if err := reviewWritable(ctx, tx, inc); err != nil {
			return Event{}, "", err
		}
		var k KeyEvent
		err := tx.QueryRowContext(ctx, "SELECT "+keyEventColumns+" FROM incident_review_events WHERE id = $1 AND incident_id = $2",
			id, inc.ID).Scan(&k.ID, &k.IncidentID, &k.EventID, &k.Seq, &k.At, &k.Kind, &k.FromStatus, &k.ToStatus, &k.Text,
			&k.Annotation, &k.CreatedBy)
		if errors.Is(err, sql.ErrNoRows) {
			return Event{}, "", apperr.New(apperr.NotFound, "no such key event in the review of %s", inc.Number)
		}
		if err != nil {
			return Event{}, "", fmt.Errorf("read key event: %w", err)
		}
		k.Label = EventLabel(k.Kind, k.FromStatus, k.ToStatus)
		e, action, err := mutate(tx, inc, &k, now)
		e.Kind, e.FromStatus, e.ToStatus = EventReview, inc.Status, inc.Status
		return e, action, err
	})
	return err
}

// AnnotateKeyEvent sets what the review says about one of its key events
// (empty clears it). The annotation is sealed; the timeline records which
// key event was annotated, not the text.
func (s *Service) AnnotateKeyEvent(ctx context.Context, ref, id, annotation string) error {
	if err := checkText("annotation", annotation, 0, MaxNote); err != nil {
		return err
	}
	return s.keyEventChange(ctx, ref, id, func(tx *sql.Tx, _ *Incident, k *KeyEvent, now time.Time) (Event, string, error) {
		sealed, err := keys.ReviewEventAnnotation.SealText(s.keys, annotation, k.ID)
		if err != nil {
			return Event{}, "", err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE incident_review_events SET annotation = $1, updated_at = $2 WHERE id = $3",
			sealed, now, k.ID); err != nil {
			return Event{}, "", fmt.Errorf("annotate key event: %w", err)
		}
		return Event{Changes: []Change{{Field: "key_event", New: k.Label}, {Field: "annotation", Redacted: true}}},
			"incident.review.key_events.annotate", nil
	})
}

// RemoveKeyEvent takes a key event out of the review; the incident's own
// timeline keeps the event.
func (s *Service) RemoveKeyEvent(ctx context.Context, ref, id string) error {
	return s.keyEventChange(ctx, ref, id, func(tx *sql.Tx, _ *Incident, k *KeyEvent, _ time.Time) (Event, string, error) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM incident_review_events WHERE id = $1", k.ID); err != nil {
			return Event{}, "", fmt.Errorf("remove key event: %w", err)
		}
		return Event{Changes: []Change{{Field: "key_event_removed", New: k.Label}}}, "incident.review.key_events.remove", nil
	})
}
