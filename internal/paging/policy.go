package paging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// Limits of an escalation policy.
const (
	MaxName          = 100
	MaxDescription   = 2000
	MaxSteps         = 20
	MaxTargets       = 10
	MaxRepeat        = 9
	MaxDelayMinutes  = 24 * 60
	MinAckTimeoutMin = 5
)

// TargetType says what a step notifies.
type TargetType string

// The target types.
const (
	TargetUser     TargetType = "user"     // a person
	TargetSchedule TargetType = "schedule" // whoever is on call in the schedule then
)

// Target is one user or schedule a step notifies.
type Target struct {
	Type TargetType `json:"type"`
	ID   string     `json:"id"`
}

// Step is one step of a policy: its targets are notified, and if nobody
// acknowledges within DelayMinutes the next step runs (after the last, the
// first again while repeats remain).
type Step struct {
	DelayMinutes int      `json:"delay_minutes"`
	Targets      []Target `json:"targets"`
}

// Policy is an escalation policy.
type Policy struct {
	ID          string
	Name        string
	Description string
	Steps       []Step
	// Repeat is how many more times the steps run after the last one.
	Repeat int
	// AckTimeoutMinutes, when not zero, pages again from the first step
	// when an acknowledged page is not resolved within that time.
	AckTimeoutMinutes int
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Version           int64
}

// PolicyInput is a new policy or the whole of an edited one. Targets may
// name users by id or username and schedules by id or name; they are
// stored by id.
type PolicyInput struct {
	Name              string
	Description       string
	Steps             []Step
	Repeat            int
	AckTimeoutMinutes int
}

func (in *PolicyInput) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	var fields []apperr.FieldError
	add := func(f, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Field: f, Message: fmt.Sprintf(format, args...)})
	}
	switch n := len([]rune(in.Name)); {
	case n == 0:
		add("name", "is required")
	case n > MaxName:
		add("name", "is %d characters long; the limit is %d", n, MaxName)
	}
	if n := len([]rune(in.Description)); n > MaxDescription {
		add("description", "is %d characters long; the limit is %d", n, MaxDescription)
	}
	if len(in.Steps) == 0 || len(in.Steps) > MaxSteps {
		add("steps", "must have 1 to %d steps, not %d", MaxSteps, len(in.Steps))
	}
	for i, st := range in.Steps {
		p := "steps[" + strconv.Itoa(i) + "]"
		if st.DelayMinutes < 1 || st.DelayMinutes > MaxDelayMinutes {
			add(p+".delay_minutes", "must be 1 to %d minutes, not %d", MaxDelayMinutes, st.DelayMinutes)
		}
		if len(st.Targets) == 0 || len(st.Targets) > MaxTargets {
			add(p+".targets", "must have 1 to %d targets, not %d", MaxTargets, len(st.Targets))
		}
		for j, t := range st.Targets {
			tp := p + ".targets[" + strconv.Itoa(j) + "]"
			if t.Type != TargetUser && t.Type != TargetSchedule {
				add(tp+".type", "%q is not one of user, schedule", t.Type)
			}
			if strings.TrimSpace(t.ID) == "" {
				add(tp+".id", "is required")
			}
		}
	}
	if in.Repeat < 0 || in.Repeat > MaxRepeat {
		add("repeat", "must be 0 to %d, not %d", MaxRepeat, in.Repeat)
	}
	if in.AckTimeoutMinutes != 0 && (in.AckTimeoutMinutes < MinAckTimeoutMin || in.AckTimeoutMinutes > MaxDelayMinutes) {
		add("ack_timeout_minutes", "must be 0 (none) or %d to %d minutes, not %d", MinAckTimeoutMin, MaxDelayMinutes, in.AckTimeoutMinutes)
	}
	if len(fields) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: fields[0].Field + ": " + fields[0].Message, Fields: fields}
	}
	return nil
}

// resolveTargets replaces each target's reference with its id, checking
// it exists (and, for a user, is not disabled).
func resolveTargets(ctx context.Context, q db.Querier, steps []Step) error {
	for i := range steps {
		for j := range steps[i].Targets {
			t := &steps[i].Targets[j]
			f := "steps[" + strconv.Itoa(i) + "].targets[" + strconv.Itoa(j) + "].id"
			var err error
			switch t.Type {
			case TargetUser:
				var disabled bool
				err = q.QueryRowContext(ctx, `SELECT id, disabled FROM users WHERE id = $1 OR username = $1`, t.ID).Scan(&t.ID, &disabled)
				if err == nil && disabled {
					return apperr.Field(f, "user %q is disabled", t.ID)
				}
			case TargetSchedule:
				err = q.QueryRowContext(ctx, `SELECT id FROM schedules WHERE id = $1 OR name = $1`, t.ID).Scan(&t.ID)
			}
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Field(f, "no %s %q", t.Type, t.ID)
			}
			if err != nil {
				return fmt.Errorf("resolve target: %w", err)
			}
		}
	}
	return nil
}

const policyColumns = "id, name, description, steps, repeat, ack_timeout_minutes, created_at, updated_at, version"

type scanner interface{ Scan(...any) error }

func scanPolicy(r scanner) (Policy, error) {
	var p Policy
	var steps string
	if err := r.Scan(&p.ID, &p.Name, &p.Description, &steps, &p.Repeat, &p.AckTimeoutMinutes, &p.CreatedAt, &p.UpdatedAt, &p.Version); err != nil {
		return Policy{}, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(steps), &p.Steps); err != nil {
		return Policy{}, fmt.Errorf("policy %s: steps: %w", p.ID, err)
	}
	return p, nil
}

func getPolicy(ctx context.Context, q db.Querier, ref string) (Policy, error) {
	p, err := scanPolicy(q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM escalation_policies WHERE id = $1 OR name = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, apperr.New(apperr.NotFound, "no escalation policy %q", ref)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("read escalation policy: %w", err)
	}
	return p, nil
}

// policyMemo keeps, in a transaction, an escalation policy it read by id
// (db.Remember); SavePolicyTx and DeletePolicyTx forget it.
type policyMemo struct{ id string }

// policyTx is escalation policy id as tx sees it, read once per
// transaction: an alert storm pages many incidents under one policy in
// one intake transaction.
func policyTx(ctx context.Context, tx *sql.Tx, id string) (Policy, error) {
	if v, ok := db.Recall(tx, policyMemo{id}); ok {
		return v.(Policy), nil
	}
	pol, err := getPolicy(ctx, tx, id)
	if err != nil {
		return Policy{}, err
	}
	db.Remember(tx, policyMemo{id}, pol)
	return pol, nil
}

// CreatePolicy records a new escalation policy.
func (p *Pager) CreatePolicy(ctx context.Context, in PolicyInput) (Policy, error) {
	return p.savePolicy(ctx, "", in)
}

// UpdatePolicy replaces the policy ref (id or name). Pages under way use
// the new steps from their next step on.
func (p *Pager) UpdatePolicy(ctx context.Context, ref string, in PolicyInput) (Policy, error) {
	return p.savePolicy(ctx, ref, in)
}

func (p *Pager) savePolicy(ctx context.Context, ref string, in PolicyInput) (Policy, error) {
	var out Policy
	err := p.db.Write(ctx, func(tx *sql.Tx) (err error) {
		out, err = SavePolicyTx(ctx, tx, p.clock.Now(), ref, in)
		return err
	})
	return out, err
}

// SavePolicyTx creates an escalation policy (ref empty) or replaces the
// policy ref (id or name) in tx, with the same checks and audit entry as
// CreatePolicy and UpdatePolicy.
func SavePolicyTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string, in PolicyInput) (Policy, error) {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return Policy{}, err
	}
	if err := in.validate(); err != nil {
		return Policy{}, err
	}
	var out Policy
	if err := resolveTargets(ctx, tx, in.Steps); err != nil {
		return Policy{}, err
	}
	steps, err := json.Marshal(in.Steps)
	if err != nil {
		return Policy{}, err
	}
	action := "escalation_policy.create"
	var old *Policy
	if ref == "" {
		out = Policy{ID: newID(), CreatedAt: now, Version: 1}
	} else {
		prev, err := getPolicy(ctx, tx, ref)
		if err != nil {
			return Policy{}, err
		}
		old, out, action = &prev, prev, "escalation_policy.update"
		out.Version++
	}
	out.Name, out.Description, out.Steps, out.Repeat, out.AckTimeoutMinutes = in.Name, in.Description, in.Steps, in.Repeat, in.AckTimeoutMinutes
	out.UpdatedAt = now
	if old == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO escalation_policies (`+policyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			out.ID, out.Name, out.Description, string(steps), out.Repeat, out.AckTimeoutMinutes, out.CreatedAt, out.UpdatedAt, out.Version)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE escalation_policies SET name = $1, description = $2, steps = $3, repeat = $4,
			ack_timeout_minutes = $5, updated_at = $6, version = $7 WHERE id = $8`,
			out.Name, out.Description, string(steps), out.Repeat, out.AckTimeoutMinutes, out.UpdatedAt, out.Version, out.ID)
	}
	if db.IsUniqueViolation(err) {
		return Policy{}, apperr.Field("name", "an escalation policy named %q exists already", out.Name)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("save escalation policy: %w", err)
	}
	db.Forget(tx, policyMemo{out.ID})
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "escalation_policy", ObjectID: out.ID,
		Change: map[string]any{"old": old, "new": out}})
	return out, err
}

// DeletePolicyTx deletes the escalation policy ref (id or name) in tx,
// audited. A policy that services or pages still point to is refused.
func DeletePolicyTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string) error {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return err
	}
	old, err := getPolicy(ctx, tx, ref)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM escalation_policies WHERE id = $1`, old.ID)
	if db.IsForeignKeyViolation(err) {
		return apperr.New(apperr.Conflict, "escalation policy %q is still used by services or pages; it is kept", old.Name)
	}
	if err != nil {
		return fmt.Errorf("delete escalation policy %q: %w", old.Name, err)
	}
	db.Forget(tx, policyMemo{old.ID})
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "escalation_policy.delete", ObjectType: "escalation_policy", ObjectID: old.ID,
		Change: map[string]any{"old": old}})
	return err
}

// GetPolicy returns the policy ref (id or name).
func (p *Pager) GetPolicy(ctx context.Context, ref string) (Policy, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Policy{}, err
	}
	return getPolicy(ctx, p.db.R, ref)
}

// Policies lists every escalation policy by name.
func (p *Pager) Policies(ctx context.Context) ([]Policy, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := p.db.R.QueryContext(ctx, `SELECT `+policyColumns+` FROM escalation_policies ORDER BY name`)
	return db.Collect(rows, err, "list escalation policies", func(r *sql.Rows) (Policy, error) { return scanPolicy(r) })
}
