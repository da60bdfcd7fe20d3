package retention

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// Item is one record past retention: purged, to be purged, or held.
type Item struct {
	Type RecordType
	ID   string
	// Label is the incident number for incidents, breach cases and
	// individuals' PHI; empty for the other types.
	Label string
}

// plan is what a purge at one instant removes, and what it keeps only
// because of a legal hold.
type plan struct {
	due  []Item
	held []Item
}

// holdCond is the condition "incident i has a legal hold in force".
const holdCond = `EXISTS (SELECT 1 FROM legal_holds h WHERE h.incident_id = i.id AND h.released_at IS NULL)`

// incHoldCond is the condition "incident i is kept by a legal hold": one
// on it or its case, or one on any of its evidence items (package
// evidence), since an incident is purged with its evidence.
const incHoldCond = `(` + holdCond + ` OR EXISTS (SELECT 1 FROM evidence_items eh WHERE eh.incident_id = i.id AND eh.held_at IS NOT NULL))`

// caseDueSQL selects the breach cases last in effect before $1 (the
// cutoff) whose incident is closed, every notice obligation met and no
// notice waiting; %s is the hold condition and then an extra filter.
//
// The cases lead (CROSS JOIN keeps SQLite from reordering the join; to
// PostgreSQL it is an inner join): led by "i.status = 'closed'", SQLite
// read every closed incident, and there are far more incidents than
// cases (issue #14).
const caseDueSQL = `SELECT c.id, i.number FROM breach_cases c CROSS JOIN incidents i
	WHERE i.id = c.incident_id AND i.status = 'closed' AND c.updated_at < $1 AND (i.closed_at IS NULL OR i.closed_at < $1) AND %s %s
	AND NOT EXISTS (SELECT 1 FROM breach_obligations o WHERE o.case_id = c.id AND (o.met_at IS NULL OR o.met_at >= $1))
	AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.case_id = c.id AND (n.updated_at >= $1 OR n.status IN ('pending', 'generated')))
	AND NOT EXISTS (SELECT 1 FROM report_hhs_filings f WHERE f.case_id = c.id AND f.recorded_at >= $1)
	AND NOT EXISTS (SELECT 1 FROM notice_substitutes u WHERE u.case_id = c.id
		AND (u.updated_at >= $1 OR u.posting_ends_at >= $1 OR u.toll_free_ends_at >= $1))
	AND NOT EXISTS (SELECT 1 FROM breach_individual_imports m WHERE m.case_id = c.id AND (m.updated_at >= $1 OR m.finished_at IS NULL))
	ORDER BY c.updated_at, c.id`

// individualsDueSQL selects the cases whose individuals' PHI the early
// purge removes: incident closed before $1, every obligation met and every
// notice done before $1, and some PHI left. The cases lead, as in
// caseDueSQL.
const individualsDueSQL = `SELECT c.id, i.number FROM breach_cases c CROSS JOIN incidents i
	WHERE i.id = c.incident_id AND i.status = 'closed' AND i.closed_at < $1 AND %s %s
	AND (c.individuals_key <> ''
		OR EXISTS (SELECT 1 FROM breach_individuals b WHERE b.case_id = c.id AND b.record <> '')
		OR EXISTS (SELECT 1 FROM notice_files nf WHERE nf.case_id = c.id AND nf.content <> ''))
	AND NOT EXISTS (SELECT 1 FROM breach_obligations o WHERE o.case_id = c.id AND (o.met_at IS NULL OR o.met_at >= $1))
	AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.case_id = c.id AND (n.updated_at >= $1 OR n.status IN ('pending', 'generated')))
	AND NOT EXISTS (SELECT 1 FROM breach_individual_imports m WHERE m.case_id = c.id AND (m.updated_at >= $1 OR m.finished_at IS NULL))
	ORDER BY i.closed_at, c.id`

// incidentDueSQL selects the closed incidents last in effect (closed,
// changed, or an alert joined) before $1, with their breach case's id if
// they have one. An incident keeps its evidence until each item is
// destroyed through its chain of custody (package evidence): until then
// it is not purged. An item on legal hold cannot be destroyed; it makes
// its incident one kept by a hold (incHoldCond), so that the purge
// reports it as held.
const incidentDueSQL = `SELECT i.id, i.number, coalesce(c.id, '') FROM incidents i LEFT JOIN breach_cases c ON c.incident_id = i.id
	WHERE i.status = 'closed' AND i.updated_at < $1 AND (i.closed_at IS NULL OR i.closed_at < $1) AND %s %s
	AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id AND a.last_at >= $1)
	AND NOT EXISTS (SELECT 1 FROM evidence_items e WHERE e.incident_id = i.id AND e.status <> 'destroyed' AND e.held_at IS NULL)
	ORDER BY i.updated_at, i.id`

// bulkSQL selects the records of the types that stand alone, by their
// own clocks.
var bulkSQL = map[RecordType]string{
	Alerts: `SELECT id FROM alerts WHERE incident_id IS NULL AND last_at < $1
		AND (resolved_at < $1 OR (resolved_at IS NULL AND suppressed)) %s ORDER BY last_at, id`,
	Messages: `SELECT id FROM notifications WHERE incident_id IS NULL AND page_id IS NULL
		AND status IN ('sent', 'failed', 'cancelled') AND created_at < $1 AND (sent_at IS NULL OR sent_at < $1) %s ORDER BY created_at, id`,
	Sessions: `SELECT id FROM sessions WHERE (ended_at < $1 OR (ended_at IS NULL AND expires_at < $1)) %s ORDER BY created_at, id`,
}

// bulkTable is where each stand-alone type lives.
var bulkTable = map[RecordType]string{Alerts: "alerts", Messages: "notifications", Sessions: "sessions"}

// selectItems runs one of the due queries with the hold condition cond and
// filter (e.g. "AND c.id = $2") and returns the items of type t.
func selectItems(ctx context.Context, q db.Querier, t RecordType, query, cond, filter string, args ...any) ([]Item, []string, error) {
	if cond != "" {
		query = fmt.Sprintf(query, cond, filter)
	} else {
		query = fmt.Sprintf(query, filter)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("retention: find %s: %w", t, err)
	}
	defer rows.Close()
	var items []Item
	var cases []string
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		it := Item{Type: t}
		var caseID string
		switch len(cols) {
		case 1:
			err = rows.Scan(&it.ID)
		case 2:
			err = rows.Scan(&it.ID, &it.Label)
		default:
			err = rows.Scan(&it.ID, &it.Label, &caseID)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("retention: find %s: %w", t, err)
		}
		items, cases = append(items, it), append(cases, caseID)
	}
	return items, cases, rows.Err()
}

// makePlan finds everything past retention under p at now on q.
func makePlan(ctx context.Context, q db.Querier, p Policy, now time.Time) (plan, error) {
	var out plan
	add := func(t RecordType, query string, cutoff time.Time) (map[string]bool, error) {
		due, _, err := selectItems(ctx, q, t, query, "NOT "+holdCond, "", cutoff)
		if err != nil {
			return nil, err
		}
		held, _, err := selectItems(ctx, q, t, query, holdCond, "", cutoff)
		if err != nil {
			return nil, err
		}
		out.due, out.held = append(out.due, due...), append(out.held, held...)
		ids := map[string]bool{}
		for _, it := range due {
			ids[it.ID] = true
		}
		return ids, nil
	}
	caseCut, _ := p.Cutoff(BreachCases, now)
	dueCases, err := add(BreachCases, caseDueSQL, caseCut)
	if err != nil {
		return plan{}, err
	}
	if cut, ok := p.Cutoff(IndividualsPHI, now); ok {
		due, _, err := selectItems(ctx, q, IndividualsPHI, individualsDueSQL, "NOT "+holdCond, "", cut)
		if err != nil {
			return plan{}, err
		}
		held, _, err := selectItems(ctx, q, IndividualsPHI, individualsDueSQL, holdCond, "", cut)
		if err != nil {
			return plan{}, err
		}
		for _, it := range due {
			if !dueCases[it.ID] { // a case purged whole takes its individuals with it
				out.due = append(out.due, it)
			}
		}
		out.held = append(out.held, held...)
	}
	incCut, _ := p.Cutoff(Incidents, now)
	for _, held := range []bool{false, true} {
		cond := "NOT " + incHoldCond
		if held {
			cond = incHoldCond
		}
		items, cases, err := selectItems(ctx, q, Incidents, incidentDueSQL, cond, "", incCut)
		if err != nil {
			return plan{}, err
		}
		for i, it := range items {
			switch {
			case held:
				out.held = append(out.held, it)
			case cases[i] == "" || dueCases[cases[i]]:
				out.due = append(out.due, it)
			}
		}
	}
	for _, t := range []RecordType{Alerts, Messages, Sessions} {
		cut, _ := p.Cutoff(t, now)
		items, _, err := selectItems(ctx, q, t, bulkSQL[t], "", "", cut)
		if err != nil {
			return plan{}, err
		}
		out.due = append(out.due, items...)
	}
	return out, nil
}

// inList returns "$n, $n+1, ..." for k values starting at n.
func inList(n, k int) string {
	ps := make([]string, k)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", n+i)
	}
	return strings.Join(ps, ", ")
}

// execCount runs a statement and returns the rows it affected.
func execCount(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	r, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("retention: %s: %w", firstWords(query), err)
	}
	return r.RowsAffected()
}

func firstWords(q string) string {
	f := strings.Fields(q)
	return strings.Join(f[:min(len(f), 3)], " ")
}
