package breach

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/db"
)

// Eligibility, in SQL over breach_individuals: who is sent a letter and
// who an email (164.404(d)(1)). Written notice goes by first-class mail to
// the last known address, or by email to one who agreed to electronic
// notice; a deceased individual's goes to the next of kin or personal
// representative by mail, if their address is known (164.404(d)(1)(ii)).
const (
	EmailEligible = `NOT deceased AND has_email AND consent_electronic`
	MailEligible  = `((NOT deceased AND has_address AND NOT (has_email AND consent_electronic)) OR (deceased AND has_next_of_kin_address))`
)

// The statuses of a notice that count towards a recipient group's
// progress (package notice names them all).
const (
	noticeSent     = "sent"
	noticeReturned = "returned"
)

// NoticeTally is what the individual notice of one recipient group (the
// residents of a State, or those whose State is not known) of a case
// stands at, kept as individuals and notices change (TallyTx) so that
// "N of M notified" reads one row per group, not one per individual.
// Owed counts the group's individuals but the deceased whose next of
// kin's address is unknown (no notice is owed them, 164.404(d)(2)); Sent
// those of them with a notice recorded as sent; Substitutable those of
// them without one whom a substitute notice (164.404(d)(2)) covers once
// it starts: no usable contact information, or a notice that came back.
type NoticeTally struct {
	State         string
	Owed          int
	Sent          int
	Substitutable int
}

// tally is what one State and customer group of a case's individuals
// counts: as Counts (StateCount) and as NoticeTally.
type tally struct {
	state, customer                                  string
	individuals, insufficient, deceased, deceasedKin int
	owed, sent, substitutable                        int
}

func scanTally(r *sql.Rows) (tally, error) {
	var t tally
	return t, r.Scan(&t.state, &t.customer, &t.individuals, &t.insufficient, &t.deceased, &t.deceasedKin, &t.owed, &t.sent,
		&t.substitutable)
}

// tallyOf is the SQL that counts the contribution of some of case $1's
// individuals (where, over b, which names the case) to its tallies, by
// State.
func tallyOf(where string) string {
	return `SELECT b.state, b.customer, count(*),
		COALESCE(SUM(CASE WHEN NOT b.deceased AND NOT b.has_address AND NOT (b.has_email AND b.consent_electronic) THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN b.deceased THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN b.deceased AND b.has_next_of_kin_address THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + owedSQL + ` THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + owedSQL + ` AND ` + sentSQL + ` THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN ` + owedSQL + ` AND NOT ` + sentSQL + ` AND (NOT (` + MailEligible + ` OR ` + EmailEligible + `)
			OR EXISTS (SELECT 1 FROM notices n WHERE n.case_id = b.case_id AND n.individual_id = b.id AND n.status = '` + noticeReturned + `'))
			THEN 1 ELSE 0 END), 0)
		FROM breach_individuals b WHERE ` + where + ` GROUP BY b.state, b.customer`
}

const (
	owedSQL = `NOT (b.deceased AND NOT b.has_next_of_kin_address)`
	sentSQL = `EXISTS (SELECT 1 FROM notices n WHERE n.case_id = b.case_id AND n.individual_id = b.id AND n.status = '` + noticeSent + `')`
)

// NoticeTallies returns case caseID's tallies of the groups that are owed
// a notice, by State.
func NoticeTallies(ctx context.Context, q db.Querier, caseID string) ([]NoticeTally, error) {
	rows, err := q.QueryContext(ctx, `SELECT state, SUM(owed), SUM(sent), SUM(substitutable) FROM breach_notice_tallies
		WHERE case_id = $1 GROUP BY state HAVING SUM(owed) > 0 ORDER BY state`, caseID)
	return db.Collect(rows, err, "read notice tallies", func(r *sql.Rows) (NoticeTally, error) {
		var t NoticeTally
		return t, r.Scan(&t.State, &t.Owed, &t.Sent, &t.Substitutable)
	})
}

// RecountNoticeTallies counts case caseID's tallies from every individual
// and notice, the long way: what TallyTx keeps must always equal it.
func RecountNoticeTallies(ctx context.Context, q db.Querier, caseID string) ([]NoticeTally, error) {
	rows, err := q.QueryContext(ctx, tallyOf("b.case_id = $1")+` ORDER BY b.state, b.customer`, caseID)
	ts, err := db.Collect(rows, err, "count notice tallies", scanTally)
	if err != nil {
		return nil, err
	}
	out := []NoticeTally{}
	for _, t := range ts {
		if n := len(out); n > 0 && out[n-1].State == t.state {
			out[n-1].Owed += t.owed
			out[n-1].Sent += t.sent
			out[n-1].Substitutable += t.substitutable
			continue
		}
		out = append(out, NoticeTally{State: t.state, Owed: t.owed, Sent: t.sent, Substitutable: t.substitutable})
	}
	kept := out[:0]
	for _, t := range out {
		if t.Owed > 0 {
			kept = append(kept, t)
		}
	}
	return kept, nil
}

// Tally moves a case's notice tallies by what one transaction changes of
// its individuals and their notices. Name each individual to Before
// before changing its row or its notices (or to New once it is added),
// then call Done in the same transaction: the individuals named are
// counted again and the difference saved.
type Tally struct {
	caseID string
	seen   map[string]bool
	ids    []string
	delta  map[[2]string]*tally
}

// tallyChunk is how many individuals one count names.
const tallyChunk = 500

// TallyTx starts a Tally of case caseID in tx. On PostgreSQL it locks the
// case's row, so that no other transaction changes the same individuals
// between the counts before and after (SQLite has one writer).
func (s *Service) TallyTx(ctx context.Context, tx *sql.Tx, caseID string) (*Tally, error) {
	if s.db.Dialect == db.Postgres {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM breach_cases WHERE id = $1 FOR NO KEY UPDATE`, caseID).Scan(&one); err != nil {
			return nil, fmt.Errorf("lock breach case: %w", err)
		}
	}
	return &Tally{caseID: caseID, seen: map[string]bool{}, delta: map[[2]string]*tally{}}, nil
}

// Before takes away the present contribution of the individuals ids not
// named yet: call it before changing their rows or notices.
func (t *Tally) Before(ctx context.Context, tx *sql.Tx, ids ...string) error {
	var fresh []string
	for _, id := range ids {
		if id != "" && !t.seen[id] {
			t.seen[id] = true
			t.ids = append(t.ids, id)
			fresh = append(fresh, id)
		}
	}
	return t.count(ctx, tx, fresh, -1)
}

// New names individuals just added, who counted nothing before.
func (t *Tally) New(ids ...string) {
	for _, id := range ids {
		if !t.seen[id] {
			t.seen[id] = true
			t.ids = append(t.ids, id)
		}
	}
}

// Done adds the contribution of every individual named, as they are now,
// and saves the difference to the case's tallies.
func (t *Tally) Done(ctx context.Context, tx *sql.Tx) error {
	if err := t.count(ctx, tx, t.ids, 1); err != nil {
		return err
	}
	groups := make([][2]string, 0, len(t.delta))
	for g, d := range t.delta {
		if *d != (tally{state: d.state, customer: d.customer}) {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, g := range groups {
		d := t.delta[g]
		if _, err := tx.ExecContext(ctx, `INSERT INTO breach_notice_tallies (case_id, state, customer, individuals, insufficient, deceased,
			deceased_kin, owed, sent, substitutable) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (case_id, state, customer)
			DO UPDATE SET individuals = breach_notice_tallies.individuals + excluded.individuals,
			insufficient = breach_notice_tallies.insufficient + excluded.insufficient,
			deceased = breach_notice_tallies.deceased + excluded.deceased,
			deceased_kin = breach_notice_tallies.deceased_kin + excluded.deceased_kin, owed = breach_notice_tallies.owed + excluded.owed,
			sent = breach_notice_tallies.sent + excluded.sent, substitutable = breach_notice_tallies.substitutable + excluded.substitutable`,
			t.caseID, d.state, d.customer, d.individuals, d.insufficient, d.deceased, d.deceasedKin, d.owed, d.sent, d.substitutable); err != nil {
			return fmt.Errorf("save notice tallies: %w", err)
		}
	}
	t.seen, t.ids, t.delta = map[string]bool{}, nil, map[[2]string]*tally{}
	return nil
}

// count adds sign times the contribution of individuals ids.
func (t *Tally) count(ctx context.Context, tx *sql.Tx, ids []string, sign int) error {
	for lo := 0; lo < len(ids); lo += tallyChunk {
		part := ids[lo:min(lo+tallyChunk, len(ids))]
		args := make([]any, 0, 1+len(part))
		args = append(args, t.caseID)
		var in strings.Builder
		for i, id := range part {
			if i > 0 {
				in.WriteString(", ")
			}
			fmt.Fprintf(&in, "$%d", i+2)
			args = append(args, id)
		}
		// By primary key: SQLite would otherwise read the case's every
		// individual through an index on case_id (case_id || '' is no
		// column an index holds) and filter them.
		rows, err := tx.QueryContext(ctx, tallyOf(`b.id IN (`+in.String()+`) AND b.case_id || '' = $1`), args...)
		ts, err := db.Collect(rows, err, "count notice tallies", scanTally)
		if err != nil {
			return err
		}
		for _, n := range ts {
			g := [2]string{n.state, n.customer}
			d := t.delta[g]
			if d == nil {
				d = &tally{state: n.state, customer: n.customer}
				t.delta[g] = d
			}
			d.individuals += sign * n.individuals
			d.insufficient += sign * n.insufficient
			d.deceased += sign * n.deceased
			d.deceasedKin += sign * n.deceasedKin
			d.owed += sign * n.owed
			d.sent += sign * n.sent
			d.substitutable += sign * n.substitutable
		}
	}
	return nil
}
