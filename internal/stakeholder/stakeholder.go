// Package stakeholder keeps the people who must hear about an incident
// without working it (executives, counsel, the privacy office, a
// customer's contacts) informed: stakeholder groups subscribed by rule or
// by hand, the status updates responders post to them, and the SLA
// targets per severity with the checker that warns, reminds the incident
// commander when an update is overdue and escalates a missed target.
//
// Messages to Ward users carry the incident number, severity and a fixed
// status line ("new status update"); the update's text stays in Ward,
// where stakeholders read it after signing in. External subscribers
// (external.go), who have no sign-in, are emailed the text of an update
// that passed the PHI check, and nothing else of the incident.
package stakeholder

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/paging"
)

// Sealer encrypts and decrypts sealed columns (package keys).
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
}

// Service manages stakeholder groups, status updates and SLAs.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	keys      Sealer
	incidents *incident.Service
	pager     *paging.Pager
	log       *slog.Logger
	// mail sends email to external subscribers (SetMail); none until set.
	mail MailOptions
}

// New returns a Service that messages people through pager.
func New(d *db.DB, c clock.Clock, keys Sealer, incidents *incident.Service, pager *paging.Pager, log *slog.Logger) *Service {
	return &Service{db: d, clock: c, keys: keys, incidents: incidents, pager: pager, log: log}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Limits.
const (
	MaxName       = 100
	MaxText       = 2000
	MaxMembers    = 200
	MaxUpdateBody = 5000
)

// Rule subscribes a group, or an external contact, to every incident
// that meets all its present conditions; the empty rule matches every
// incident.
type Rule struct {
	Services     []string `json:"services,omitempty"` // service ids (names accepted on input)
	Severities   []string `json:"severities,omitempty"`
	Categories   []string `json:"categories,omitempty"`
	PHISuspected *bool    `json:"phi_suspected,omitempty"`
	// Customers are registry customers' ids (names accepted on input):
	// the incident must affect one of them (incidentScope).
	Customers []string `json:"customers,omitempty"`
}

// validate checks r's conditions in tx and turns the services and
// customers named into their ids; field prefixes the fields it names.
func (r *Rule) validate(ctx context.Context, tx *sql.Tx, field string) error {
	for i, s := range r.Severities {
		if !slices.Contains(incident.Severities, incident.Severity(s)) {
			return apperr.Field(field+".severities["+strconv.Itoa(i)+"]", "%q is not one of sev1, sev2, sev3, sev4", s)
		}
	}
	for i, c := range r.Categories {
		if !slices.Contains(incident.Categories, incident.Category(c)) {
			return apperr.Field(field+".categories["+strconv.Itoa(i)+"]", "%q is not an incident category", c)
		}
	}
	for i, ref := range r.Services {
		err := tx.QueryRowContext(ctx, `SELECT id FROM services WHERE id = $1 OR name = $1`, ref).Scan(&r.Services[i])
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Field(field+".services["+strconv.Itoa(i)+"]", "no service %q", ref)
		}
		if err != nil {
			return fmt.Errorf("read service: %w", err)
		}
	}
	for i, ref := range r.Customers {
		err := tx.QueryRowContext(ctx, `SELECT id FROM breach_parties WHERE (id = $1 OR name = $1) AND kind = 'customer'
			AND archived_at IS NULL ORDER BY id LIMIT 1`, ref).Scan(&r.Customers[i])
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Field(field+".customers["+strconv.Itoa(i)+"]", "no customer %q in the breach registry (or it is archived)", ref)
		}
		if err != nil {
			return fmt.Errorf("read customer: %w", err)
		}
	}
	return nil
}

// Group is a stakeholder group.
type Group struct {
	ID          string
	Name        string
	Description string
	// ByRule, when false, subscribes the group only by hand.
	ByRule  bool
	Rule    Rule
	Members []string // user ids
	// Audience is the audience whose updates the group hears of;
	// AudienceLabel its plain name.
	Audience      string
	AudienceLabel string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64
}

// GroupInput is a new group or the whole of an edited one; members are
// user ids or usernames.
type GroupInput struct {
	Name        string
	Description string
	ByRule      bool
	Rule        Rule
	Members     []string
	// Audience is the group's audience; empty: internal.
	Audience string
}

// stored is the rule column: null for a group subscribed only by hand.
func (g Group) stored() (string, error) {
	if !g.ByRule {
		return "null", nil
	}
	b, err := json.Marshal(g.Rule)
	return string(b), err
}

func (in *GroupInput) validate(ctx context.Context, tx *sql.Tx) error {
	in.Name = strings.TrimSpace(in.Name)
	switch n := len([]rune(in.Name)); {
	case n == 0:
		return apperr.Field("name", "is required")
	case n > MaxName:
		return apperr.Field("name", "is %d characters long; the limit is %d", n, MaxName)
	}
	if n := len([]rune(in.Description)); n > MaxText {
		return apperr.Field("description", "is %d characters long; the limit is %d", n, MaxText)
	}
	if len(in.Members) > MaxMembers {
		return apperr.Field("members", "has %d people; the limit is %d", len(in.Members), MaxMembers)
	}
	if err := in.Rule.validate(ctx, tx, "rule"); err != nil {
		return err
	}
	seen := map[string]bool{}
	members := in.Members[:0]
	for i, ref := range in.Members {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1 OR username = $1`, ref).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Field("members["+strconv.Itoa(i)+"]", "no user %q", ref)
		}
		if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		if !seen[id] {
			seen[id] = true
			members = append(members, id)
		}
	}
	in.Members = members
	a, err := resolveAudience(ctx, tx, "audience", in.Audience, AudienceInternal)
	in.Audience = a.Key
	return err
}

func scanGroup(r interface{ Scan(...any) error }) (Group, error) {
	var g Group
	var rule string
	if err := r.Scan(&g.ID, &g.Name, &g.Description, &rule, &g.CreatedAt, &g.UpdatedAt, &g.Version, &g.Audience); err != nil {
		return Group{}, err
	}
	return g, parseRule(&g, rule)
}

// parseRule fills in g's rule from its column.
func parseRule(g *Group, rule string) error {
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	if rule == "null" {
		return nil
	}
	g.ByRule = true
	if err := json.Unmarshal([]byte(rule), &g.Rule); err != nil {
		return fmt.Errorf("group %s: rule: %w", g.ID, err)
	}
	return nil
}

const groupColumns = "id, name, description, rule, created_at, updated_at, version, audience"

func members(ctx context.Context, q db.Querier, groupID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT user_id FROM stakeholder_members WHERE group_id = $1 ORDER BY user_id`, groupID)
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func getGroup(ctx context.Context, q db.Querier, ref string) (Group, error) {
	g, err := scanGroup(q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM stakeholder_groups WHERE id = $1 OR name = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, apperr.New(apperr.NotFound, "no stakeholder group %q", ref)
	}
	if err != nil {
		return Group{}, fmt.Errorf("read stakeholder group: %w", err)
	}
	if g.Members, err = members(ctx, q, g.ID); err != nil {
		return Group{}, err
	}
	return g, labelGroups(ctx, q, []*Group{&g})
}

// labelGroups fills in the groups' audience labels.
func labelGroups(ctx context.Context, q db.Querier, gs []*Group) error {
	var keys []string
	for _, g := range gs {
		keys = append(keys, g.Audience)
	}
	labels, err := audienceLabels(ctx, q, keys)
	if err != nil {
		return err
	}
	for _, g := range gs {
		g.AudienceLabel = labels[g.Audience]
	}
	return nil
}

// CreateGroup records a new stakeholder group.
func (s *Service) CreateGroup(ctx context.Context, in GroupInput) (Group, error) {
	return s.saveGroup(ctx, "", in)
}

// UpdateGroup replaces group ref (id or name).
func (s *Service) UpdateGroup(ctx context.Context, ref string, in GroupInput) (Group, error) {
	return s.saveGroup(ctx, ref, in)
}

func (s *Service) saveGroup(ctx context.Context, ref string, in GroupInput) (Group, error) {
	if _, err := authz.Check(ctx, authz.StakeholderWrite); err != nil {
		return Group{}, err
	}
	var out Group
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = SaveGroupTx(ctx, tx, s.clock.Now(), ref, in)
		return err
	})
	if err != nil {
		return Group{}, err
	}
	return out, nil
}

// SaveGroupTx creates (ref empty) or replaces stakeholder group ref (id
// or name) inside tx, with every check the API makes and its audit entry
// (stakeholder_group.create or .update), for callers that change more in
// the same transaction (configuration as code). The caller checks
// permissions.
func SaveGroupTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string, in GroupInput) (Group, error) {
	if err := in.validate(ctx, tx); err != nil {
		return Group{}, err
	}
	action := "stakeholder_group.create"
	var old *Group
	var out Group
	if ref == "" {
		out = Group{ID: newID(), CreatedAt: now, Version: 1}
	} else {
		prev, err := getGroup(ctx, tx, ref)
		if err != nil {
			return Group{}, err
		}
		old, out, action = &prev, prev, "stakeholder_group.update"
		out.Version++
	}
	out.Name, out.Description, out.ByRule, out.Rule, out.Members, out.UpdatedAt = in.Name, in.Description, in.ByRule, in.Rule, in.Members, now
	out.Audience = in.Audience
	rule, err := out.stored()
	if err != nil {
		return Group{}, err
	}
	if old == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO stakeholder_groups (`+groupColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			out.ID, out.Name, out.Description, rule, out.CreatedAt, out.UpdatedAt, out.Version, out.Audience)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE stakeholder_groups SET name = $1, description = $2, rule = $3, updated_at = $4,
			version = $5, audience = $6 WHERE id = $7`, out.Name, out.Description, rule, out.UpdatedAt, out.Version, out.Audience, out.ID)
	}
	if db.IsUniqueViolation(err) {
		return Group{}, apperr.Field("name", "a stakeholder group named %q exists already", out.Name)
	}
	if err != nil {
		return Group{}, fmt.Errorf("save stakeholder group: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM stakeholder_members WHERE group_id = $1`, out.ID); err != nil {
		return Group{}, fmt.Errorf("replace members: %w", err)
	}
	for _, m := range out.Members {
		if _, err := tx.ExecContext(ctx, `INSERT INTO stakeholder_members (group_id, user_id) VALUES ($1, $2)`, out.ID, m); err != nil {
			return Group{}, fmt.Errorf("add member: %w", err)
		}
	}
	if err := labelGroups(ctx, tx, []*Group{&out}); err != nil {
		return Group{}, err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "stakeholder_group", ObjectID: out.ID,
		Change: map[string]any{"old": old, "new": out}}); err != nil {
		return Group{}, err
	}
	return out, nil
}

// GroupsIn lists every stakeholder group in q by name, with its members'
// user ids, for configuration as code; the caller checks permissions.
func GroupsIn(ctx context.Context, q db.Querier) ([]Group, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+groupColumns+` FROM stakeholder_groups ORDER BY name`)
	out, err := db.Collect(rows, err, "list stakeholder groups", func(r *sql.Rows) (Group, error) { return scanGroup(r) })
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Members, err = members(ctx, q, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Groups lists every stakeholder group by name.
func (s *Service) Groups(ctx context.Context) ([]Group, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	out, err := GroupsIn(ctx, s.db.R)
	if err != nil {
		return nil, err
	}
	ptrs := make([]*Group, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, labelGroups(ctx, s.db.R, ptrs)
}

// GetGroup returns group ref (id or name).
func (s *Service) GetGroup(ctx context.Context, ref string) (Group, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Group{}, err
	}
	return getGroup(ctx, s.db.R, ref)
}
