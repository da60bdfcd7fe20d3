package stakeholder

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// incidentFacts are the fields of an incident that subscriptions and SLAs
// read: none may hold PHI.
type incidentFacts struct {
	ID, Number, Severity, Category, Commander, Status string
	PHISuspected                                      bool
	// Drill says the incident is a drill: its messages go to its
	// participants only, and nothing reaches anyone outside Ward
	// (docs/DRILLS.md).
	Drill     bool
	CreatedAt time.Time
	ClosedAt  *time.Time
}

const factColumns = "i.id, i.number, i.severity, i.category, i.commander, i.status, i.phi_suspected, i.drill, i.created_at, i.closed_at"

func scanFacts(r interface{ Scan(...any) error }) (incidentFacts, error) {
	var f incidentFacts
	var closed sql.NullTime
	err := r.Scan(&f.ID, &f.Number, &f.Severity, &f.Category, &f.Commander, &f.Status, &f.PHISuspected, &f.Drill, &f.CreatedAt, &closed)
	f.CreatedAt = f.CreatedAt.UTC()
	if closed.Valid {
		t := closed.Time.UTC()
		f.ClosedAt = &t
	}
	return f, err
}

// visible reads incident ref (id or number) if the actor in ctx may see
// it (incident.VisibleRef); otherwise it does not exist.
func visible(ctx context.Context, q db.Querier, ref string, now time.Time) (incidentFacts, error) {
	id, _, err := incident.VisibleRef(ctx, q, ref, now)
	if err != nil {
		return incidentFacts{}, err
	}
	f, err := scanFacts(q.QueryRowContext(ctx, `SELECT `+factColumns+` FROM incidents i WHERE i.id = $1`, id))
	if err != nil {
		return incidentFacts{}, fmt.Errorf("read incident: %w", err)
	}
	return f, nil
}

// matches reports whether rule subscribes a group or an external contact
// to an incident with these facts and scope.
func (r Rule) matches(f incidentFacts, scope incidentScope) bool {
	if len(r.Severities) > 0 && !slices.Contains(r.Severities, f.Severity) {
		return false
	}
	if len(r.Categories) > 0 && !slices.Contains(r.Categories, f.Category) {
		return false
	}
	if r.PHISuspected != nil && *r.PHISuspected != f.PHISuspected {
		return false
	}
	if len(r.Services) > 0 && !slices.ContainsFunc(scope.services, func(s string) bool { return slices.Contains(r.Services, s) }) {
		return false
	}
	if len(r.Customers) > 0 && !slices.ContainsFunc(scope.customers, func(c string) bool { return slices.Contains(r.Customers, c) }) {
		return false
	}
	return true
}

// incidentScope is what a rule looks at beyond an incident's facts: the
// services whose alerts fed it, and the registry customers it affects:
// those its customers field names (by id or name), and those its breach
// case owes a notice, met or not (covered_entity:{id}, 45 CFR 164.410).
type incidentScope struct {
	services, customers []string
}

func scopeOf(ctx context.Context, q db.Querier, f incidentFacts) (incidentScope, error) {
	var sc incidentScope
	strs := func(r *sql.Rows) (string, error) {
		var s string
		return s, r.Scan(&s)
	}
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT service_id FROM alerts WHERE incident_id = $1`, f.ID)
	if sc.services, err = db.Collect(rows, err, "read the incident's services", strs); err != nil {
		return sc, err
	}
	rows, err = q.QueryContext(ctx, `SELECT o.obligation FROM breach_cases c JOIN breach_obligations o ON o.case_id = c.id
		WHERE c.incident_id = $1`, f.ID)
	obligations, err := db.Collect(rows, err, "read notice obligations", strs)
	if err != nil {
		return sc, err
	}
	for _, o := range obligations {
		if id, ok := strings.CutPrefix(o, coveredEntityObligation); ok {
			sc.customers = append(sc.customers, id)
		}
	}
	var named string
	if err := q.QueryRowContext(ctx, `SELECT customers FROM incidents WHERE id = $1`, f.ID).Scan(&named); err != nil {
		return sc, fmt.Errorf("read the incident's customers: %w", err)
	}
	var names []string
	if err := json.Unmarshal([]byte(named), &names); err != nil {
		return sc, fmt.Errorf("read the incident's customers: %w", err)
	}
	for _, n := range names {
		rows, err := q.QueryContext(ctx, `SELECT id FROM breach_parties WHERE kind = 'customer' AND (id = $1 OR lower(name) = lower($1))`, n)
		ids, err := db.Collect(rows, err, "read customer", strs)
		if err != nil {
			return sc, err
		}
		sc.customers = append(sc.customers, ids...)
	}
	return sc, nil
}

// subscribed returns the groups subscribed to incident f, by hand or by
// rule, with their members.
func subscribed(ctx context.Context, q db.Querier, f incidentFacts) ([]Group, error) {
	scope, err := scopeOf(ctx, q, f)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT `+groupColumns+`, EXISTS (SELECT 1 FROM incident_stakeholders x
		WHERE x.group_id = g.id AND x.incident_id = $1) FROM stakeholder_groups g ORDER BY name`, f.ID)
	if err != nil {
		return nil, fmt.Errorf("read stakeholder groups: %w", err)
	}
	var out []Group
	for rows.Next() {
		var g Group
		var rule string
		var byHand bool
		if err := rows.Scan(&g.ID, &g.Name, &g.Description, &rule, &g.CreatedAt, &g.UpdatedAt, &g.Version, &g.Audience, &byHand); err != nil {
			rows.Close()
			return nil, err
		}
		if err := parseRule(&g, rule); err != nil {
			rows.Close()
			return nil, err
		}
		if byHand || g.ByRule && g.Rule.matches(f, scope) {
			out = append(out, g)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ptrs := make([]*Group, len(out))
	for i := range out {
		if out[i].Members, err = members(ctx, q, out[i].ID); err != nil {
			return nil, err
		}
		ptrs[i] = &out[i]
	}
	return out, labelGroups(ctx, q, ptrs)
}

// Subscribed lists the stakeholder groups subscribed to incident ref.
func (s *Service) Subscribed(ctx context.Context, ref string) ([]Group, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	f, err := visible(ctx, s.db.R, ref, s.clock.Now())
	if err != nil {
		return nil, err
	}
	return subscribed(ctx, s.db.R, f)
}

// Subscribe subscribes group to incident ref by hand.
func (s *Service) Subscribe(ctx context.Context, ref, group string) error {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		f, err := visible(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		g, err := getGroup(ctx, tx, group)
		if err != nil {
			return apperr.Field("group", "no stakeholder group %q", group)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_stakeholders (incident_id, group_id, added_by, added_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, group_id) DO NOTHING`, f.ID, g.ID, actor.String(), now); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		// The group's audience may be new to the incident: its cadence starts.
		if err := incident.RecheckSLATx(ctx, tx, f.ID, now); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, f.ID, incident.EventStatusUpdate, "Stakeholder group "+g.Name+" subscribed by "+actor.Name+".")
	})
}

// Update is a status update for stakeholders.
type Update struct {
	ID         string
	IncidentID string
	// Audience is who the update is written for; AudienceLabel its plain
	// name.
	Audience      string
	AudienceLabel string
	Body          string
	PostedBy      string
	PostedAt      time.Time
	// PHIChecked says the text passed the PHI check; it is false for an
	// update the Privacy Officer posted over the check, and for one posted
	// before the check existed. Such a text never leaves Ward.
	PHIChecked bool
	// Notified is how many messages announced it.
	Notified int
	// Emails is what became of its emails to the incident's confirmed
	// external subscribers (none for an update not PHI-checked).
	Emails MailCounts
}

// UpdateInput is a status update to post.
type UpdateInput struct {
	Body string
	// Audience is who it is for (AudienceInternal when empty): only the
	// groups and external subscribers of that audience hear of it.
	Audience string
	// PHIOverride posts a text the PHI check refuses; only the Privacy
	// Officer may, and the override is audited.
	PHIOverride bool
}

// PostUpdate records a status update for in.Audience on incident ref and
// tells every member of every subscribed group of that audience that it is
// there; the confirmed external subscribers of that audience are emailed
// its text. The text must hold
// no PHI: stakeholders who may not see PHI read it. A text that matches a
// PHI pattern (phiPatterns) is refused, naming the kind of pattern, unless
// the Privacy Officer overrides the check.
func (s *Service) PostUpdate(ctx context.Context, ref string, in UpdateInput) (Update, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Update{}, err
	}
	if in.PHIOverride && actor.Role != authz.RolePrivacyOfficer {
		return Update{}, apperr.New(apperr.Forbidden, "only the Privacy Officer may override the PHI check of a status update")
	}
	body := strings.TrimSpace(in.Body)
	switch n := len([]rune(body)); {
	case n == 0:
		return Update{}, apperr.Field("body", "is required")
	case n > MaxUpdateBody:
		return Update{}, apperr.Field("body", "is %d characters long; the limit is %d", n, MaxUpdateBody)
	}
	kinds := phiKinds(body)
	if len(kinds) > 0 && !in.PHIOverride {
		return Update{}, apperr.Field("body", "%s", phiRefusal(kinds))
	}
	now := s.clock.Now()
	u := Update{ID: newID(), Body: body, PostedBy: actor.String(), PostedAt: now, PHIChecked: len(kinds) == 0}
	sealed, err := s.keys.Seal([]byte(body), keys.StatusUpdateBody.Table, keys.StatusUpdateBody.Name, u.ID)
	if err != nil {
		return Update{}, err
	}
	ask, err := s.canAskToConfirm(ctx)
	if err != nil {
		return Update{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		f, err := visible(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		u.IncidentID = f.ID
		if ask {
			if _, err := s.subscribeByRuleTx(ctx, tx, f, now); err != nil {
				return err
			}
		}
		a, err := resolveAudience(ctx, tx, "audience", in.Audience, AudienceInternal)
		if err != nil {
			return err
		}
		u.Audience, u.AudienceLabel = a.Key, a.Label
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_updates (id, incident_id, body, posted_by, posted_at, phi_checked, audience)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, u.IncidentID, sealed, u.PostedBy, u.PostedAt, u.PHIChecked, u.Audience); err != nil {
			return fmt.Errorf("insert status update: %w", err)
		}
		groups, err := subscribed(ctx, tx, f)
		if err != nil {
			return err
		}
		var users, names []string
		for _, g := range groups {
			if g.Audience != u.Audience {
				continue
			}
			names = append(names, g.Name)
			for _, m := range g.Members {
				if !slices.Contains(users, m) {
					users = append(users, m)
				}
			}
		}
		if f.Drill {
			// A drill's stakeholders take no part in it: its participants
			// are told instead, the messages marked DRILL (docs/DRILLS.md).
			if _, users, err = incident.DrillParticipants(ctx, tx, f.ID); err != nil {
				return err
			}
		}
		if u.Notified, err = s.pager.NotifyUpdateTx(ctx, tx, f.ID, u.ID, "new status update", users); err != nil {
			return err
		}
		// The text goes by email to the confirmed external subscribers
		// only when it passed the PHI check, and never for a drill.
		withheld := 0
		switch {
		case f.Drill:
		case u.PHIChecked:
			if u.Emails.Recipients, err = queueUpdateTx(ctx, tx, f.ID, u.ID, u.Audience, now); err != nil {
				return err
			}
			u.Emails.Queued = u.Emails.Recipients
		default:
			if withheld, err = countConfirmedTx(ctx, tx, f.ID, u.Audience); err != nil {
				return err
			}
		}
		change := map[string]any{"status_update_id": u.ID, "audience": u.Audience, "groups": names, "messages": u.Notified, "external_emails": u.Emails.Recipients}
		if !u.PHIChecked {
			change["phi_override"], change["phi_patterns"] = true, kinds
		}
		if f.Drill {
			change["drill"] = true
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "status_update.post", ObjectType: "incident", ObjectID: f.ID,
			Change: change}); err != nil {
			return err
		}
		note := "Status update for " + u.AudienceLabel + " posted by " + actor.Name
		if len(names) > 0 && !f.Drill {
			note += " to " + strings.Join(names, ", ")
		}
		if !u.PHIChecked {
			note += ", over the PHI check (" + strings.Join(kinds, ", ") + ")"
		}
		if f.Drill {
			note += "; as this is a drill, it was announced to the drill's participants only, marked DRILL, and emailed to nobody outside Ward"
		}
		if u.Emails.Recipients > 0 {
			note += "; emailed to " + plural(u.Emails.Recipients, "external subscriber", "external subscribers")
		}
		if withheld > 0 {
			note += "; not emailed to the " + plural(withheld, "external subscriber", "external subscribers") + ", as it is not PHI-checked"
		}
		return s.incidents.RecordTx(ctx, tx, f.ID, incident.EventStatusUpdate, note+".")
	})
	if err != nil {
		return Update{}, err
	}
	return u, nil
}

// Updates lists incident ref's status updates, newest first.
func (s *Service) Updates(ctx context.Context, ref string) ([]Update, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	f, err := visible(ctx, s.db.R, ref, s.clock.Now())
	if err != nil {
		return nil, err
	}
	counts, err := mailCounts(ctx, s.db.R, f.ID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, body, posted_by, posted_at, phi_checked, audience FROM status_updates WHERE incident_id = $1
		ORDER BY posted_at DESC, id DESC LIMIT 500`, f.ID)
	if err != nil {
		return nil, fmt.Errorf("list status updates: %w", err)
	}
	defer rows.Close()
	out := []Update{}
	for rows.Next() {
		u := Update{IncidentID: f.ID}
		var sealed string
		if err := rows.Scan(&u.ID, &sealed, &u.PostedBy, &u.PostedAt, &u.PHIChecked, &u.Audience); err != nil {
			return nil, err
		}
		body, err := s.keys.Open(sealed, keys.StatusUpdateBody.Table, keys.StatusUpdateBody.Name, u.ID)
		if err != nil {
			return nil, err
		}
		u.Body, u.PostedAt, u.Emails = string(body), u.PostedAt.UTC(), counts[u.ID]
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var audiences []string
	for _, u := range out {
		audiences = append(audiences, u.Audience)
	}
	labels, err := audienceLabels(ctx, s.db.R, audiences)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].AudienceLabel = labels[out[i].Audience]
	}
	return out, nil
}

// plural is n with the noun that fits it: "1 subscriber", "2 subscribers".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
