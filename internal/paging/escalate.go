package paging

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// NextStep is the step (from 0) and repeat that follow step of repeat
// round under policy pol: the next step, or the first of the next repeat
// after the last. ok is false when step is the last step of the last
// repeat: nobody is left to escalate to.
func NextStep(pol Policy, step, round int) (next, nextRound int, ok bool) {
	next, nextRound = step+1, round
	if next >= len(pol.Steps) {
		next, nextRound = 0, round+1
	}
	return next, nextRound, nextRound <= pol.Repeat
}

// Escalate moves incident ref's page to the next step of its escalation
// policy at once and pages that step, as the delay running out would: an
// acknowledged page escalates too (its alerts are triggered again), and
// any alarm ends. The last step of the last repeat has nowhere to go: a
// Conflict that says so; a resolved page is a Conflict.
func (p *Pager) Escalate(ctx context.Context, ref string) (Page, error) {
	return p.act(ctx, ref, actEscalate)
}

// Repage starts incident ref's page again from step 1 of its escalation
// policy, as a new trigger would: for an acknowledged page, or one that
// raised an alarm (nobody acknowledged, or it reached nobody). Its alerts
// are triggered again, its messages not yet sent cancelled and its alarm
// ended. A page still escalating without an alarm, or resolved, is a
// Conflict.
func (p *Pager) Repage(ctx context.Context, ref string) (Page, error) {
	return p.act(ctx, ref, actRepage)
}

// escalateTx is Escalate inside tx, pg locked.
func (p *Pager) escalateTx(ctx context.Context, tx *sql.Tx, pg *Page, now time.Time, actor authz.Actor) error {
	pol, err := getPolicy(ctx, tx, pg.PolicyID)
	if err != nil {
		return err
	}
	step, round, ok := NextStep(pol, pg.Step, pg.Round)
	if !ok {
		if pol.Repeat > 0 {
			return apperr.New(apperr.Conflict, "The page is on the last step of the escalation policy %s, and its repeats have run: "+
				"there is nobody further to escalate to. Page again to start from step 1.", pol.Name)
		}
		return apperr.New(apperr.Conflict, "The page is on the last step of the escalation policy %s: there is nobody further "+
			"to escalate to. Page again to start from step 1.", pol.Name)
	}
	from, fromRound, wasAcked := pg.Step, pg.Round, pg.Status == PageAcknowledged
	pg.Status, pg.Step, pg.Round, pg.AcknowledgedAt, pg.AcknowledgedBy = PageTriggered, step, round, nil, ""
	clearAlarm(pg)
	var alerts int64
	if wasAcked {
		if alerts, err = setAlerts(ctx, tx, pg.IncidentID, alert.StatusTriggered, now); err != nil {
			return err
		}
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "page.escalate", ObjectType: "incident", ObjectID: pg.IncidentID,
		Change: map[string]any{"page_id": pg.ID, "by": actor.String(), "from_step": from + 1, "from_repeat": fromRound,
			"to_step": step + 1, "to_repeat": round, "alerts_triggered": alerts}}); err != nil {
		return err
	}
	detail := fmt.Sprintf("to step %d of %d", step+1, len(pol.Steps))
	if round > 0 {
		detail += fmt.Sprintf(", repeat %d", round)
	}
	if err := p.pageStatusTx(ctx, tx, pg, eventEscalated, statusLine(eventEscalated, detail+" by "+actedBy(actor.String()))); err != nil {
		return err
	}
	return p.runStep(ctx, tx, pg, now, "Escalated now by "+actor.Name+". ")
}

// repageTx is Repage inside tx, pg locked.
func (p *Pager) repageTx(ctx context.Context, tx *sql.Tx, pg *Page, now time.Time, actor authz.Actor) error {
	if pg.Status == PageTriggered && pg.Alarm == "" {
		return apperr.New(apperr.Conflict, "The page is still escalating (step %d) and nobody has missed it yet: there is nothing "+
			"to page again. Escalate now to page the next step.", pg.Step+1)
	}
	from, fromRound, alarm := pg.Step, pg.Round, pg.Alarm
	pg.Status, pg.Step, pg.Round, pg.AcknowledgedAt, pg.AcknowledgedBy = PageTriggered, 0, 0, nil, ""
	clearAlarm(pg)
	if err := cancelPending(ctx, tx, pg.ID); err != nil {
		return err
	}
	alerts, err := setAlerts(ctx, tx, pg.IncidentID, alert.StatusTriggered, now)
	if err != nil {
		return err
	}
	if err := p.retriggerTx(ctx, tx, pg, now); err != nil {
		return err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "page.repage", ObjectType: "incident", ObjectID: pg.IncidentID,
		Change: map[string]any{"page_id": pg.ID, "by": actor.String(), "from_step": from + 1, "from_repeat": fromRound,
			"alarm": alarm, "alerts_triggered": alerts}}); err != nil {
		return err
	}
	return p.runStep(ctx, tx, pg, now, "Paged again by "+actor.Name+": the escalation policy starts again from step 1. ")
}
