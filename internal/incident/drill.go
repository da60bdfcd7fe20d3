package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/db"
)

// A drill is an exercise of the response plan (docs/DRILLS.md): every
// message about it goes to its participants only and says DRILL.

// DrillLabel starts every message's status line about a drill.
const DrillLabel = "DRILL"

// MaxMessageLine is the longest status line a message carries, in bytes
// (notify.Message's Status).
const MaxMessageLine = 64

// DrillLine is line as a message about a drill says it: "DRILL " first,
// cut to MaxMessageLine bytes on a character boundary.
func DrillLine(line string) string {
	line = DrillLabel + " " + line
	if len(line) > MaxMessageLine {
		line = strings.ToValidUTF8(line[:MaxMessageLine], "")
	}
	return line
}

// DrillParticipants reports whether incident id is a drill and, if it is,
// the ids of its participants, by username: the active users who hold a
// part in it, namely its commander, the user who started it, its members
// (incident_members) and the named owners of its tasks and action items.
// Messages about a drill reach these people only.
func DrillParticipants(ctx context.Context, q db.Querier, id string) (bool, []string, error) {
	var drill bool
	err := q.QueryRowContext(ctx, `SELECT drill FROM incidents WHERE id = $1`, id).Scan(&drill)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil, apperr.New(apperr.NotFound, "no incident %s", id)
	}
	if err != nil || !drill {
		return false, nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT u.id FROM users u JOIN incidents i ON i.id = $1 WHERE NOT u.disabled AND (
		u.username = i.commander OR i.created_by = ('user:' || u.username)
		OR EXISTS (SELECT 1 FROM incident_members m WHERE m.incident_id = i.id AND m.user_id = u.id)
		OR EXISTS (SELECT 1 FROM incident_tasks t WHERE t.incident_id = i.id AND t.owner = u.username)
		OR EXISTS (SELECT 1 FROM incident_action_items a WHERE a.incident_id = i.id AND a.owner = u.username))
		ORDER BY u.username`, id)
	users, err := db.Collect(rows, err, "read the drill's participants", func(r *sql.Rows) (string, error) {
		var u string
		return u, r.Scan(&u)
	})
	if err != nil {
		return false, nil, fmt.Errorf("incident %s: %w", id, err)
	}
	return true, users, nil
}
