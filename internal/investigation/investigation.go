// Package investigation makes an incident's investigation report
// (docs/REVIEW.md, "The investigation report"): the facts, the timeline,
// the evidence with its hashes and chain of custody, the breach
// determinations and notices, and the post-incident review with its
// action items, as Markdown or PDF, in plain language.
package investigation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/labels"
)

// Sources are the services a report reads, each as the caller.
type Sources struct {
	Incidents *incident.Service
	Evidence  *evidence.Service
	Breach    *breach.Service
}

// Report is an investigation report: its title and sections.
type Report struct {
	Number      string
	Title       string
	GeneratedAt time.Time
	GeneratedBy string
	Sections    []Section
	// Privileged says what the report does with privileged records: left
	// out (and how many), or put in at counsel's asking.
	Privileged string
	// Drill says the incident is a drill: every page and the title say
	// DRILL (docs/DRILLS.md).
	Drill bool
}

// privilege carries what a report does with privileged records and counts
// the ones it leaves out.
type privilege struct {
	include bool
	leftOut int
}

// leave counts n privileged records left out and returns the sentence
// saying so, "" when none was.
func (p *privilege) leave(n int, what string) string {
	if n == 0 {
		return ""
	}
	p.leftOut += n
	return fmt.Sprintf(" %s marked privileged & confidential (attorney work product) left out.", labels.Count(n, what, what+"s"))
}

// Section is one part of the report: its heading, an optional sentence
// under it, and its entries.
type Section struct {
	Heading string
	Intro   string
	Entries []Entry
}

// Entry is a labelled piece of a section; Label may be empty.
type Entry struct {
	Label string
	Text  string
}

// The report's section headings, in order.
const (
	HeadFacts          = "Facts"
	HeadTimeline       = "Timeline"
	HeadEvidence       = "Evidence and chain of custody"
	HeadDeterminations = "Breach determinations"
	HeadNotices        = "Notices"
	HeadReview         = "Post-incident review"
	HeadActionItems    = "Action items"
)

func day(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 UTC") }

func dayPtr(t *time.Time) string {
	if t == nil {
		return "not recorded"
	}
	return day(*t)
}

// who names an actor as the audit trail records them ("user:alice") by
// their name alone.
func who(actor string) string {
	if _, name, ok := strings.Cut(actor, ":"); ok {
		return name
	}
	return actor
}

func or(s, none string) string {
	if strings.TrimSpace(s) == "" {
		return none
	}
	return s
}

// Build reads incident ref's investigation as the caller, who must be
// allowed to see PHI, and records the read in the audit trail as a read of
// PHI naming format ("markdown" or "pdf"). Notes, evidence items and the
// review marked privileged are left out, and each section says how many,
// unless includePrivileged, which only a caller who may see privileged
// content may ask for (403 otherwise): they are then in the report,
// labelled, and their reads audited.
func Build(ctx context.Context, src Sources, ref, format string, includePrivileged bool) (Report, error) {
	actor, err := authz.Check(ctx, authz.IncidentReadPHI)
	if err != nil {
		return Report{}, err
	}
	if includePrivileged {
		if _, err := authz.Check(ctx, authz.PrivilegedRead); err != nil {
			return Report{}, err
		}
	}
	priv := &privilege{include: includePrivileged}
	inc, err := src.Incidents.Get(ctx, ref)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Number: inc.Number, Title: inc.Title, GeneratedBy: actor.Name, Drill: inc.Drill}
	facts := Section{Heading: HeadFacts, Entries: []Entry{
		{"Incident", inc.Number + ": " + inc.Title},
		{"Description", or(inc.Description, "none recorded")},
		{"Category", labels.Of(string(inc.Category))},
		{"Severity", labels.Of(string(inc.Severity))},
		{"Phase", labels.Of(string(inc.Status)) + resolution(inc)},
		{"Occurred", dayPtr(inc.OccurredAt)},
		{"Detected", day(inc.DetectedAt)},
		{"Closed", dayPtr(inc.ClosedAt)},
		{"Incident commander", or(inc.Commander, "none named")},
		{"PHI suspected", yesNo(inc.PHISuspected)},
	}}
	if inc.Drill {
		facts.Entries = append(facts.Entries, Entry{"Drill", "yes: an exercise of the response plan, not a real incident " +
			"(45 CFR 164.308(a)(7)(ii)(D)); it has no breach case"})
	}
	if len(inc.Customers) > 0 {
		facts.Entries = append(facts.Entries, Entry{"Customers", strings.Join(inc.Customers, ", ")})
	}
	rep.Sections = append(rep.Sections, facts)

	tl, err := timeline(ctx, src.Incidents, inc.ID, priv)
	if err != nil {
		return Report{}, err
	}
	rep.Sections = append(rep.Sections, tl)

	ev, err := evidenceSection(ctx, src.Evidence, inc.ID, actor, priv)
	if err != nil {
		return Report{}, err
	}
	rep.Sections = append(rep.Sections, ev)

	dets, notices, err := breachSections(ctx, src.Breach, inc.ID)
	if err != nil {
		return Report{}, err
	}
	rep.Sections = append(rep.Sections, dets, notices)

	rv, items, err := reviewSections(ctx, src.Incidents, inc.ID, priv)
	if err != nil {
		return Report{}, err
	}
	rep.Sections = append(rep.Sections, rv, items)

	switch {
	case priv.include:
		rep.Privileged = "At the request of " + actor.Name + ", this report includes the records marked privileged & confidential " +
			"(attorney work product), each labelled."
	case priv.leftOut > 0:
		rep.Privileged = labels.Count(priv.leftOut, "record", "records") + " marked privileged & confidential (attorney work " +
			"product) left out of this report; counsel or the Privacy Officer may ask for them."
	}
	if rep.GeneratedAt, err = src.Incidents.RecordReportRead(ctx, inc.ID, "investigation_report:"+format); err != nil {
		return Report{}, err
	}
	return rep, nil
}

// privilegedLabel prefixes a privileged record's label in a report that
// includes it.
func privilegedLabel(p *incident.Privilege, label string) string {
	if p == nil {
		return label
	}
	return "[" + p.Line() + "] " + label
}

func resolution(inc incident.Incident) string {
	if inc.Resolution == "" {
		return ""
	}
	return " (" + strings.ToLower(labels.Of(string(inc.Resolution))) + ")"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// timeline is the review's key events when it has any, else every entry
// of the incident's timeline.
func timeline(ctx context.Context, incs *incident.Service, id string, priv *privilege) (Section, error) {
	s := Section{Heading: HeadTimeline}
	ks, err := incs.KeyEvents(ctx, id)
	if err != nil {
		return s, err
	}
	if len(ks) > 0 {
		s.Intro = "The key events the post-incident review chose from the incident's timeline."
		left := 0
		for _, k := range ks {
			if k.Privilege != nil && !priv.include {
				left++
				continue
			}
			text := k.Text
			if k.Annotation != "" {
				text = strings.TrimSpace(text + "\nReview: " + k.Annotation)
			}
			s.Entries = append(s.Entries, Entry{privilegedLabel(k.Privilege, day(k.At)+" · "+k.Label), text})
		}
		s.Intro += priv.leave(left, "key event")
		return s, nil
	}
	evs, err := incs.Timeline(ctx, id, "", 0, 0)
	if err != nil {
		return s, err
	}
	s.Intro = "Every entry of the incident's timeline (the review chose no key events)."
	left := 0
	for _, e := range evs {
		if e.Privilege != nil && !priv.include {
			left++
			continue
		}
		s.Entries = append(s.Entries, Entry{privilegedLabel(e.Privilege, day(e.At)+" · "+incident.EventLabel(e.Kind, e.FromStatus,
			e.ToStatus)+" · "+who(e.Actor)), e.Note})
	}
	s.Intro += priv.leave(left, "note")
	return s, nil
}

func evidenceSection(ctx context.Context, ev *evidence.Service, id string, actor authz.Actor, priv *privilege) (Section, error) {
	s := Section{Heading: HeadEvidence}
	if !authz.Has(actor.Role, authz.EvidenceRead) {
		s.Intro = "Not shown: the role of the person who made this report may not read evidence."
		return s, nil
	}
	items, err := ev.List(ctx, id)
	if err != nil {
		return s, err
	}
	if len(items) == 0 {
		s.Intro = "No evidence was recorded."
		return s, nil
	}
	left := 0
	for _, it := range items {
		if it.Privilege != nil && !priv.include {
			left++
			continue
		}
		_, custody, err := ev.Get(ctx, id, it.ID)
		if err != nil {
			return s, err
		}
		var b strings.Builder
		integrity := "not checked again since intake"
		switch {
		case it.Integrity == evidence.IntegrityOK:
			integrity = "the file matched its SHA-256 when last checked, " + dayPtr(it.CheckedAt)
		case it.Integrity == evidence.IntegrityFailed:
			integrity = "FAILED: the file did not match its SHA-256 when checked, " + dayPtr(it.CheckedAt)
		}
		collected := "Collected by " + or(it.CollectedBy, "a person not recorded")
		if it.CollectedAt != nil {
			collected += " on " + day(*it.CollectedAt)
		}
		fmt.Fprintf(&b, "File: %s (%d bytes)\nSHA-256: %s\nSource: %s\n%s\nIntegrity: %s\nStatus: %s",
			it.FileName, it.Size, it.SHA256, or(it.Source, "not recorded"), collected, integrity, labels.Of(string(it.Status)))
		b.WriteString("\nChain of custody:")
		for _, c := range custody {
			fmt.Fprintf(&b, "\n  %s · %s by %s", day(c.At), labels.Of(string(c.Action)), who(c.Actor))
			if c.Custodian != "" {
				fmt.Fprintf(&b, ", held by %s", c.Custodian)
			}
			if c.Reason != "" {
				fmt.Fprintf(&b, ": %s", c.Reason)
			}
		}
		s.Entries = append(s.Entries, Entry{privilegedLabel(it.Privilege, or(it.Description, it.FileName)), b.String()})
	}
	s.Intro += priv.leave(left, "evidence item")
	return s, nil
}

func breachSections(ctx context.Context, cases *breach.Service, id string) (Section, Section, error) {
	dets := Section{Heading: HeadDeterminations}
	notices := Section{Heading: HeadNotices}
	c, err := cases.Get(ctx, id)
	if e, ok := apperr.As(err); ok && e.Code == apperr.NotFound {
		dets.Intro = "The incident has no breach case: no breach determination was made."
		notices.Intro = "No notices were owed."
		return dets, notices, nil
	}
	if err != nil {
		return dets, notices, err
	}
	ds, err := cases.Determinations(ctx, id)
	if err != nil {
		return dets, notices, err
	}
	dets.Intro = "Breach case opened " + day(c.CreatedAt) + " by " + who(c.OpenedBy) + "; discovered " +
		day(c.Facts.DiscoveredAt) + "; " + labels.Count(c.Facts.Individuals, "individual", "individuals") + " affected."
	if len(ds) == 0 {
		dets.Intro += " No determination has been signed."
	}
	for _, d := range ds {
		text := labels.Of(string(d.Result.Outcome)) + " (" + d.Result.Citation + ")"
		if d.Result.Why != "" {
			text += "\n" + d.Result.Why
		}
		if d.Reason != "" {
			text += "\nReason for this version: " + d.Reason
		}
		dets.Entries = append(dets.Entries, Entry{fmt.Sprintf("Version %d, signed %s by %s", d.Version, day(d.SignedAt), who(d.SignedBy)), text})
	}
	obs, err := cases.Obligations(ctx, id)
	if err != nil {
		return dets, notices, err
	}
	if len(obs) == 0 {
		notices.Intro = "No notices are owed."
	}
	for _, o := range obs {
		name := labels.Of(string(o.Recipient))
		if o.Jurisdiction != "" {
			name += " (" + o.Jurisdiction + ")"
		}
		if o.CustomerName != "" {
			name += " (" + o.CustomerName + ")"
		}
		text := "Due " + breach.FormatDue(o.Due, o.Zone) + " (" + o.Citation + ")"
		if o.MetAt != nil {
			text += "\nMet " + day(*o.MetAt) + " by " + who(o.MetBy)
			if o.MetReason != "" {
				text += ": " + o.MetReason
			}
		} else {
			text += "\nNot met yet"
		}
		notices.Entries = append(notices.Entries, Entry{name, text})
	}
	return dets, notices, nil
}

func reviewSections(ctx context.Context, incs *incident.Service, id string, priv *privilege) (Section, Section, error) {
	rs := Section{Heading: HeadReview}
	r, err := incs.Review(ctx, id)
	if err != nil {
		return rs, Section{}, err
	}
	withheld := r.Privilege != nil && !priv.include
	switch {
	case r.CompletedAt != nil:
		rs.Intro = "Marked complete " + day(*r.CompletedAt) + " by " + who(r.CompletedBy) + "."
	case r.WaivedAt != nil:
		rs.Intro = "Waived " + day(*r.WaivedAt) + " by " + who(r.WaivedBy) + ": " + r.WaiveReason
	default:
		rs.Intro = "Not complete yet."
	}
	if r.Privilege != nil && !withheld {
		rs.Intro = r.Privilege.Line() + ". " + rs.Intro
	}
	if withheld {
		rs.Intro += priv.leave(1, "review") + " It is held by " + r.Privilege.HeldBy + "."
	}
	for _, e := range []Entry{{"Summary: what happened", r.Summary}, {"Root cause", r.RootCause},
		{"Contributing factors", r.ContributingFactors}, {"What went well", r.WentWell}, {"Lessons learnt", r.Lessons},
		{"Policy, training and safeguard updates made", r.UpdatesMade}} {
		if withheld {
			break
		}
		e.Text = or(e.Text, "—")
		rs.Entries = append(rs.Entries, e)
	}
	is := Section{Heading: HeadActionItems}
	items, err := incs.ActionItems(ctx, id)
	if err != nil {
		return rs, is, err
	}
	if len(items) == 0 {
		is.Intro = "No action items."
	}
	for _, a := range items {
		text := "Owner " + a.Owner + ", due " + day(a.DueAt)
		if a.Status == incident.ActionDone {
			text += "; done " + dayPtr(a.DoneAt) + " by " + who(a.DoneBy)
		} else if a.Overdue {
			text += "; open and overdue"
		} else {
			text += "; open"
		}
		if a.TicketURL != "" {
			text += "\nTicket: " + a.TicketURL
		}
		is.Entries = append(is.Entries, Entry{a.Title, text})
	}
	return rs, is, nil
}
