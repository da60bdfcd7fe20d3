package stakeholder

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// Audiences: a status update is written for one, and each stakeholder
// group and external subscriber belongs to one and hears only of the
// updates written for it. A named customer's audience is
// AudienceCustomer followed by the id of a customer of the breach
// registry (breach_parties, kind customer).
const (
	AudienceInternal   = "internal" // the responders; the default
	AudienceExecutives = "executives"
	AudienceCounsel    = "counsel"
	AudiencePublic     = "public"
	AudienceCustomer   = "customer:"
)

// fixedAudiences are the audiences that name no customer, in the order
// the forms offer them.
var fixedAudiences = []string{AudienceInternal, AudienceExecutives, AudienceCounsel, AudiencePublic}

// Audience is an audience with its plain-language label.
type Audience struct {
	Key   string
	Label string
}

// audienceLabel is the plain name of audience key, given the name of its
// customer (for a customer's audience).
func audienceLabel(key, customer string) string {
	switch key {
	case AudienceInternal:
		return "Internal responders"
	case AudienceExecutives:
		return "Executives"
	case AudienceCounsel:
		return "Counsel"
	case AudiencePublic:
		return "Public"
	}
	return "Customer " + customer
}

// resolveAudience checks audience key (empty: def) and returns it with its
// label; a customer's audience must name a customer of the registry that
// is not archived. field names the input in a refusal.
func resolveAudience(ctx context.Context, q db.Querier, field, key, def string) (Audience, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		key = def
	}
	for _, a := range fixedAudiences {
		if key == a {
			return Audience{Key: a, Label: audienceLabel(a, "")}, nil
		}
	}
	party, ok := strings.CutPrefix(key, AudienceCustomer)
	if !ok || party == "" || len(party) > MaxName {
		return Audience{}, apperr.Field(field, "is not an audience: internal, executives, counsel, public or customer: followed by a customer's id")
	}
	var name string
	err := q.QueryRowContext(ctx, `SELECT name FROM breach_parties WHERE id = $1 AND kind = 'customer' AND archived_at IS NULL`, party).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return Audience{}, apperr.Field(field, "names no customer of the breach registry")
	}
	if err != nil {
		return Audience{}, fmt.Errorf("read customer: %w", err)
	}
	return Audience{Key: key, Label: audienceLabel(key, name)}, nil
}

// audienceLabels reads the label of every audience key in keys; a
// customer's that is no longer in the registry keeps its key's plain
// label ("Customer (no longer in the registry)").
func audienceLabels(ctx context.Context, q db.Querier, keys []string) (map[string]string, error) {
	out := map[string]string{}
	for _, k := range keys {
		if _, ok := out[k]; ok {
			continue
		}
		party, ok := strings.CutPrefix(k, AudienceCustomer)
		if !ok {
			out[k] = audienceLabel(k, "")
			continue
		}
		var name string
		err := q.QueryRowContext(ctx, `SELECT name FROM breach_parties WHERE id = $1`, party).Scan(&name)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			name = "(no longer in the registry)"
		case err != nil:
			return nil, fmt.Errorf("read customer: %w", err)
		}
		out[k] = audienceLabel(k, name)
	}
	return out, nil
}

// Audiences lists the audiences an update may be written for: the fixed
// ones, then each customer of the breach registry that is not archived,
// by name.
func (s *Service) Audiences(ctx context.Context) ([]Audience, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	out := make([]Audience, 0, len(fixedAudiences))
	for _, a := range fixedAudiences {
		out = append(out, Audience{Key: a, Label: audienceLabel(a, "")})
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, name FROM breach_parties WHERE kind = 'customer' AND archived_at IS NULL ORDER BY name, id`)
	customers, err := db.Collect(rows, err, "read customers", func(r *sql.Rows) (Audience, error) {
		var id, name string
		err := r.Scan(&id, &name)
		return Audience{Key: AudienceCustomer + id, Label: audienceLabel(AudienceCustomer+id, name)}, err
	})
	if err != nil {
		return nil, err
	}
	return append(out, customers...), nil
}
