package notice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notify"
)

// Service keeps notice templates and a case's notices.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	cases     *breach.Service
	incidents *incident.Service
	keys      incident.Sealer
	email     *notify.Email
	log       *slog.Logger
	// BatchSize is how many letters one PDF file holds, for a
	// print-and-mail vendor.
	BatchSize int
	// Senders is how many SMTP sessions send emails at once.
	Senders int
}

// DefaultBatchSize is how many letters go in one PDF by default.
const DefaultBatchSize = 1000

// New returns a Service. email may be nil (no SMTP server configured):
// then emails cannot be sent.
func New(d *db.DB, c clock.Clock, cases *breach.Service, incidents *incident.Service, keys incident.Sealer, email *notify.Email,
	log *slog.Logger) *Service {
	return &Service{db: d, clock: c, cases: cases, incidents: incidents, keys: keys, email: email, log: log,
		BatchSize: DefaultBatchSize, Senders: 8}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// The statuses of a template version.
const (
	TemplateDraft      = "draft"
	TemplateApproved   = "approved"
	TemplateSuperseded = "superseded"
)

// Template is one version of a notice template.
type Template struct {
	ID         string // this version's id
	TemplateID string // the template's, shared by its versions
	Version    int
	Kind       Kind
	Name       string
	Subject    string
	Body       string
	Status     string
	CreatedBy  string
	CreatedAt  time.Time
	ApprovedBy string
	ApprovedAt *time.Time
	Check      Check
	// Redacted says Subject and Body were withheld from a reader whose
	// role may not see PHI (a template may be filled with a case's
	// details); Check stays.
	Redacted bool
}

const templateColumns = `id, template_id, version, kind, name, subject, body, status, created_by, created_at, approved_by, approved_at`

// scanTemplate reads a template version, its subject and body opened.
func (s *Service) scanTemplate(r interface{ Scan(...any) error }) (Template, error) {
	var t Template
	var approved sql.NullTime
	if err := r.Scan(&t.ID, &t.TemplateID, &t.Version, &t.Kind, &t.Name, &t.Subject, &t.Body, &t.Status, &t.CreatedBy, &t.CreatedAt,
		&t.ApprovedBy, &approved); err != nil {
		return Template{}, err
	}
	if err := s.openAll(t.ID, map[keys.Column]*string{keys.NoticeTemplateSubject: &t.Subject, keys.NoticeTemplateBody: &t.Body}); err != nil {
		return Template{}, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if approved.Valid {
		at := approved.Time.UTC()
		t.ApprovedAt = &at
	}
	t.Check = CheckTemplate(t.Kind, t.Body)
	return t, nil
}

// Seed adds the default templates (Defaults) that are missing, as drafts;
// Ward calls it at start-up. Each default has a fixed id
// ("default-<kind>"), so nodes starting at once add each only once, and
// a default once seeded is never changed or added again.
func (s *Service) Seed(ctx context.Context) error {
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		ctx := authz.WithActor(ctx, authz.System)
		var ids []string
		for _, d := range Defaults() {
			id := "default-" + string(d.Kind)
			subject, body, err := s.sealTemplate(id, d.Subject, d.Body)
			if err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx, `INSERT INTO notice_templates (`+templateColumns+`) VALUES ($1, $1, 1, $2, $3, $4, $5, $6, $7, $8, '', NULL)
				ON CONFLICT (id) DO NOTHING`, id, string(d.Kind), d.Name, subject, body, TemplateDraft, authz.System.String(), now)
			if err != nil {
				return fmt.Errorf("seed notice template: %w", err)
			}
			if n, err := r.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice_template.seed", ObjectType: "notice_template",
			ObjectID: "defaults", Change: map[string]any{"templates": ids}})
		return err
	})
}

// sealTemplate returns subject and body as template version id stores
// them, sealed.
func (s *Service) sealTemplate(id, subject, body string) (string, string, error) {
	subject, err := keys.NoticeTemplateSubject.SealText(s.keys, subject, id)
	if err != nil {
		return "", "", err
	}
	body, err = keys.NoticeTemplateBody.SealText(s.keys, body, id)
	return subject, body, err
}

// Templates lists the latest version of every template, by kind and name,
// shown as shown (below).
func (s *Service) Templates(ctx context.Context) ([]Template, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+templateColumns+` FROM notice_templates t WHERE version =
		(SELECT max(version) FROM notice_templates v WHERE v.template_id = t.template_id) ORDER BY kind, name, template_id`)
	ts, err := db.Collect(rows, err, "list notice templates", func(r *sql.Rows) (Template, error) { return s.scanTemplate(r) })
	if err != nil {
		return nil, err
	}
	return s.shown(ctx, ts, "templates")
}

// Versions lists every version of template id, oldest first, as shown
// (below).
func (s *Service) Versions(ctx context.Context, id string) ([]Template, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	vs, err := s.versions(ctx, s.db.R, id)
	if err != nil {
		return nil, err
	}
	return s.shown(ctx, vs, id)
}

// shown withholds the subject and body of ts from a reader whose role may
// not see PHI (Redacted); for any other, it records the read in the audit
// trail (notice_template.phi_read, naming what) before it returns, and
// fails if it cannot.
func (s *Service) shown(ctx context.Context, ts []Template, what string) ([]Template, error) {
	actor, _ := authz.ActorFrom(ctx)
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for i := range ts {
			ts[i].Subject, ts[i].Body, ts[i].Redacted = "", "", true
		}
		return ts, nil
	}
	if len(ts) == 0 {
		return ts, nil
	}
	return ts, s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "notice_template.phi_read", ObjectType: "notice_template",
			ObjectID: what, Change: map[string]any{"versions": len(ts)}})
		return err
	})
}

func (s *Service) versions(ctx context.Context, q db.Querier, id string) ([]Template, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+templateColumns+` FROM notice_templates WHERE template_id = $1 ORDER BY version`, id)
	out, err := db.Collect(rows, err, "read notice template", func(r *sql.Rows) (Template, error) { return s.scanTemplate(r) })
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.NotFound, "no notice template %s", id)
	}
	return out, nil
}

// TemplateInput is a template as its author writes it.
type TemplateInput struct {
	Kind    Kind
	Name    string
	Subject string
	Body    string
}

func (in TemplateInput) validate() error {
	var fs []apperr.FieldError
	add := func(err error) {
		if e, ok := apperr.As(err); ok {
			fs = append(fs, e.Fields...)
		}
	}
	if !ValidKind(in.Kind) {
		fs = append(fs, apperr.FieldError{Field: "kind", Message: fmt.Sprintf("%q is not a notice kind", in.Kind)})
	}
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 200 {
		fs = append(fs, apperr.FieldError{Field: "name", Message: "is required, at most 200 characters"})
	}
	if len(in.Subject) > 300 {
		fs = append(fs, apperr.FieldError{Field: "subject", Message: "is at most 300 characters"})
	}
	if strings.TrimSpace(in.Body) == "" || len(in.Body) > 100_000 {
		fs = append(fs, apperr.FieldError{Field: "body", Message: "is required, at most 100,000 characters"})
	}
	if in.Body != "" {
		add(CheckFields("body", in.Body))
	}
	add(CheckFields("subject", in.Subject))
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the notice template is not valid", Fields: fs}
}

// CreateTemplate saves a new template as version 1, a draft.
func (s *Service) CreateTemplate(ctx context.Context, in TemplateInput) (Template, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Template{}, err
	}
	if err := in.validate(); err != nil {
		return Template{}, err
	}
	now := s.clock.Now()
	id := newID()
	subject, body, err := s.sealTemplate(id, in.Subject, in.Body)
	if err != nil {
		return Template{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notice_templates (`+templateColumns+`) VALUES ($1, $1, 1, $2, $3, $4, $5, $6, $7, $8, '', NULL)`,
			id, string(in.Kind), in.Name, subject, body, TemplateDraft, actor.String(), now); err != nil {
			return fmt.Errorf("save notice template: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice_template.create", ObjectType: "notice_template", ObjectID: id,
			Change: map[string]any{"kind": in.Kind, "name": in.Name, "version": 1}})
		return err
	})
	if err != nil {
		return Template{}, err
	}
	vs, err := s.versions(ctx, s.db.R, id)
	if err != nil {
		return Template{}, err
	}
	return vs[len(vs)-1], nil
}

// UpdateTemplate changes template id: a draft is changed in place; an
// approved (or superseded) latest version stays as it was and the change
// becomes a new draft version, which needs approval again. The kind
// cannot change.
func (s *Service) UpdateTemplate(ctx context.Context, id string, in TemplateInput) (Template, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Template{}, err
	}
	now := s.clock.Now()
	var out Template
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		vs, err := s.versions(ctx, tx, id)
		if err != nil {
			return err
		}
		latest := vs[len(vs)-1]
		if in.Kind == "" {
			in.Kind = latest.Kind
		}
		if in.Kind != latest.Kind {
			return apperr.Field("kind", "a template's kind cannot change (it is %s); create a new template", latest.Kind)
		}
		if err := in.validate(); err != nil {
			return err
		}
		version, rowID := latest.Version, latest.ID
		if latest.Status != TemplateDraft {
			version, rowID = version+1, newID()
		}
		subject, body, err := s.sealTemplate(rowID, in.Subject, in.Body)
		if err != nil {
			return err
		}
		if latest.Status == TemplateDraft {
			_, err = tx.ExecContext(ctx, `UPDATE notice_templates SET name = $1, subject = $2, body = $3, created_by = $4, created_at = $5
				WHERE id = $6`, in.Name, subject, body, actor.String(), now, rowID)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO notice_templates (`+templateColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', NULL)`,
				rowID, id, version, string(in.Kind), in.Name, subject, body, TemplateDraft, actor.String(), now)
		}
		if err != nil {
			return fmt.Errorf("save notice template: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice_template.update", ObjectType: "notice_template", ObjectID: id,
			Change: map[string]any{"version": version, "name": in.Name, "new_version": version != latest.Version}}); err != nil {
			return err
		}
		vs, err = s.versions(ctx, tx, id)
		if err != nil {
			return err
		}
		out = vs[len(vs)-1]
		return nil
	})
	return out, err
}

// ApproveTemplate approves the latest version of template id, a draft, as
// the Privacy Officer (permission breach:sign: the notice is the privacy
// official's to answer for, 164.530(a)). A notice to individuals lacking
// any element of 164.404(c)(1)(A)-(E) is refused. The version approved
// before, if any, is superseded.
func (s *Service) ApproveTemplate(ctx context.Context, id string) (Template, error) {
	actor, err := authz.Check(ctx, authz.BreachSign)
	if err != nil {
		return Template{}, err
	}
	now := s.clock.Now()
	var out Template
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		vs, err := s.versions(ctx, tx, id)
		if err != nil {
			return err
		}
		latest := vs[len(vs)-1]
		if latest.Status != TemplateDraft {
			return apperr.New(apperr.Conflict, "version %d of template %s is %s already; edit it to make a new version", latest.Version, id, latest.Status)
		}
		if err := CheckFields("body", latest.Body); err != nil {
			return err
		}
		if NeedsElements(latest.Kind) {
			if err := rules.CheckTemplate(latest.Check.Declared); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notice_templates SET status = $1 WHERE template_id = $2 AND status = $3`,
			TemplateSuperseded, id, TemplateApproved); err != nil {
			return fmt.Errorf("supersede notice template: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notice_templates SET status = $1, approved_by = $2, approved_at = $3 WHERE id = $4`,
			TemplateApproved, actor.String(), now, latest.ID); err != nil {
			return fmt.Errorf("approve notice template: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice_template.approve", ObjectType: "notice_template", ObjectID: id,
			Change: map[string]any{"version": latest.Version, "kind": latest.Kind, "grade": latest.Check.Readability.Grade}}); err != nil {
			return err
		}
		vs, err = s.versions(ctx, tx, id)
		if err != nil {
			return err
		}
		out = vs[len(vs)-1]
		return nil
	})
	return out, err
}

// Preview is a template rendered with sample data.
type Preview struct {
	Subject string
	HTML    string
	Text    string
	Check   Check
}

// PreviewTemplate merges a template with sample data (no PHI) and checks
// it, without saving it.
func (s *Service) PreviewTemplate(ctx context.Context, in TemplateInput) (Preview, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Preview{}, err
	}
	if err := in.validate(); err != nil {
		return Preview{}, err
	}
	d := sample()
	merged, err := Merge("body", in.Body, d)
	if err != nil {
		return Preview{}, apperr.Field("body", "%s", cleanTemplateError(err))
	}
	subject, err := Merge("subject", in.Subject, d)
	if err != nil {
		return Preview{}, apperr.Field("subject", "%s", cleanTemplateError(err))
	}
	return Preview{Subject: subject, HTML: HTML(merged), Text: PlainText(merged), Check: CheckTemplate(in.Kind, in.Body)}, nil
}

// approved returns the approved version of template id, or, with id "",
// the most recently approved template of kind.
func (s *Service) approved(ctx context.Context, q db.Querier, kind Kind, id string) (Template, error) {
	var row *sql.Row
	if id != "" {
		row = q.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM notice_templates WHERE template_id = $1 AND status = $2`, id, TemplateApproved)
	} else {
		row = q.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM notice_templates WHERE kind = $1 AND status = $2
			ORDER BY approved_at DESC LIMIT 1`, string(kind), TemplateApproved)
	}
	t, err := s.scanTemplate(row)
	if errors.Is(err, sql.ErrNoRows) {
		if id != "" {
			return Template{}, apperr.Field("template_id", "template %s has no approved version", id)
		}
		return Template{}, apperr.Field("template_id", "no %s template is approved yet: the Privacy Officer approves one first", kind)
	}
	if err != nil {
		return Template{}, fmt.Errorf("read notice template: %w", err)
	}
	if t.Kind != kind {
		return Template{}, apperr.Field("template_id", "template %s is a %s template, not %s", id, t.Kind, kind)
	}
	return t, nil
}
