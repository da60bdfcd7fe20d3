package retention

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// bulkBatch is how many stand-alone records one purge transaction removes.
const bulkBatch = 500

// Report is the outcome of a purge or a preview (DryRun).
type Report struct {
	RunID  string // empty for a dry run
	DryRun bool
	At     time.Time
	Policy Policy
	// ChainOK is false when the audit chain failed verification or a
	// break it records is not reviewed yet (audit.Unreviewed); a purge is
	// then refused, and a dry run says so in ChainProblem.
	ChainOK      bool
	ChainProblem string
	Purged       []Item // what was purged, or for a dry run what would be
	Held         []Item // past retention, kept by a legal hold
}

// Counts returns how many records of each type r purged (or would).
func (r Report) Counts() map[RecordType]int {
	out := map[RecordType]int{}
	for _, it := range r.Purged {
		out[it.Type]++
	}
	return out
}

// chainState reports whether the audit chain is intact. A purge walks the
// whole chain; a dry run trusts the node's continuous verification
// (WatchChain) when it finds the chain intact, and walks the chain for
// the details when it does not.
func (s *Service) chainState(ctx context.Context, dryRun bool) (audit.Result, error) {
	if dryRun && s.watched != nil {
		if ok, _ := s.watched(); ok {
			return audit.Result{OK: true}, nil
		}
	}
	return audit.Verify(ctx, s.db.R)
}

// Preview returns what a purge would remove now, and what a legal hold
// keeps; it changes nothing.
func (s *Service) Preview(ctx context.Context) (Report, error) {
	return s.Purge(ctx, true)
}

// Purge removes every record past retention and not on legal hold, each
// in its own transaction with its audit entry (retention.purge) and
// tombstone, and ends with one retention.run entry holding the counts and
// ids. It refuses to start while the audit chain fails verification. A
// dry run changes nothing and needs only retention:read.
func (s *Service) Purge(ctx context.Context, dryRun bool) (Report, error) {
	perm := authz.RetentionWrite
	if dryRun {
		perm = authz.RetentionRead
	}
	actor, err := authz.Check(ctx, perm)
	if err != nil {
		return Report{}, err
	}
	now := s.clock.Now().UTC()
	set, err := readSettings(ctx, s.db.R)
	if err != nil {
		return Report{}, err
	}
	rep := Report{DryRun: dryRun, At: now, Policy: set.Policy}
	chain, err := s.chainState(ctx, dryRun)
	if err != nil {
		return Report{}, err
	}
	rep.ChainOK = chain.OK
	if !chain.OK {
		rep.ChainProblem = fmt.Sprintf("the audit trail fails verification at entry %d: %s", chain.BadSeq, chain.Reason)
	} else if open, err := audit.Unreviewed(ctx, s.db.R); err != nil {
		return Report{}, err
	} else if len(open) > 0 {
		rep.ChainOK = false
		rep.ChainProblem = fmt.Sprintf("the audit trail was found altered on %s (it broke at or before entry %d) and no "+
			"Security or Privacy Officer has reviewed that break yet", open[0].StartedAt.UTC().Format("2 January 2006"), open[0].BrokenAt)
	}
	if !rep.ChainOK {
		if !dryRun {
			s.log.ErrorContext(ctx, "retention_purge_refused_audit_chain_broken", "bad_seq", chain.BadSeq)
			return rep, apperr.New(apperr.Conflict, "purge refused: %s; nothing is purged until the trail verifies and every break in it is reviewed", rep.ChainProblem)
		}
	}
	pl, err := makePlan(ctx, s.db.R, set.Policy, now)
	if err != nil {
		return Report{}, err
	}
	rep.Held = pl.held
	if dryRun {
		rep.Purged = pl.due
		return rep, nil
	}
	rep.RunID = uuid.Must(uuid.NewV7()).String()
	if err := s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO retention_runs (id, actor, started_at, counts) VALUES ($1, $2, $3, '{}')`,
			rep.RunID, actor.String(), now)
		return err
	}); err != nil {
		return Report{}, fmt.Errorf("retention: start run: %w", err)
	}
	var bulk = map[RecordType][]string{}
	for _, it := range pl.due {
		if _, ok := bulkTable[it.Type]; ok {
			bulk[it.Type] = append(bulk[it.Type], it.ID)
			continue
		}
		done, err := s.purgeOne(ctx, rep.RunID, set.Policy, now, it)
		if err != nil {
			return rep, err
		}
		if done {
			rep.Purged = append(rep.Purged, it)
		}
	}
	for _, t := range []RecordType{Alerts, Messages, Sessions} {
		ids := bulk[t]
		for len(ids) > 0 {
			n := min(len(ids), bulkBatch)
			gone, err := s.purgeBulk(ctx, rep.RunID, set.Policy, now, t, ids[:n])
			if err != nil {
				return rep, err
			}
			for _, id := range gone {
				rep.Purged = append(rep.Purged, Item{Type: t, ID: id})
			}
			ids = ids[n:]
		}
	}
	if err := s.finishRun(ctx, rep); err != nil {
		return rep, err
	}
	s.log.InfoContext(ctx, "retention_purge_done", "run_id", rep.RunID, "purged", len(rep.Purged), "held", len(rep.Held))
	return rep, nil
}

// finishRun records the run's counts and ids in retention_runs and the
// audit trail.
func (s *Service) finishRun(ctx context.Context, rep Report) error {
	ids := map[RecordType][]string{}
	for _, it := range rep.Purged {
		ids[it.Type] = append(ids[it.Type], it.ID)
	}
	counts, err := json.Marshal(rep.Counts())
	if err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE retention_runs SET finished_at = $1, counts = $2 WHERE id = $3`,
			now, string(counts), rep.RunID); err != nil {
			return fmt.Errorf("retention: finish run: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "retention.run", ObjectType: "retention_run", ObjectID: rep.RunID,
			Change: map[string]any{"counts": rep.Counts(), "ids": ids, "held": len(rep.Held), "policy": rep.Policy}})
		return err
	})
}

// purgeOne purges one incident, breach case or case's individuals' PHI in
// its own transaction, after checking under the lock that it is still due
// and not held; done is false when it no longer is.
func (s *Service) purgeOne(ctx context.Context, runID string, p Policy, now time.Time, it Item) (done bool, err error) {
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		var rows int64
		switch it.Type {
		case BreachCases:
			cut, _ := p.Cutoff(BreachCases, now)
			still, _, err := selectItems(ctx, tx, it.Type, caseDueSQL, "NOT "+holdCond, "AND c.id = $2", cut, it.ID)
			if err != nil || len(still) == 0 {
				return err
			}
			if rows, err = purgeCase(ctx, tx, it.ID); err != nil {
				return err
			}
		case IndividualsPHI:
			cut, _ := p.Cutoff(IndividualsPHI, now)
			still, _, err := selectItems(ctx, tx, it.Type, individualsDueSQL, "NOT "+holdCond, "AND c.id = $2", cut, it.ID)
			if err != nil || len(still) == 0 {
				return err
			}
			if rows, err = purgeIndividuals(ctx, tx, it.ID, now); err != nil {
				return err
			}
		case Incidents:
			cut, _ := p.Cutoff(Incidents, now)
			still, cases, err := selectItems(ctx, tx, it.Type, incidentDueSQL, "NOT "+incHoldCond, "AND i.id = $2", cut, it.ID)
			if err != nil || len(still) == 0 || cases[0] != "" { // its case was not purged: it is still in effect
				return err
			}
			if err := s.incidents.UnindexTx(ctx, tx, it.ID); err != nil {
				return err
			}
			if rows, err = purgeIncident(ctx, tx, it.ID); err != nil {
				return err
			}
		default:
			return fmt.Errorf("retention: cannot purge %s one by one", it.Type)
		}
		if err := s.record(ctx, tx, runID, now, it, rows); err != nil {
			return err
		}
		done = true
		return nil
	})
	return done, err
}

// purgeBulk purges stand-alone records of type t among ids, still due
// under the lock, in one transaction; it returns those purged.
func (s *Service) purgeBulk(ctx context.Context, runID string, p Policy, now time.Time, t RecordType, ids []string) ([]string, error) {
	var gone []string
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		gone = nil
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		cut, _ := p.Cutoff(t, now)
		args := []any{cut}
		for _, id := range ids {
			args = append(args, id)
		}
		still, _, err := selectItems(ctx, tx, t, bulkSQL[t], "", "AND id IN ("+inList(2, len(ids))+")", args...)
		if err != nil || len(still) == 0 {
			return err
		}
		args = args[:0]
		for _, it := range still {
			args = append(args, it.ID)
		}
		if _, err := execCount(ctx, tx, `DELETE FROM `+bulkTable[t]+` WHERE id IN (`+inList(1, len(args))+`)`, args...); err != nil {
			return err
		}
		for _, it := range still {
			if err := s.record(ctx, tx, runID, now, it, 1); err != nil {
				return err
			}
			gone = append(gone, it.ID)
		}
		return nil
	})
	return gone, err
}

// record writes the purge of it to the audit trail and its tombstone. The
// tombstone and the entry share the record's type and id.
func (s *Service) record(ctx context.Context, tx *sql.Tx, runID string, now time.Time, it Item, rows int64) error {
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "retention.purge", ObjectType: string(it.Type), ObjectID: it.ID,
		Change: map[string]any{"run_id": runID, "label": it.Label, "rows": rows}}); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO retention_tombstones (record_type, record_id, label, rows_purged, run_id, purged_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (record_type, record_id) DO UPDATE SET rows_purged = excluded.rows_purged, run_id = excluded.run_id,
			purged_at = excluded.purged_at`,
		string(it.Type), it.ID, it.Label, rows, runID, now)
	if err != nil {
		return fmt.Errorf("retention: tombstone: %w", err)
	}
	return nil
}

// deleteAll runs each statement with args and sums the rows removed.
func deleteAll(ctx context.Context, tx *sql.Tx, stmts []string, args ...any) (int64, error) {
	var total int64
	for _, q := range stmts {
		n, err := execCount(ctx, tx, q, args...)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// purgeCase deletes breach case $1 and everything that belongs to it,
// children first.
func purgeCase(ctx context.Context, tx *sql.Tx, caseID string) (int64, error) {
	return deleteAll(ctx, tx, []string{
		`DELETE FROM notice_files WHERE case_id = $1`,
		`DELETE FROM notices WHERE case_id = $1`,
		`DELETE FROM notice_runs WHERE case_id = $1`,
		`DELETE FROM notice_settings WHERE case_id = $1`,
		`DELETE FROM notice_substitutes WHERE case_id = $1`,
		`DELETE FROM report_case_details WHERE case_id = $1`,
		`DELETE FROM report_hhs_filings WHERE case_id = $1`,
		`DELETE FROM report_reminders WHERE case_id = $1`,
		`DELETE FROM breach_notice_tallies WHERE case_id = $1`,
		`DELETE FROM breach_signature_requests WHERE case_id = $1`,
		`DELETE FROM breach_individuals WHERE case_id = $1`,
		`DELETE FROM breach_individual_imports WHERE case_id = $1`,
		`DELETE FROM breach_determinations WHERE case_id = $1`,
		`DELETE FROM breach_determination_drafts WHERE case_id = $1`,
		`DELETE FROM breach_obligations WHERE case_id = $1`,
		`DELETE FROM legal_holds WHERE scope = 'breach_case' AND incident_id = (SELECT incident_id FROM breach_cases WHERE id = $1)`,
		`DELETE FROM breach_cases WHERE id = $1`,
	}, caseID)
}

// purgeIncident deletes incident $1 (its breach case already gone) and
// everything that belongs to it, children first.
func purgeIncident(ctx context.Context, tx *sql.Tx, incID string) (int64, error) {
	return deleteAll(ctx, tx, []string{
		`DELETE FROM action_links WHERE page_id IN (SELECT id FROM pages WHERE incident_id = $1)`,
		`DELETE FROM notifications WHERE incident_id = $1 OR page_id IN (SELECT id FROM pages WHERE incident_id = $1)`,
		`DELETE FROM pages WHERE incident_id = $1`,
		`DELETE FROM alert_groups WHERE incident_id = $1`,
		`DELETE FROM alerts WHERE incident_id = $1`,
		`DELETE FROM privileged_marks WHERE incident_id = $1`,
		`DELETE FROM incident_events WHERE incident_id = $1`,
		`DELETE FROM incident_tasks WHERE incident_id = $1`,
		`DELETE FROM incident_playbooks WHERE incident_id = $1`,
		`DELETE FROM incident_action_items WHERE incident_id = $1`,
		`DELETE FROM incident_review_events WHERE incident_id = $1`,
		`DELETE FROM incident_reviews WHERE incident_id = $1`,
		`DELETE FROM incident_triage WHERE incident_id = $1`,
		`DELETE FROM incident_members WHERE incident_id = $1`,
		`DELETE FROM break_glass_grants WHERE incident_id = $1`,
		`DELETE FROM officer_alerts WHERE incident_id = $1`,
		`DELETE FROM incident_stakeholders WHERE incident_id = $1`,
		`DELETE FROM external_mail WHERE subscription_id IN (SELECT id FROM external_subscriptions WHERE incident_id = $1)`,
		`DELETE FROM status_page_sessions WHERE link_hash IN (SELECT l.token_hash FROM external_links l
			JOIN external_subscriptions x ON x.id = l.subscription_id WHERE x.incident_id = $1)`,
		`DELETE FROM status_page_codes WHERE subscription_id IN (SELECT id FROM external_subscriptions WHERE incident_id = $1)`,
		`DELETE FROM external_links WHERE subscription_id IN (SELECT id FROM external_subscriptions WHERE incident_id = $1)`,
		`DELETE FROM external_subscriptions WHERE incident_id = $1`,
		`DELETE FROM status_updates WHERE incident_id = $1`,
		`DELETE FROM sla_events WHERE incident_id = $1`,
		`DELETE FROM rule_firings WHERE incident_id = $1`,
		`DELETE FROM rule_webhook_deliveries WHERE incident_id = $1`,
		`DELETE FROM legal_holds WHERE incident_id = $1`,
		`DELETE FROM evidence_custody WHERE item_id IN (SELECT id FROM evidence_items WHERE incident_id = $1)`,
		`DELETE FROM evidence_chunks WHERE item_id IN (SELECT id FROM evidence_items WHERE incident_id = $1)`,
		`DELETE FROM evidence_items WHERE incident_id = $1`,
		`DELETE FROM incidents WHERE id = $1`,
	}, incID)
}

// purgeIndividuals removes the PHI of case $1's affected individuals and
// keeps what the case's counts and reports need (State, flags, customer):
// each sealed record is emptied, the notice files that hold names and
// addresses lose their content (name, size and SHA-256 stay), and the
// case's dedupe key is deleted, which crypto-shreds the keyed hashes the
// individuals are matched by (they can no longer be tested against a
// guess).
func purgeIndividuals(ctx context.Context, tx *sql.Tx, caseID string, now time.Time) (int64, error) {
	n, err := execCount(ctx, tx, `UPDATE breach_individuals SET record = '', updated_at = $2 WHERE case_id = $1 AND record <> ''`, caseID, now)
	if err != nil {
		return 0, err
	}
	m, err := execCount(ctx, tx, `UPDATE notice_files SET content = '' WHERE case_id = $1 AND content <> ''`, caseID)
	if err != nil {
		return 0, err
	}
	if _, err := execCount(ctx, tx, `UPDATE breach_cases SET individuals_key = '' WHERE id = $1`, caseID); err != nil {
		return 0, err
	}
	return n + m, nil
}

// PurgeScheduled is the periodic purge (package jobs, retention_purge),
// acting as Ward itself. A broken audit chain is logged and not retried:
// the next run checks again.
func (s *Service) PurgeScheduled(ctx context.Context) error {
	if _, ok := authz.ActorFrom(ctx); !ok {
		ctx = authz.WithActor(ctx, authz.System)
	}
	_, err := s.Purge(ctx, false)
	if apperr.CodeOf(err) == apperr.Conflict {
		return nil
	}
	return err
}
