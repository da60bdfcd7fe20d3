package playbook

import (
	"context"
	"database/sql"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
)

// Pager pages an escalation policy for an incident inside tx (the
// paging service's PagePolicyTx) and says, in words, what it did.
type Pager func(ctx context.Context, tx *sql.Tx, incidentID, policyID, why string) (string, error)

// PageWith lets a drill page an escalation policy when the one who starts
// it asks for a test page.
func (s *Service) PageWith(p Pager) { s.page = p }

// DrillInput starts a drill.
type DrillInput struct {
	// Playbook is the key of the playbook the drill exercises.
	Playbook string
	// Title defaults to "Drill: " and the playbook's name.
	Title string
	// Scenario is what the exercise pretends happened (may hold made-up
	// PHI, so it is sealed like any description).
	Scenario string
	// PagePolicy, when set, is the escalation policy the drill pages as a
	// test: its messages say "DRILL" (docs/DRILLS.md). Empty pages nobody.
	PagePolicy string
}

// StartDrill records a drill (docs/DRILLS.md): an incident marked as an
// exercise of the response plan, with the playbook's tasks, in one
// transaction with its audit entries. It needs drill:run. A drill never
// has a breach case, and pages nobody unless in.PagePolicy names a policy.
func (s *Service) StartDrill(ctx context.Context, in DrillInput) (incident.Incident, error) {
	if _, err := authz.Check(ctx, authz.DrillRun); err != nil {
		return incident.Incident{}, err
	}
	if strings.TrimSpace(in.Playbook) == "" {
		return incident.Incident{}, apperr.Field("playbook", "choose the playbook the drill exercises")
	}
	var inc incident.Incident
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		all, err := s.currentTx(ctx, tx)
		if err != nil {
			return err
		}
		p, ok := all[in.Playbook]
		if !ok {
			return apperr.Field("playbook", "must be one of Ward's playbooks")
		}
		title := in.Title
		if strings.TrimSpace(title) == "" {
			title = "Drill: " + p.Name
		}
		category := incident.NotYetKnown
		if len(p.Categories) > 0 {
			category = p.Categories[0]
		}
		inc, err = s.incidents.CreateTx(ctx, tx, incident.CreateInput{Title: title, Description: in.Scenario,
			Category: category, Drill: true})
		if err != nil {
			return err
		}
		// The playbook of the drill's category was applied with the
		// incident's creation; any other is applied now.
		_, err = s.applyTx(ctx, tx, inc.ID, p, "Drill started.", false)
		if err != nil && apperr.CodeOf(err) != apperr.Conflict {
			return err
		}
		if in.PagePolicy == "" {
			return nil
		}
		if s.page == nil {
			return apperr.Field("page_policy", "paging is not available")
		}
		what, err := s.page(ctx, tx, inc.ID, in.PagePolicy, "Drill test page (messages say DRILL).")
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Field("page_policy", "must be an escalation policy of Ward")
		}
		if err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, inc.ID, incident.EventPaging, "Drill test page: "+what+".")
	})
	if err != nil {
		return incident.Incident{}, err
	}
	return inc, nil
}
