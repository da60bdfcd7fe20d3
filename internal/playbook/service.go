package playbook

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/input"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
)

// CaseOpener opens an incident's breach case inside tx (the breach
// service's OpenTx); it answers Conflict when the incident has one.
type CaseOpener func(ctx context.Context, tx *sql.Tx, incidentID string) error

// Service keeps the playbooks, applies them and records the answers to
// their questions.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	keys      keys.TextSealer
	incidents *incident.Service
	shipped   map[string]Playbook
	openCase  CaseOpener
	// autoOpen lets a playbook applied by itself open the breach case
	// (AutoOpenCases).
	autoOpen bool
	// page pages an escalation policy for a drill that asks for a test
	// page (PageWith).
	page Pager
}

// New returns a Service; it fails if a shipped playbook is invalid.
func New(d *db.DB, c clock.Clock, k keys.TextSealer, incidents *incident.Service) (*Service, error) {
	sh, err := Shipped()
	if err != nil {
		return nil, err
	}
	return &Service{db: d, clock: c, keys: k, incidents: incidents, shipped: sh}, nil
}

// OpenCasesWith makes playbooks that say so open the breach case.
func (s *Service) OpenCasesWith(o CaseOpener) { s.openCase = o }

// AutoOpenCases lets a playbook that says so, applied by itself to an
// incident marked PHI-suspected, open its breach case, as the rules
// engine does with --breach-auto-open; without it only a playbook applied
// by hand opens one.
func (s *Service) AutoOpenCases() { s.autoOpen = true }

// Application is a playbook applied to an incident.
type Application struct {
	ID         string
	IncidentID string
	// Playbook is the version applied, as it was then.
	Playbook  Playbook
	AppliedAt time.Time
	AppliedBy string
	// Answers are the answers to its questions, by question key; nil and
	// AnswersRedacted for a reader who may not see PHI.
	Answers         map[string]string
	AnsweredAt      *time.Time
	AnswersRedacted bool
	// sealed is the answers as stored, sealed.
	sealed string
}

// current returns every playbook at its newest version: the shipped one,
// unless people edited it since (a higher version).
func (s *Service) current(ctx context.Context, q db.Querier) (map[string]Playbook, error) {
	out := make(map[string]Playbook, len(s.shipped))
	for k, p := range s.shipped {
		out[k] = p
	}
	rows, err := q.QueryContext(ctx, `SELECT v.body FROM playbook_versions v WHERE v.version =
		(SELECT max(w.version) FROM playbook_versions w WHERE w.playbook = v.playbook)`)
	if err != nil {
		return nil, fmt.Errorf("read playbooks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("read playbooks: %w", err)
		}
		var p Playbook
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			return nil, fmt.Errorf("read playbook: %w", err)
		}
		if p.Version > out[p.Key].Version {
			out[p.Key] = p
		}
	}
	return out, rows.Err()
}

// currentMemo is the key under which a write transaction keeps what
// current read (db.Remember): intake may open a hundred incidents in one
// transaction, each asking for its category's playbook.
type currentMemo struct{}

// currentTx is current read in tx, once per transaction. The map is
// shared: callers must not change it.
func (s *Service) currentTx(ctx context.Context, tx *sql.Tx) (map[string]Playbook, error) {
	if v, ok := db.Recall(tx, currentMemo{}); ok {
		return v.(map[string]Playbook), nil
	}
	all, err := s.current(ctx, tx)
	if err != nil {
		return nil, err
	}
	db.Remember(tx, currentMemo{}, all)
	return all, nil
}

// List returns every playbook at its newest version, by name.
func (s *Service) List(ctx context.Context) ([]Playbook, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	all, err := s.current(ctx, s.db.R)
	if err != nil {
		return nil, err
	}
	out := make([]Playbook, 0, len(all))
	for _, k := range sortedKeys(all) {
		out = append(out, all[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns playbook key at its newest version.
func (s *Service) Get(ctx context.Context, key string) (Playbook, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Playbook{}, err
	}
	all, err := s.current(ctx, s.db.R)
	if err != nil {
		return Playbook{}, err
	}
	p, ok := all[key]
	if !ok {
		return Playbook{}, apperr.New(apperr.NotFound, "playbook not found")
	}
	return p, nil
}

// Edit stores p as the newest version of playbook key (its version one
// more than the newest), audited. Incidents it was applied to keep the
// version they got.
func (s *Service) Edit(ctx context.Context, key string, p Playbook) (Playbook, error) {
	actor, err := authz.Check(ctx, authz.OnCallWrite)
	if err != nil {
		return Playbook{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		all, err := s.currentTx(ctx, tx)
		if err != nil {
			return err
		}
		cur, ok := all[key]
		if !ok {
			return apperr.New(apperr.NotFound, "playbook not found")
		}
		p.Key, p.Version = key, cur.Version+1
		if err := Check(&p); err != nil {
			return err
		}
		body, err := json.Marshal(p)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO playbook_versions (playbook, version, body, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5)`, key, p.Version, string(body), now, actor.String()); err != nil {
			return fmt.Errorf("store playbook: %w", err)
		}
		db.Forget(tx, currentMemo{})
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "playbook.edit", ObjectType: "playbook", ObjectID: key,
			Change: map[string]any{"version": p.Version, "previous": cur.Version}})
		return err
	})
	if err != nil {
		return Playbook{}, err
	}
	return p, nil
}

// Apply applies playbook key to incident ref. It is refused (Conflict,
// 409) if the playbook was applied to the incident already.
func (s *Service) Apply(ctx context.Context, ref, key string) (Application, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return Application{}, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return Application{}, err
	}
	var a Application
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		all, err := s.currentTx(ctx, tx)
		if err != nil {
			return err
		}
		p, ok := all[key]
		if !ok {
			return apperr.Field("playbook", "must be one of Ward's playbooks")
		}
		a, err = s.applyTx(ctx, tx, inc.ID, p, "", true)
		return err
	})
	return a, err
}

// applyTx applies p to incident id inside tx; why, if set, says on the
// timeline why Ward applied it. openCase lets a playbook that opens the
// breach case open it.
func (s *Service) applyTx(ctx context.Context, tx *sql.Tx, id string, p Playbook, why string, openCase bool) (Application, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Application{}, err
	}
	// Checked before the insert: on PostgreSQL a failed insert would end
	// the caller's transaction.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM incident_playbooks WHERE incident_id = $1 AND playbook = $2`,
		id, p.Key).Scan(&n); err != nil {
		return Application{}, fmt.Errorf("read applied playbooks: %w", err)
	}
	if n > 0 {
		return Application{}, apperr.New(apperr.Conflict, "the %s playbook was applied to this incident already", p.Name)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return Application{}, err
	}
	a := Application{ID: uuid.Must(uuid.NewV7()).String(), IncidentID: id, Playbook: p, AppliedAt: s.clock.Now(),
		AppliedBy: actor.String(), Answers: map[string]string{}}
	if _, err := tx.ExecContext(ctx, `INSERT INTO incident_playbooks (id, incident_id, playbook, version, body, answers, applied_at,
		applied_by) VALUES ($1, $2, $3, $4, $5, '', $6, $7)`, a.ID, id, p.Key, p.Version, string(body), a.AppliedAt,
		a.AppliedBy); err != nil {
		return Application{}, fmt.Errorf("store applied playbook: %w", err)
	}
	tasks := 0
	for _, ph := range p.Phases {
		for _, t := range ph.Tasks {
			after := time.Duration(t.DueHours) * time.Hour
			if _, err := s.incidents.CreateTaskTx(ctx, tx, id, incident.TaskInput{Title: t.Title, OwnerRole: t.OwnerRole,
				Phase: ph.Phase, PlaybookID: a.ID, DueAfter: &after, FromPhaseStart: t.From == FromPhaseStart}); err != nil {
				return Application{}, err
			}
			tasks++
		}
	}
	note := fmt.Sprintf("Playbook %q (version %d) applied: %d tasks added.", p.Name, p.Version, tasks)
	if why != "" {
		note = why + " " + note
	}
	if err := s.incidents.RecordTx(ctx, tx, id, incident.EventPlaybook, note); err != nil {
		return Application{}, err
	}
	if p.OpensBreachCase && openCase && s.openCase != nil {
		if err := s.openCase(ctx, tx, id); err != nil && apperr.CodeOf(err) != apperr.Conflict {
			return Application{}, err
		}
	}
	return a, nil
}

// IncidentChangedTx applies, to an incident just recorded, or whose
// category was just set, the playbook for its category, if there is one
// and it was not applied yet, in the transaction of the change. It is an
// incident.Watcher.
func (s *Service) IncidentChangedTx(ctx context.Context, tx *sql.Tx, inc incident.Incident, e incident.Event) error {
	switch e.Kind {
	case incident.EventCreated:
	case incident.EventEdit:
		if !slices.ContainsFunc(e.Changes, func(c incident.Change) bool { return c.Field == "category" }) {
			return nil
		}
	default:
		return nil
	}
	all, err := s.currentTx(ctx, tx)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(all) {
		p := all[k]
		if !slices.Contains(p.Categories, inc.Category) {
			continue
		}
		// An incident just created has no playbook yet.
		if e.Kind != incident.EventCreated {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM incident_playbooks WHERE incident_id = $1 AND playbook = $2`,
				inc.ID, p.Key).Scan(&n); err != nil {
				return fmt.Errorf("read applied playbooks: %w", err)
			}
			if n > 0 {
				continue
			}
		}
		// Applied by itself, a playbook opens the breach case only of an
		// incident marked PHI-suspected, and only under
		// --breach-auto-open: a case is opened on a person's word, or on
		// that mark when the organisation chose so.
		if _, err := s.applyTx(ctx, tx, inc.ID, p, "Applied for the incident's category: "+labels.Of(string(inc.Category))+".",
			inc.PHISuspected && s.autoOpen); err != nil {
			return err
		}
	}
	return nil
}

// Applications returns the playbooks applied to incident ref, oldest
// first. Their answers may hold PHI: a reader whose role may see PHI gets
// them, the read audited (45 CFR 164.312(b)); anyone else gets them
// withheld.
func (s *Service) Applications(ctx context.Context, ref string) ([]Application, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return nil, err
	}
	out, err := listApplications(ctx, s.db.R, inc.ID)
	if err != nil || len(out) == 0 {
		return out, err
	}
	phi := authz.Has(actor.Role, authz.IncidentReadPHI)
	answered := false
	for i := range out {
		sealed := out[i].sealed
		out[i].Answers = map[string]string{}
		if !phi {
			out[i].Answers, out[i].AnswersRedacted = nil, true
			continue
		}
		if sealed == "" {
			continue
		}
		answered = true
		plain, err := keys.IncidentPlaybookAnswers.OpenText(s.keys, sealed, out[i].ID)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(plain), &out[i].Answers); err != nil {
			return nil, fmt.Errorf("read playbook answers: %w", err)
		}
	}
	if answered {
		err = s.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "incident.phi_read", ObjectType: "incident",
				ObjectID: inc.ID, Change: []string{"playbook_answers"}})
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listApplications reads an incident's applications, their answers
// sealed.
func listApplications(ctx context.Context, q db.Querier, incidentID string) ([]Application, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, body, answers, applied_at, applied_by, answered_at FROM incident_playbooks
		WHERE incident_id = $1 ORDER BY applied_at, id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list applied playbooks: %w", err)
	}
	defer rows.Close()
	out := []Application{}
	for rows.Next() {
		a := Application{IncidentID: incidentID}
		var body, answers string
		var answered sql.NullTime
		if err := rows.Scan(&a.ID, &body, &answers, &a.AppliedAt, &a.AppliedBy, &answered); err != nil {
			return nil, fmt.Errorf("list applied playbooks: %w", err)
		}
		if err := json.Unmarshal([]byte(body), &a.Playbook); err != nil {
			return nil, fmt.Errorf("read applied playbook: %w", err)
		}
		a.AppliedAt = a.AppliedAt.UTC()
		if answered.Valid {
			t := answered.Time.UTC()
			a.AnsweredAt = &t
		}
		a.sealed = answers
		out = append(out, a)
	}
	return out, rows.Err()
}

// Answer records the answers to the questions of playbook key applied to
// incident ref: each answer replaces the one before, an empty answer
// clears it; questions not named keep theirs. Sealed (they may hold PHI);
// the timeline names the questions answered, never the answers.
func (s *Service) Answer(ctx context.Context, ref, key string, answers map[string]string) (Application, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return Application{}, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return Application{}, err
	}
	var a Application
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		all, err := listApplications(ctx, tx, inc.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(a Application) bool { return a.Playbook.Key == key })
		if i < 0 {
			return apperr.New(apperr.NotFound, "that playbook was not applied to this incident")
		}
		a = all[i]
		merged := map[string]string{}
		if sealed := a.sealed; sealed != "" {
			plain, err := keys.IncidentPlaybookAnswers.OpenText(s.keys, sealed, a.ID)
			if err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(plain), &merged); err != nil {
				return fmt.Errorf("read playbook answers: %w", err)
			}
		}
		names := make([]string, 0, len(answers))
		for _, k := range sortedAnswerKeys(answers) {
			v := strings.TrimSpace(answers[k])
			q, ok := a.Playbook.Question(k)
			field := "answers." + k
			if !ok {
				return apperr.Field(field, "is not a question of this playbook")
			}
			if reason := input.Text(v); reason != "" {
				return apperr.Field(field, "%s", reason)
			}
			if n := len([]rune(v)); n > MaxAnswer {
				return apperr.Field(field, "is %d characters long; the limit is %d", n, MaxAnswer)
			}
			if v != "" && q.Kind == choiceKind && !slices.ContainsFunc(q.Choices, func(c Choice) bool { return c.Value == v }) {
				return apperr.Field(field, "must be one of the question's choices")
			}
			if merged[k] == v {
				continue
			}
			if v == "" {
				delete(merged, k)
			} else {
				merged[k] = v
			}
			names = append(names, q.Label)
		}
		a.Answers = merged
		if len(names) == 0 {
			return nil
		}
		plain, err := json.Marshal(merged)
		if err != nil {
			return err
		}
		sealed, err := keys.IncidentPlaybookAnswers.SealText(s.keys, string(plain), a.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		a.AnsweredAt = &now
		if _, err := tx.ExecContext(ctx, `UPDATE incident_playbooks SET answers = $1, answered_at = $2 WHERE id = $3`,
			sealed, now, a.ID); err != nil {
			return fmt.Errorf("store playbook answers: %w", err)
		}
		// The question labels are the playbook's own words, never PHI.
		return s.incidents.RecordTx(ctx, tx, inc.ID, incident.EventPlaybook, fmt.Sprintf("Answers recorded for the %q playbook: %s.",
			a.Playbook.Name, strings.Join(names, "; ")))
	})
	if err != nil {
		return Application{}, err
	}
	return a, nil
}

func sortedAnswerKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NameOf returns the name of playbook key, read in q; ok is false when
// Ward has no such playbook. Workflow rules check their apply_playbook
// actions with it.
func (s *Service) NameOf(ctx context.Context, q db.Querier, key string) (name string, ok bool, err error) {
	all, err := s.current(ctx, q)
	if err != nil {
		return "", false, err
	}
	p, ok := all[key]
	return p.Name, ok, nil
}

// ApplyTx applies playbook key to incident id inside tx, as the actor in
// ctx, saying why on the timeline. It is refused (Conflict) if the
// playbook was applied to the incident already.
func (s *Service) ApplyTx(ctx context.Context, tx *sql.Tx, id, key, why string) error {
	all, err := s.currentTx(ctx, tx)
	if err != nil {
		return err
	}
	p, ok := all[key]
	if !ok {
		return apperr.Field("playbook", "no playbook %q", key)
	}
	_, err = s.applyTx(ctx, tx, id, p, why, true)
	return err
}
