package paging

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// kindPageStatus tells the people paged for a page that it was
// acknowledged, escalated or resolved, or that nobody acknowledged it, on each of their contact methods
// with status updates on (ContactMethod.StatusUpdates).
const kindPageStatus = "page_status"

// The page events, as ward_pages_total and status lines name them.
const (
	eventTriggered    = "triggered"
	eventAcknowledged = "acknowledged"
	eventEscalated    = "escalated"
	eventResolved     = "resolved"
	// eventUnacknowledged: the escalation policy ran every step and
	// repeat and nobody acknowledged; nobody else will be paged.
	eventUnacknowledged = "unacknowledged"
)

// actedBy names who acted, as a status line may: a person's username, or
// what acted, never a name typed as free text (an API token's).
func actedBy(by string) string {
	kind, name, _ := strings.Cut(by, ":")
	switch authz.Kind(kind) {
	case authz.KindUser, authz.KindCLI:
		return name
	case authz.KindToken:
		return "an API token"
	case authz.KindIntegration:
		return "the monitoring tool"
	}
	switch by {
	case "alerts":
		return "the monitoring tool"
	}
	return "Ward"
}

// statusLine is a status notification's line: the event and who acted,
// within a message's status limit.
func statusLine(event, detail string) string {
	line := event
	if detail != "" {
		line += " " + detail
	}
	if len(line) > 64 {
		line = strings.ToValidUTF8(line[:64], "")
	}
	return line
}

// pageStatusTx queues a status notification with line about pg to every
// contact method with status updates on of each person paged for pg since
// it last started (a page message of it was sent, or is being sent), and
// counts event once tx commits.
func (p *Pager) pageStatusTx(ctx context.Context, tx *sql.Tx, pg *Page, event, line string) error {
	p.countPage(tx, event)
	rows, err := tx.QueryContext(ctx, `SELECT c.user_id, c.id, c.kind FROM contact_methods c JOIN users u ON u.id = c.user_id
		WHERE c.status_updates AND c.disabled_at IS NULL AND c.verified_at IS NOT NULL AND NOT u.disabled
		AND c.user_id IN (SELECT n.user_id FROM notifications n JOIN pages pg ON pg.id = n.page_id
			WHERE n.page_id = $1 AND n.kind = $2 AND n.status IN ($3, $4) AND n.created_at >= COALESCE(pg.triggered_at, pg.created_at))
		ORDER BY u.username, c.created_at`, pg.ID, kindPage, statusSending, statusSent)
	if err != nil {
		return fmt.Errorf("find the people paged: %w", err)
	}
	var qs []queued
	for rows.Next() {
		q := queued{kind: kindPageStatus, pageID: pg.ID, incidentID: pg.IncidentID, line: line}
		if err := rows.Scan(&q.userID, &q.contactID, &q.channel); err != nil {
			rows.Close()
			return err
		}
		qs = append(qs, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(qs) == 0 {
		return nil
	}
	return p.queueAll(ctx, tx, qs)
}

// countPage counts a page event in ward_pages_total once tx commits.
func (p *Pager) countPage(tx *sql.Tx, event string) {
	db.OnCommit(tx, func() { p.metrics.pages.WithLabelValues(event).Inc() })
}

// firstSentTx records, for the page messages of ds that were sent, the
// first send of each page since it last started, and observes its latency
// in ward_first_page_latency_seconds once tx commits: one statement per
// sentPerUpdate pages.
func (p *Pager) firstSentTx(ctx context.Context, tx *sql.Tx, ds []*delivery, now time.Time) error {
	seen := map[string]bool{}
	var ids []any
	for _, d := range ds {
		if d.kind != kindPage || d.pageID == "" || d.skip != "" || d.err != nil || seen[d.pageID] {
			continue
		}
		seen[d.pageID] = true
		ids = append(ids, d.pageID)
	}
	var latencies []float64
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), sentPerUpdate)]
		ids = ids[len(chunk):]
		marks := make([]string, len(chunk))
		for i := range chunk {
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE pages SET first_sent_at = $1 WHERE first_sent_at IS NULL AND triggered_at IS NOT NULL
			AND id IN (`+strings.Join(marks, ", ")+`) RETURNING triggered_at`, append([]any{now}, chunk...)...)
		if err != nil {
			return fmt.Errorf("record pages' first sends: %w", err)
		}
		for rows.Next() {
			var triggered time.Time
			if err := rows.Scan(&triggered); err != nil {
				rows.Close()
				return fmt.Errorf("record pages' first sends: %w", err)
			}
			latencies = append(latencies, max(now.Sub(triggered).Seconds(), 0))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("record pages' first sends: %w", err)
		}
	}
	if len(latencies) > 0 {
		db.OnCommit(tx, func() {
			for _, l := range latencies {
				p.metrics.firstPage.Observe(l)
			}
		})
	}
	return nil
}
