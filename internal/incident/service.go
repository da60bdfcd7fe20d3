package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// Service validates, authorises and records every change to incidents.
// Each change, its timeline entry and its audit entry commit together.
type Service struct {
	db    *db.DB
	clock clock.Clock
	keys  Sealer
	log   *slog.Logger
	// breakGlassFor is how long an emergency grant lasts.
	breakGlassFor time.Duration
	officers      OfficerNotifier
	watcher       Watcher
}

// Option adjusts a Service.
type Option func(*Service)

// WithLogger sets where the service logs what officers must know at once
// (emergency access); the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// OfficerNotifier tells the Security Officers at once, through their own
// contact methods, that emergency access to incidentID was granted to
// actor (45 CFR 164.312(a)(2)(ii)). It runs inside the transaction that
// grants the access, so the access and the message commit together.
type OfficerNotifier interface {
	NotifyOfficersTx(ctx context.Context, tx *sql.Tx, incidentID, actor string) error
}

// NotifyOfficersWith makes BreakGlass tell the officers through n, beside
// the officer alert and the log. Call it before serving.
func (s *Service) NotifyOfficersWith(n OfficerNotifier) { s.officers = n }

// Watcher hears of every incident created, edited or moved through its
// lifecycle, inside the transaction that does it (workflow rules). An
// error fails the change.
type Watcher interface {
	IncidentChangedTx(ctx context.Context, tx *sql.Tx, inc Incident, e Event) error
}

// Watchers tells each of its watchers, in order, of a change.
type Watchers []Watcher

// IncidentChangedTx tells each watcher of the change; the first error
// stops it.
func (ws Watchers) IncidentChangedTx(ctx context.Context, tx *sql.Tx, inc Incident, e Event) error {
	for _, w := range ws {
		if err := w.IncidentChangedTx(ctx, tx, inc, e); err != nil {
			return err
		}
	}
	return nil
}

// WatchWith makes the service tell w of changes. Call it before serving.
func (s *Service) WatchWith(w Watcher) { s.watcher = w }

// WithBreakGlassDuration sets how long an emergency grant lasts; the
// default is DefaultBreakGlassDuration.
func WithBreakGlassDuration(d time.Duration) Option { return func(s *Service) { s.breakGlassFor = d } }

// NewService returns a Service that seals PHI columns with keys.
func NewService(d *db.DB, c clock.Clock, keys Sealer, opts ...Option) *Service {
	s := &Service{db: d, clock: c, keys: keys, log: slog.Default(), breakGlassFor: DefaultBreakGlassDuration}
	for _, o := range opts {
		o(s)
	}
	return s
}

// CreateInput is a new incident.
type CreateInput struct {
	Title        string
	Description  string
	Severity     Severity // default sev3
	Category     Category // default not_yet_known
	PHISuspected bool
	OccurredAt   *time.Time
	DetectedAt   *time.Time // default now
	Commander    string
	Customers    []string
	// Restricted limits who may see the incident (see VisibleSQL). A user
	// who restricts it without the incident:restricted permission is made
	// a member, so as to keep seeing it.
	Restricted bool
	// Drill records an exercise of the response plan, not a real incident
	// (docs/DRILLS.md). Only a role with drill:run may start one.
	Drill bool
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Create records a new incident in the detected phase.
func (s *Service) Create(ctx context.Context, in CreateInput) (Incident, error) {
	var inc Incident
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		inc, err = s.CreateTx(ctx, tx, in)
		return err
	})
	if err != nil {
		return Incident{}, err
	}
	return inc, nil
}

// CreateTx is Create inside the caller's transaction, for changes that open
// an incident together with records of their own (alert intake).
func (s *Service) CreateTx(ctx context.Context, tx *sql.Tx, in CreateInput) (Incident, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Incident{}, err
	}
	if in.Drill {
		if _, err := authz.Check(ctx, authz.DrillRun); err != nil {
			return Incident{}, err
		}
	}
	now := s.clock.Now()
	inc := Incident{
		ID: newID(), Title: in.Title, Description: in.Description, Severity: in.Severity, Category: in.Category,
		PHISuspected: in.PHISuspected, OccurredAt: normPtr(in.OccurredAt), DetectedAt: now, CreatedAt: now, UpdatedAt: now,
		Status: Detected, Commander: in.Commander, Customers: in.Customers, NotApplicable: []Status{},
		CreatedBy: actor.String(), Version: 1, Restricted: in.Restricted, Drill: in.Drill,
	}
	if in.DetectedAt != nil {
		inc.DetectedAt = clock.Normalize(*in.DetectedAt)
	}
	if inc.Severity == "" {
		inc.Severity = defaultSeverity
	}
	if inc.Category == "" {
		inc.Category = defaultCategory
	}
	if inc.Customers == nil {
		inc.Customers = []string{}
	}
	if err := validate(&inc, now); err != nil {
		return Incident{}, err
	}
	if err := checkUser(ctx, s.db.In(tx), "commander", inc.Commander); err != nil {
		return Incident{}, err
	}
	if inc.Number, err = nextNumber(ctx, s.db, s.db.In(tx), now.Year(), inc.Drill); err != nil {
		return Incident{}, err
	}
	row, err := s.stored(&inc)
	if err != nil {
		return Incident{}, err
	}
	if err := insertIncident(ctx, s.db.In(tx), row); err != nil {
		return Incident{}, err
	}
	db.Remember(tx, phiMemo{inc.ID}, inc.PHISuspected)
	db.Remember(tx, createdMemo{inc.ID}, inc.clone())
	if err := s.index(ctx, s.db.In(tx), inc.ID, inc.CreatedAt, "", inc.Title); err != nil {
		return Incident{}, err
	}
	created := Event{Kind: EventCreated, ToStatus: Detected}
	if inc.Drill {
		created.Changes = []Change{{Field: "drill", New: true}}
	}
	if inc.Restricted {
		created.Changes = append(created.Changes, Change{Field: "restricted", New: true})
		keep, err := s.keepSight(ctx, tx, &inc, now)
		if err != nil {
			return Incident{}, err
		}
		created.Changes = append(created.Changes, keep...)
	}
	ev, err := s.record(ctx, tx, &inc, created, "incident.create", inc)
	if err != nil {
		return Incident{}, err
	}
	if s.watcher != nil {
		if err := s.watcher.IncidentChangedTx(ctx, tx, inc, ev); err != nil {
			return Incident{}, err
		}
	}
	return inc, nil
}

// ReserveNumbers takes, in one round trip, the numbers of the n incidents
// the caller is about to create in tx this year, on PostgreSQL, where
// each number is otherwise a round trip of its own; CreateTx then uses
// them in turn. The caller counts n exactly: a number taken and not used
// is a gap in the register, as one a rolled-back create took. On SQLite,
// whose counter costs no round trip, it does nothing.
func (s *Service) ReserveNumbers(ctx context.Context, tx *sql.Tx, n int) error {
	if s.db.Dialect != db.Postgres || n < 2 {
		return nil
	}
	return reserveNumbers(ctx, s.db.In(tx), s.clock.Now().Year(), n)
}

// phiMemo keeps, in a transaction that created or changed an incident,
// whether the incident is marked phi_suspected (db.Remember): the row is
// the transaction's own, or locked by it, until it ends, so nobody else
// can change the mark meanwhile.
type phiMemo struct{ id string }

// createdMemo keeps, in a transaction, the incident the transaction
// created, as its row stands in the transaction (db.Remember): changeTx
// keeps it so, and every write to the columns it holds goes through
// CreateTx or changeTx.
type createdMemo struct{ id string }

// clone is a copy of inc that shares no slice with it.
func (inc Incident) clone() Incident {
	inc.Customers, inc.NotApplicable = slices.Clone(inc.Customers), slices.Clone(inc.NotApplicable)
	return inc
}

// CreatedTx reports whether tx created incident id: nothing outside tx
// can refer to it yet, so what only a later write could have added (its
// page) need not be read.
func CreatedTx(tx *sql.Tx, id string) bool {
	_, ok := db.Recall(tx, createdMemo{id})
	return ok
}

// PHISuspectedTx reports whether incident id is marked phi_suspected, if
// tx created or changed it (known); else the caller reads the row. It
// spares intake a read per alert that opens an incident.
func PHISuspectedTx(tx *sql.Tx, id string) (phi, known bool) {
	v, ok := db.Recall(tx, phiMemo{id})
	if !ok {
		return false, false
	}
	return v.(bool), true
}

// record appends the timeline event for the incident's current version and
// its audit entry, inside tx.
func (s *Service) record(ctx context.Context, tx *sql.Tx, inc *Incident, e Event, action string, change any) (Event, error) {
	actor, _ := authz.ActorFrom(ctx)
	e.IncidentID, e.Seq, e.ID, e.At, e.Actor = inc.ID, inc.Version, newID(), inc.UpdatedAt, actor.String()
	if e.Changes == nil {
		e.Changes = []Change{}
	}
	row, err := s.storedEvent(&e)
	if err != nil {
		return Event{}, err
	}
	if err := insertEvent(ctx, s.db.In(tx), row); err != nil {
		return Event{}, err
	}
	_, err = audit.Append(ctx, s.db.In(tx), inc.UpdatedAt, audit.Event{
		Action: action, ObjectType: "incident", ObjectID: inc.ID, Change: change,
	})
	return e, err
}

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := clock.Normalize(*t)
	return &n
}

func validate(inc *Incident, now time.Time) error {
	for _, err := range []error{
		checkTitle("title", inc.Title, 1, MaxTitle),
		checkText("description", inc.Description, 0, MaxDescription),
		checkEnum("severity", inc.Severity, Severities),
		checkEnum("category", inc.Category, Categories),
		checkTitle("commander", inc.Commander, 0, MaxName),
		checkCustomers(inc.Customers),
		checkTimes(inc.OccurredAt, inc.DetectedAt, now),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Get returns the incident with the given id or number.
func (s *Service) Get(ctx context.Context, ref string) (Incident, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Incident{}, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return Incident{}, err
	}
	if err := s.reveal(ctx, []*Incident{&inc}, nil); err != nil {
		return Incident{}, err
	}
	return inc, nil
}

// Page is one page of a listing and the cursor of the next, nil at the end.
type Page struct {
	Items []Incident
	Next  *Cursor
}

// MaxLimit caps a page.
const MaxLimit = 200

// List returns incidents matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) (Page, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Page{}, err
	}
	if f.Status != "" && !f.Status.Valid() {
		return Page{}, checkEnum("status", f.Status, Statuses)
	}
	if f.Severity != "" {
		if err := checkEnum("severity", f.Severity, Severities); err != nil {
			return Page{}, err
		}
	}
	if f.Category != "" {
		if err := checkEnum("category", f.Category, Categories); err != nil {
			return Page{}, err
		}
	}
	if err := checkText("q", f.Text, 0, MaxTitle); err != nil {
		return Page{}, err
	}
	switch {
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit < 1 || f.Limit > MaxLimit:
		return Page{}, apperr.Field("limit", "must be between 1 and %d", MaxLimit)
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	// Rows the caller may not see are left out by the query itself, so
	// their PHI is never read, decrypted or recorded as read.
	var tokens []string
	if actor, _ := authz.ActorFrom(ctx); authz.Has(actor.Role, authz.IncidentReadPHI) {
		// Searching titles is reading them: only for those who may.
		tokens = s.keys.SearchTokens(f.Text)
	}
	items, err := listIncidents(ctx, s.db.R, f, tokens, s.viewer(ctx))
	if err != nil {
		return Page{}, err
	}
	p := Page{Items: items}
	if len(items) > want {
		p.Items = items[:want]
	}
	shown := make([]*Incident, len(p.Items))
	for i := range p.Items {
		if f.OmitPHI {
			p.Items[i].Description = ""
		}
		shown[i] = &p.Items[i]
	}
	if err := s.reveal(ctx, shown, nil); err != nil {
		return Page{}, err
	}
	if len(items) > want {
		last := p.Items[want-1]
		p.Next = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return p, nil
}

// UpdateInput holds the fields to change; nil leaves a field as it is.
type UpdateInput struct {
	Title        *string
	Description  *string
	Severity     *Severity
	Category     *Category
	PHISuspected *bool
	OccurredAt   *time.Time
	DetectedAt   *time.Time
	Commander    *string
	Customers    *[]string
	// Restricted may be changed only by roles with incident:restricted
	// and by the incident's creator.
	Restricted *bool
}

// Update edits an incident's fields, recording each change old → new.
func (s *Service) Update(ctx context.Context, ref string, in UpdateInput) (Incident, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return Incident{}, err
	}
	inc, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		var changes []Change
		action := "incident.update"
		set := func(field string, redacted bool, old, new any, apply func()) {
			if old == new {
				return
			}
			c := Change{Field: field, Old: old, New: new}
			if redacted {
				c = Change{Field: field, Redacted: true}
			}
			changes = append(changes, c)
			apply()
		}
		if in.Title != nil {
			// The title may hold PHI too (alert summaries become titles).
			set("title", true, inc.Title, *in.Title, func() { inc.Title = *in.Title })
		}
		if in.Description != nil {
			// The description may hold PHI: the timeline records only that it changed.
			set("description", true, inc.Description, *in.Description, func() { inc.Description = *in.Description })
		}
		if in.Severity != nil {
			set("severity", false, inc.Severity, *in.Severity, func() { inc.Severity = *in.Severity })
		}
		if in.Category != nil {
			set("category", false, inc.Category, *in.Category, func() { inc.Category = *in.Category })
		}
		if in.PHISuspected != nil {
			set("phi_suspected", false, inc.PHISuspected, *in.PHISuspected, func() { inc.PHISuspected = *in.PHISuspected })
		}
		if in.OccurredAt != nil {
			n := clock.Normalize(*in.OccurredAt)
			var old any
			if inc.OccurredAt != nil {
				old = *inc.OccurredAt
			}
			set("occurred_at", false, old, n, func() { inc.OccurredAt = &n })
		}
		if in.DetectedAt != nil {
			n := clock.Normalize(*in.DetectedAt)
			set("detected_at", false, inc.DetectedAt, n, func() { inc.DetectedAt = n })
		}
		if in.Commander != nil {
			set("commander", false, inc.Commander, *in.Commander, func() { inc.Commander = *in.Commander })
		}
		if in.Customers != nil && !slices.Equal(inc.Customers, *in.Customers) {
			cs := slices.Clone(*in.Customers)
			if cs == nil {
				cs = []string{}
			}
			changes = append(changes, Change{Field: "customers", Old: inc.Customers, New: cs})
			inc.Customers = cs
		}
		if in.Restricted != nil && *in.Restricted != inc.Restricted {
			if err := mayRestrict(ctx, inc); err != nil {
				return Event{}, "", err
			}
			changes = append(changes, Change{Field: "restricted", Old: inc.Restricted, New: *in.Restricted})
			inc.Restricted = *in.Restricted
			action = "incident.unrestrict"
			if inc.Restricted {
				action = "incident.restrict"
				keep, err := s.keepSight(ctx, tx, inc, now)
				if err != nil {
					return Event{}, "", err
				}
				changes = append(changes, keep...)
			}
		}
		if len(changes) == 0 {
			return Event{}, "", errNoChange
		}
		if err := validate(inc, now); err != nil {
			return Event{}, "", err
		}
		if in.Commander != nil && slices.ContainsFunc(changes, func(c Change) bool { return c.Field == "commander" }) {
			if err := checkUser(ctx, s.db.In(tx), "commander", inc.Commander); err != nil {
				return Event{}, "", err
			}
		}
		return Event{Kind: EventEdit, Changes: changes}, action, nil
	})
	return inc, err
}

// errNoChange makes change return the incident untouched.
var errNoChange = apperr.New(apperr.Conflict, "no change")

// mutation changes an incident in memory (and may write rows of its own in
// tx), returning the timeline event and audit action that record it.
type mutation func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error)

// Now is the time on the service's clock: what a document made from the
// incidents says it was generated at.
func (s *Service) Now() time.Time { return s.clock.Now() }

// change runs mutate on the current incident inside a write transaction
// (see changeTx), if the caller may see it: to anyone else a restricted
// incident does not exist. When mutate returns errNoChange nothing is
// written and the incident is returned as is.
func (s *Service) change(ctx context.Context, ref string, mutate mutation) (Incident, Event, error) {
	var out Incident
	var ev Event
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := lockIncident(ctx, tx, ref); err != nil {
			return err
		}
		v := s.viewer(ctx)
		if _, err := getIncident(ctx, tx, ref, &v); err != nil {
			return err
		}
		var err error
		out, ev, err = s.changeTx(ctx, tx, ref, mutate)
		return err
	})
	if errors.Is(err, errNoChange) {
		return out, Event{}, nil
	}
	if err != nil {
		return Incident{}, Event{}, err
	}
	return out, ev, nil
}

// changeTx runs mutate on the current incident, row-locked in tx, bumps its
// version and records the event mutate returns. On errNoChange it returns
// the incident as it was, with that error.
func (s *Service) changeTx(ctx context.Context, tx *sql.Tx, ref string, mutate mutation) (Incident, Event, error) {
	inc, err := s.current(ctx, tx, ref)
	if err != nil {
		return Incident{}, Event{}, err
	}
	now := s.clock.Now()
	title := inc.Title
	e, action, err := mutate(tx, &inc, now)
	if err != nil {
		return inc, Event{}, err
	}
	inc.Version++
	inc.UpdatedAt = now
	row, err := s.stored(&inc)
	if err != nil {
		return Incident{}, Event{}, err
	}
	if err := updateIncident(ctx, s.db.In(tx), row); err != nil {
		return Incident{}, Event{}, err
	}
	if CreatedTx(tx, inc.ID) {
		db.Remember(tx, createdMemo{inc.ID}, inc.clone())
	}
	db.Remember(tx, phiMemo{inc.ID}, inc.PHISuspected)
	if inc.Title != title {
		if err := s.index(ctx, s.db.In(tx), inc.ID, inc.CreatedAt, title, inc.Title); err != nil {
			return Incident{}, Event{}, err
		}
	}
	ev, err := s.record(ctx, tx, &inc, e, action, e)
	if err != nil {
		return Incident{}, Event{}, err
	}
	if s.watcher != nil && (e.Kind == EventEdit || e.Kind == EventTransition) {
		if err := s.watcher.IncidentChangedTx(ctx, tx, inc, ev); err != nil {
			return Incident{}, Event{}, err
		}
	}
	return inc, ev, nil
}

// current returns incident ref, opened, holding its row lock in tx: the
// copy tx keeps of an incident it created (createdMemo), which no other
// transaction can see, or else the row, locked and read in one round trip
// on PostgreSQL.
func (s *Service) current(ctx context.Context, tx *sql.Tx, ref string) (Incident, error) {
	if v, ok := db.Recall(tx, createdMemo{ref}); ok {
		return v.(Incident).clone(), nil
	}
	var inc Incident
	found := false
	err := s.db.In(tx).Pipeline(ctx, []db.Query{
		{SQL: lockIncidentSQL(ref), Args: []any{ref}},
		{SQL: incidentByRefSQL(ref), Args: []any{ref}, Row: func(scan func(...any) error) (err error) {
			found = true
			inc, err = scanIncident(scanFunc(scan))
			return err
		}},
	})
	if err != nil {
		return Incident{}, fmt.Errorf("lock and read incident: %w", err)
	}
	if !found {
		return Incident{}, apperr.New(apperr.NotFound, "incident not found")
	}
	if inc.Title, err = s.open(inc.Title, keys.IncidentTitle, inc.ID); err != nil {
		return Incident{}, err
	}
	inc.Description, err = s.open(inc.Description, keys.IncidentDescription, inc.ID)
	return inc, err
}

// scanFunc is a row's scan function as a scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// Transition moves an incident through its lifecycle (see Plan). Closing
// as resolved also needs the post-incident review complete or waived
// (checkCloseTx).
func (s *Service) Transition(ctx context.Context, ref string, in Move) (Incident, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return Incident{}, err
	}
	if err := checkText("note", in.Note, 0, MaxNote); err != nil {
		return Incident{}, err
	}
	inc, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		from := inc.Status
		next, err := Plan(State{Status: inc.Status, Resolution: inc.Resolution, NotApplicable: inc.NotApplicable}, in)
		if err != nil {
			return Event{}, "", err
		}
		if err := checkCloseTx(ctx, tx, inc, next); err != nil {
			return Event{}, "", err
		}
		changes := []Change{{Field: "status", Old: from, New: next.Status}}
		if next.Resolution != inc.Resolution {
			changes = append(changes, Change{Field: "resolution", Old: inc.Resolution, New: next.Resolution})
		}
		if !slices.Equal(next.NotApplicable, inc.NotApplicable) {
			changes = append(changes, Change{Field: "not_applicable", Old: inc.NotApplicable, New: next.NotApplicable})
		}
		inc.Status, inc.Resolution, inc.NotApplicable = next.Status, next.Resolution, next.NotApplicable
		inc.ClosedAt = nil
		if inc.Status == Closed {
			inc.ClosedAt = &now
		}
		if err := startPhaseTasksTx(ctx, tx, inc.ID, inc.Status, now); err != nil {
			return Event{}, "", err
		}
		return Event{Kind: EventTransition, FromStatus: from, ToStatus: inc.Status, Note: in.Note, Changes: changes},
			"incident.transition", nil
	})
	return inc, err
}

// AddNote adds a note to an incident's timeline.
func (s *Service) AddNote(ctx context.Context, ref, body string) (Event, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return Event{}, err
	}
	if err := checkText("body", body, 1, MaxNote); err != nil {
		return Event{}, err
	}
	_, ev, err := s.change(ctx, ref, func(_ *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
		return Event{Kind: EventNote, FromStatus: inc.Status, ToStatus: inc.Status, Note: body}, "incident.note", nil
	})
	return ev, err
}

// MaxTimeline caps one page of timeline.
const MaxTimeline = 500

// Timeline returns an incident's events after seq afterSeq, oldest first;
// kind, when set, keeps only events of that kind.
func (s *Service) Timeline(ctx context.Context, ref string, kind EventKind, afterSeq int64, limit int) ([]Event, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	switch {
	case limit == 0:
		limit = MaxTimeline
	case limit < 1 || limit > MaxTimeline:
		return nil, apperr.Field("limit", "must be between 1 and %d", MaxTimeline)
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return nil, err
	}
	evs, err := listEvents(ctx, s.db.R, inc.ID, kind, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	shown := make([]*Event, len(evs))
	for i := range evs {
		shown[i] = &evs[i]
	}
	if err := s.reveal(ctx, nil, shown); err != nil {
		return nil, err
	}
	return evs, nil
}
