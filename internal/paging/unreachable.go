package paging

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/authz"
)

// Unreachable returns the usernames, sorted and each once, of the users
// among ids who have no verified contact method: a page to them reaches
// nobody. Schedules and policies naming such a user are saved all the
// same (a person may add one later), with this as a warning.
func (p *Pager) Unreachable(ctx context.Context, ids []string) ([]string, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil, nil
	}
	marks, args := inList(ids)
	rows, err := p.db.R.QueryContext(ctx, `SELECT u.username FROM users u WHERE u.id IN (`+marks+`)
		AND NOT EXISTS (SELECT 1 FROM contact_methods c WHERE c.user_id = u.id AND c.verified_at IS NOT NULL)
		ORDER BY u.username`, args...)
	if err != nil {
		return nil, fmt.Errorf("read unreachable users: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// PolicyUsers returns the ids of the users pol's steps name themselves
// (not those its schedules page).
func PolicyUsers(pol Policy) []string {
	var ids []string
	for _, st := range pol.Steps {
		for _, t := range st.Targets {
			if t.Type == TargetUser {
				ids = append(ids, t.ID)
			}
		}
	}
	return ids
}

// ScheduleUsers returns the ids of the users s's rotations take turns
// between.
func ScheduleUsers(s Schedule) []string {
	var ids []string
	for _, r := range s.Rotations {
		ids = append(ids, r.Participants...)
	}
	return ids
}

// inList is the placeholders "$1, $2, …" for an IN list of ids, and the
// ids as the query's arguments.
func inList(ids []string) (string, []any) {
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = "$"+strconv.Itoa(i+1), id
	}
	return strings.Join(marks, ", "), args
}
