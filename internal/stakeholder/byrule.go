package stakeholder

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// ruleContact is an external contact with a subscription rule.
type ruleContact struct {
	id, party string
	rule      Rule
}

// canAskToConfirm reports whether Ward can email a confirmation: an SMTP
// server is set up and the organisation profile has a name.
func (s *Service) canAskToConfirm(ctx context.Context) (bool, error) {
	if s.mail.Email == nil {
		return false, nil
	}
	org, err := s.mail.Organisation(ctx)
	return strings.TrimSpace(org) != "", err
}

// byRuleWanted reports whether any external contact has a rule and Ward
// can ask to confirm (canAskToConfirm): the SLA checker looks for
// contacts to subscribe only then, so an alert storm costs nothing more
// when no contact has a rule.
func (s *Service) byRuleWanted(ctx context.Context) (bool, error) {
	var found bool
	if err := s.db.R.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM external_contacts WHERE rule <> 'null')`).Scan(&found); err != nil {
		return false, fmt.Errorf("read contacts subscribed by rule: %w", err)
	}
	if !found {
		return false, nil
	}
	return s.canAskToConfirm(ctx)
}

// byRuleCandidates lists the external contacts whose rule matches
// incident f and who have never been subscribed to it. A drill or a
// need-to-know (restricted) incident subscribes nobody by rule.
func byRuleCandidates(ctx context.Context, q db.Querier, f incidentFacts) ([]ruleContact, error) {
	rows, err := q.QueryContext(ctx, `SELECT x.id, x.party_id, x.rule FROM external_contacts x, incidents i
		WHERE i.id = $1 AND NOT i.drill AND NOT i.restricted AND x.rule <> 'null'
		AND NOT EXISTS (SELECT 1 FROM external_subscriptions s WHERE s.contact_id = x.id AND s.incident_id = i.id) ORDER BY x.id`, f.ID)
	cs, err := db.Collect(rows, err, "read contacts subscribed by rule", func(r *sql.Rows) (ruleContact, error) {
		var c ruleContact
		var party sql.NullString
		var rule string
		if err := r.Scan(&c.id, &party, &rule); err != nil {
			return c, err
		}
		c.party = party.String
		if err := json.Unmarshal([]byte(rule), &c.rule); err != nil {
			return c, fmt.Errorf("contact %s: rule: %w", c.id, err)
		}
		return c, nil
	})
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	scope, err := scopeOf(ctx, q, f)
	if err != nil {
		return nil, err
	}
	out := cs[:0]
	for _, c := range cs {
		if c.rule.matches(f, scope) {
			out = append(out, c)
		}
	}
	return out, nil
}

// subscribeByRuleTx subscribes to incident f, in tx, every external
// contact whose rule matches it and who was never subscribed to it, each
// in the audience of the party it speaks for, and queues the email that
// asks each to confirm (double opt-in, as when subscribed by hand). A
// contact who unsubscribed from f, or was subscribed by hand, is left as
// they are. The caller has checked canAskToConfirm. Each subscription is
// audited (external_subscription.create, by_rule); the timeline says how
// many. It returns how many it subscribed.
func (s *Service) subscribeByRuleTx(ctx context.Context, tx *sql.Tx, f incidentFacts, now time.Time) (int, error) {
	cs, err := byRuleCandidates(ctx, tx, f)
	if err != nil || len(cs) == 0 {
		return 0, err
	}
	for _, c := range cs {
		a, err := defaultAudience(ctx, tx, c.party)
		if err != nil {
			return 0, err
		}
		id := newID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO external_subscriptions (id, incident_id, contact_id, status, subscribed_by, subscribed_at, audience)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, f.ID, c.id, SubscriptionPending, subscribedByRule, now, a); err != nil {
			return 0, fmt.Errorf("subscribe external contact by rule: %w", err)
		}
		if err := queueMail(ctx, tx, id, MailKindConfirm, "", now); err != nil {
			return 0, err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "external_subscription.create", ObjectType: "incident", ObjectID: f.ID,
			Change: map[string]any{"subscription_id": id, "contact_id": c.id, "audience": a, "by_rule": true}}); err != nil {
			return 0, err
		}
	}
	note := "An external contact was subscribed by rule and asked by email to confirm."
	if len(cs) > 1 {
		note = fmt.Sprintf("%d external contacts were subscribed by rule and asked by email to confirm.", len(cs))
	}
	return len(cs), s.incidents.RecordTx(ctx, tx, f.ID, incident.EventStatusUpdate, note)
}

// subscribedByRule is who subscribed a contact by rule (subscribed_by).
var subscribedByRule = string(authz.KindSystem) + ":rule"

// subscribeByRule subscribes the contacts whose rule matches incident f
// (subscribeByRuleTx), in a transaction of its own when there are any.
func (s *Service) subscribeByRule(ctx context.Context, f incidentFacts, now time.Time) error {
	cs, err := byRuleCandidates(ctx, s.db.R, f)
	if err != nil || len(cs) == 0 {
		return err
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := s.subscribeByRuleTx(ctx, tx, f, now)
		return err
	})
}
