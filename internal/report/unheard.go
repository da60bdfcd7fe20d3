package report

import (
	"context"
	"database/sql"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// UnheardWindow is how far back Unheard looks.
const UnheardWindow = 14 * 24 * time.Hour

// UnheardReminder is a breach-deadline reminder that reached no officer:
// no active Privacy or Security Officer had a verified contact method.
type UnheardReminder struct {
	IncidentNumber string
	Due            time.Time
	Overdue        bool
	At             time.Time
}

// Unheard lists, newest first, the breach reminders of the last
// UnheardWindow that reached no officer, so that pages can show them
// loudly instead of leaving them to the server log. For roles that see
// restricted incidents (the officers); nil for others.
func (s *Service) Unheard(ctx context.Context) ([]UnheardReminder, error) {
	a, ok := authz.ActorFrom(ctx)
	if !ok || !authz.Has(a.Role, authz.IncidentRestricted) {
		return nil, nil
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT i.number, r.due_at, r.mark, r.sent_at FROM report_reminders r
		JOIN breach_cases c ON c.id = r.case_id JOIN incidents i ON i.id = c.incident_id
		WHERE r.recipients = 0 AND r.sent_at >= $1 ORDER BY r.sent_at DESC, i.number LIMIT 10`, s.clock.Now().Add(-UnheardWindow))
	return db.Collect(rows, err, "read unheard reminders", func(r *sql.Rows) (UnheardReminder, error) {
		var u UnheardReminder
		var mark string
		err := r.Scan(&u.IncidentNumber, &u.Due, &mark, &u.At)
		u.Due, u.At, u.Overdue = u.Due.UTC(), u.At.UTC(), mark == Overdue
		return u, err
	})
}
