package notice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
)

// Progress is how far the individual notice to one recipient group (the
// residents of a State, or those whose State is not known) has got. Owed
// counts the group's individuals on the case's list but the deceased whose
// next of kin's address is unknown (no notice is owed them,
// 164.404(d)(2)); Notified those with a notice recorded as sent, and, once
// a substitute notice has started (164.404(d)(2)), those it covers: no
// usable contact information, or a notice that came back.
type Progress struct {
	Key      string `json:"key"`
	State    string `json:"state,omitempty"`
	Owed     int    `json:"owed"`
	Notified int    `json:"notified"`
}

// Done reports whether every owed individual of the group was notified.
func (p Progress) Done() bool { return p.Owed > 0 && p.Notified >= p.Owed }

// IndividualProgress returns the progress of the individual notice of
// incident ref's case, by obligation key (rules.IndividualsKey).
func (s *Service) IndividualProgress(ctx context.Context, ref string) (map[string]Progress, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	ps, err := s.progress(ctx, s.db.R, c.ID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Progress, len(ps))
	for _, p := range ps {
		out[p.Key] = p
	}
	return out, nil
}

// substituteStarted returns when case caseID's substitute notice started
// (its web posting or toll-free number, the earlier), if it has.
func substituteStarted(ctx context.Context, q db.Querier, caseID string) (*time.Time, error) {
	var ps, ts sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT posting_started_at, toll_free_started_at FROM notice_substitutes WHERE case_id = $1`,
		caseID).Scan(&ps, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read substitute notice: %w", err)
	}
	var out *time.Time
	for _, v := range []sql.NullTime{ps, ts} {
		if v.Valid && (out == nil || v.Time.Before(*out)) {
			t := v.Time.UTC()
			out = &t
		}
	}
	return out, nil
}

// progress reads case caseID's tallies (breach.Tally): the substitute
// notice, once started, counts those it covers as notified.
func (s *Service) progress(ctx context.Context, q db.Querier, caseID string) ([]Progress, error) {
	started, err := substituteStarted(ctx, q, caseID)
	if err != nil {
		return nil, err
	}
	ts, err := breach.NoticeTallies(ctx, q, caseID)
	if err != nil {
		return nil, err
	}
	out := make([]Progress, len(ts))
	for i, t := range ts {
		out[i] = Progress{Key: rules.IndividualsKey(t.State), State: t.State, Owed: t.Owed, Notified: t.Sent}
		if started != nil {
			out[i].Notified += t.Substitutable
		}
	}
	return out, nil
}

// meetIndividualsTx meets, in the caller's transaction, each individual
// notice obligation of case c whose group is now wholly notified, at the
// group's last notice (or the substitute notice's start, if later), with
// that evidence as its reason and on the timeline. A group whose
// obligation is met already, or that the case does not owe, is left
// alone.
func (s *Service) meetIndividualsTx(ctx context.Context, tx *sql.Tx, c breach.Case) error {
	ps, err := s.progress(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	started, err := substituteStarted(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if !p.Done() {
			continue
		}
		var last time.Time
		err := tx.QueryRowContext(ctx, `SELECT n.sent_at FROM notices n JOIN breach_individuals b ON b.id = n.individual_id
			WHERE n.case_id = $1 AND b.state = $2 AND n.status = $3 ORDER BY n.sent_at DESC LIMIT 1`, c.ID, p.State, StatusSent).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read notices: %w", err)
		}
		evidence := "letters or emails recorded as sent"
		if started != nil {
			evidence = "letters or emails recorded as sent, and the substitute notice (164.404(d)(2)) started " +
				started.UTC().Format("2006-01-02")
		}
		if started != nil && started.After(last) {
			last = *started
		}
		// The callers checked the law-enforcement hold for the notice
		// that completed the group.
		_, err = s.cases.MarkMetTx(ctx, tx, c.IncidentID, breach.Met{Key: p.Key, At: last.UTC(), HoldChecked: true,
			Reason: fmt.Sprintf("the record shows all %d individuals owed notice notified (%s), the last on %s UTC", p.Owed, evidence,
				last.UTC().Format("2006-01-02 15:04"))})
		if e, ok := apperr.As(err); ok && (e.Code == apperr.NotFound || e.Code == apperr.Conflict) {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
