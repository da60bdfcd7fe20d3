package incident

import (
	"context"
	"fmt"

	"github.com/wardhq/ward/internal/authz"
)

// OpenView is the home page's picture of the open incidents the actor
// may see: exact counts, and the most urgent few.
type OpenView struct {
	// BySeverity and ByStatus count every open incident the actor may see.
	BySeverity map[Severity]int
	ByStatus   map[Status]int
	// Urgent are the first of them, most severe first and oldest first
	// within a severity, their titles revealed as List reveals them
	// (descriptions left out).
	Urgent []Incident
	// Total counts them all, so that a page can say how many Urgent leaves out.
	Total int
	// Drills counts the open drills the actor may see, which the counts
	// and the list above leave out: an exercise, not work owed.
	Drills int
}

// Open counts the open (not closed) incidents the actor in ctx may see
// and lists the limit most urgent. The counts are exact and cost the same
// however many incidents are open (see FoldOpenCounts); the list walks the
// severity index and stops at limit.
func (s *Service) Open(ctx context.Context, limit int) (OpenView, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return OpenView{}, err
	}
	v := s.viewer(ctx)
	var args []any
	arg := binder(&args)
	open := "status <> " + arg(Closed)
	seen := open + " AND " + v.cond("incidents", arg)
	where := seen + " AND NOT drill"
	out := OpenView{BySeverity: map[Severity]int{}, ByStatus: map[Status]int{}}
	// Incidents not restricted are counted from incident_open_counts,
	// which triggers keep (migrations 0051 and 0066, drills left out): its rows since the last fold,
	// however many incidents are open. Restricted ones are read, from
	// their own index, to ask whether the viewer may see them.
	rows, err := s.db.R.QueryContext(ctx, "SELECT severity, status, CAST(sum(n) AS BIGINT) FROM incident_open_counts GROUP BY severity, status"+
		" UNION ALL SELECT severity, status, count(*) FROM incidents WHERE "+where+" AND restricted GROUP BY severity, status",
		args...)
	if err != nil {
		return OpenView{}, fmt.Errorf("count open incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sev Severity
		var st Status
		var n int
		if err := rows.Scan(&sev, &st, &n); err != nil {
			return OpenView{}, fmt.Errorf("count open incidents: %w", err)
		}
		out.BySeverity[sev] += n
		out.ByStatus[st] += n
		out.Total += n
	}
	if err := rows.Err(); err != nil {
		return OpenView{}, fmt.Errorf("count open incidents: %w", err)
	}
	// The open drills, from their partial index (migration 0062).
	if err := s.db.R.QueryRowContext(ctx, "SELECT count(*) FROM incidents WHERE "+seen+" AND drill", args...).Scan(&out.Drills); err != nil {
		return OpenView{}, fmt.Errorf("count open drills: %w", err)
	}
	rows, err = s.db.R.QueryContext(ctx, "SELECT "+incidentColumns+" FROM incidents WHERE "+where+
		" ORDER BY severity, created_at, id LIMIT "+arg(limit), args...)
	if err != nil {
		return OpenView{}, fmt.Errorf("list open incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return OpenView{}, fmt.Errorf("list open incidents: %w", err)
		}
		inc.Description = ""
		out.Urgent = append(out.Urgent, inc)
	}
	if err := rows.Err(); err != nil {
		return OpenView{}, fmt.Errorf("list open incidents: %w", err)
	}
	shown := make([]*Incident, len(out.Urgent))
	for i := range out.Urgent {
		shown[i] = &out.Urgent[i]
	}
	if err := s.reveal(ctx, shown, nil); err != nil {
		return OpenView{}, err
	}
	return out, nil
}

// FoldOpenCounts folds the rows of incident_open_counts, which triggers
// append as incidents open, move and close, into one row per severity and
// phase (db.DB.Fold), so that counting them stays cheap; a periodic task
// runs it.
func (s *Service) FoldOpenCounts(ctx context.Context) error {
	if err := s.db.Fold(ctx, "incident_open_counts", "severity", "status"); err != nil {
		return fmt.Errorf("fold open counts: %w", err)
	}
	return nil
}
