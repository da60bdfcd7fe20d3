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
}

// Open counts the open (not closed) incidents the actor in ctx may see
// and lists the limit most urgent. The counts are one grouped query, so
// they stay exact however many incidents are open; the list walks the
// severity index and stops at limit.
func (s *Service) Open(ctx context.Context, limit int) (OpenView, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return OpenView{}, err
	}
	v := s.viewer(ctx)
	var args []any
	arg := binder(&args)
	open := "status <> " + arg(Closed)
	where := open + " AND " + v.cond("incidents", arg)
	out := OpenView{BySeverity: map[Severity]int{}, ByStatus: map[Status]int{}}
	// Incidents not restricted are counted from the incidents_open_counts
	// index alone; only restricted ones are read, to ask whether the
	// viewer may see them.
	rows, err := s.db.R.QueryContext(ctx, "SELECT severity, status, count(*) FROM incidents WHERE "+open+
		" AND NOT restricted GROUP BY severity, status UNION ALL SELECT severity, status, count(*) FROM incidents WHERE "+
		where+" AND restricted GROUP BY severity, status", args...)
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
