package breach

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/incident"
)

// Hold is a law-enforcement delay in force: a statement that a notice
// would impede a criminal investigation or damage national security, during
// which no notice may be made (45 CFR 164.412).
type Hold struct {
	From        time.Time
	Until       time.Time
	Citation    string
	RequestedBy string         // who asked, and how: "Det. A. Example (Metro PD), orally on 2026-04-20"
	Zone        *time.Location // the organisation's, to show Until in
}

// String names the hold for a person: who asked, until when (in the
// organisation's time zone, UTC beside it), and the citation.
func (h Hold) String() string {
	return fmt.Sprintf("%s asked that notices be delayed until %s (%s)", h.RequestedBy, FormatDue(h.Until, h.Zone), h.Citation)
}

// HoldOverride is the leave to make a notice during a law-enforcement
// hold: the official who gave it and why. A notice made under one is
// audited and written on the incident's timeline.
type HoldOverride struct {
	Official string
	Reason   string
}

// HoldAt returns the law-enforcement hold of facts f in force at t, if
// any; of two in force, the one that ends later. Days are counted, and
// dates shown, in f.Location (nil means UTC).
func HoldAt(f rules.Facts, t time.Time) (Hold, bool) {
	if f.Delay == nil {
		return Hold{}, false
	}
	var out Hold
	found := false
	for _, p := range f.Delay.Periods(f.Location) {
		if t.Before(p.From) || !t.Before(p.Until) || (found && !p.Until.After(out.Until)) {
			continue
		}
		out, found = Hold{From: p.From, Until: p.Until, Citation: p.Citation, RequestedBy: requester(*f.Delay, p, f.Location),
			Zone: f.Location}, true
	}
	return out, found
}

// requester names the statements behind hold period p: the oral one
// starts it (164.412(b)), the written one sets its end (164.412(a)).
func requester(d rules.LawEnforcementDelay, p rules.Period, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	var who []string
	if o := d.Oral; o != nil && p.From.Equal(o.At) {
		who = append(who, official(o.Official, o.Agency)+", orally on "+o.At.In(loc).Format(time.DateOnly))
	}
	if w := d.Written; w != nil && p.Until.Equal(w.Until) {
		who = append(who, official(w.Official, w.Agency)+", in writing on "+w.At.In(loc).Format(time.DateOnly))
	}
	if len(who) == 0 {
		return "A law-enforcement official"
	}
	return strings.Join(who, " and ")
}

func official(name, agency string) string {
	switch {
	case name != "" && agency != "":
		return name + " (" + agency + ")"
	case name != "":
		return name
	case agency != "":
		return "An official of " + agency
	}
	return "A law-enforcement official"
}

// CheckHoldTx refuses what, a notice about to be made or recorded on case
// c, while a law-enforcement hold is in force now or was at at (when the
// notice is recorded as made; zero for now only): Conflict naming the hold
// and the field hold_override. With an override naming the official and a
// reason, it goes ahead, and the override is audited and written on the
// incident's timeline in tx. Without a hold, an override is ignored.
func (s *Service) CheckHoldTx(ctx context.Context, tx *sql.Tx, c Case, what string, at time.Time, o *HoldOverride) error {
	now := s.clock.Now()
	var err error
	if c.Facts.Location, err = s.zone(ctx, tx); err != nil {
		return err
	}
	h, held := HoldAt(c.Facts, now)
	if !held && !at.IsZero() {
		h, held = HoldAt(c.Facts, at)
	}
	if !held {
		return nil
	}
	if o == nil {
		msg := fmt.Sprintf("a law-enforcement hold is in force on %s: %s. %s is refused until then, unless the official allows it: "+
			"give hold_override with the official's name and a reason", c.IncidentNumber, h, what)
		return &apperr.Error{Code: apperr.Conflict, Message: msg, Fields: []apperr.FieldError{{Field: "hold_override", Message: msg}}}
	}
	o.Official, o.Reason = strings.TrimSpace(o.Official), strings.TrimSpace(o.Reason)
	if o.Official == "" || len(o.Official) > 200 {
		return apperr.Field("hold_override.official", "name the law-enforcement official who allowed the notice (at most 200 characters)")
	}
	if n := len([]rune(o.Reason)); n < 10 || n > 1000 {
		return apperr.Field("hold_override.reason", "say why the notice goes out during the hold, in 10 to 1000 characters")
	}
	actor, _ := authz.ActorFrom(ctx)
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.hold_override", ObjectType: "incident", ObjectID: c.IncidentID,
		Change: map[string]any{"case_id": c.ID, "what": what, "official": o.Official, "reason": o.Reason, "hold_until": h.Until,
			"hold_citation": h.Citation}}); err != nil {
		return err
	}
	return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
		"Law-enforcement hold overridden by %s: %s during the hold (%s), allowed by %s: %s", actor.Name, what, h, o.Official, o.Reason))
}

// HoldNow returns the law-enforcement hold in force on case c now, or
// nil, for pages that warn of it and offer the override.
func (s *Service) HoldNow(ctx context.Context, c Case) (*Hold, error) {
	var err error
	if c.Facts.Location, err = s.zone(ctx, s.db.R); err != nil {
		return nil, err
	}
	if h, ok := HoldAt(c.Facts, s.clock.Now()); ok {
		return &h, nil
	}
	return nil, nil
}
