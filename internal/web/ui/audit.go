package ui

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// auditRow is one audit entry as a person reads it: names, incident
// numbers and words, no identifiers or codes.
type auditRow struct {
	Seq    int64
	At     time.Time
	Who    string
	What   string
	Object string // what the entry is about, in words
	Link   string // the object's page, "" when it has none
	From   string // the source address
}

type auditPage struct {
	Rows    []auditRow
	People  []audit.Person
	Actions []actionChoice
	Query   url.Values
	Errors  map[string]string
	Chain   *audit.Result
	// Older is the link to the next (older) page, "" on the last: a whole
	// URL, since a query string put after "?" in a template would have its
	// "=" and "&" escaped.
	Older template.URL
}

func (u *UI) auditLog(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	ctx := r.Context()
	p := auditPage{Query: qs, Actions: actionChoices()}
	var err error
	if p.People, err = u.Audit.People(ctx); err != nil {
		u.fail(w, r, err)
		return
	}
	q := audit.Query{Actor: qs.Get("person"), Action: qs.Get("action"), Incident: strings.TrimSpace(qs.Get("incident")),
		Cursor: qs.Get("page"), Limit: 50}
	if q.From, err = formDate("from", qs.Get("from"), 0); err == nil {
		// Until a date means to the end of that day.
		q.To, err = formDate("to", qs.Get("to"), 24*time.Hour)
	}
	var page audit.Page
	if err == nil {
		page, err = u.Audit.Page(ctx, q)
	}
	if err != nil {
		errs, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		p.Errors = errs
		u.render(w, r, http.StatusUnprocessableEntity, "audit", "Audit trail", "audit", p)
		return
	}
	names, err := u.Audit.Names(ctx, page.Entries)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, e := range page.Entries {
		p.Rows = append(p.Rows, auditRowOf(e, names))
	}
	if qs.Get("verify") == "1" {
		res, err := audit.Verify(ctx, u.DB.R)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		p.Chain = &res
	}
	if page.Next != "" {
		older := url.Values{}
		for k, v := range qs {
			older[k] = v
		}
		older.Set("page", page.Next)
		older.Del("verify")
		p.Older = template.URL("/audit?" + older.Encode()) // url.Values.Encode escapes every value
	}
	u.render(w, r, http.StatusOK, "audit", "Audit trail", "audit", p)
}

// formDate reads a date input (2026-03-01) as midnight UTC, plus add.
func formDate(field, v string, add time.Duration) (*time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
	if err != nil {
		return nil, apperr.Field(field, "is not a date")
	}
	t = t.Add(add)
	return &t, nil
}

// auditRowOf puts e in words, with the names n found.
func auditRowOf(e audit.Entry, n audit.Names) auditRow {
	row := auditRow{Seq: e.Seq, At: e.At, Who: actorWords(e.Actor, n), What: actionLabel(e.Action), From: e.SourceIP}
	noun, ok := objectNouns[e.ObjectType]
	if !ok {
		noun = actionLabel(e.ObjectType)
	}
	switch {
	case e.ObjectType == "incident":
		if num, ok := n.Incidents[e.ObjectID]; ok {
			row.Object, row.Link = "Incident "+num, "/incidents/"+url.PathEscape(num)
		} else {
			row.Object = "An incident since deleted"
		}
	case e.ObjectType == "user":
		row.Object = "User account"
		if login, ok := n.Accounts[e.ObjectID]; ok {
			row.Object = "User account of " + personWords(login, n)
		}
	case objectPages[e.ObjectType] != "" && e.ObjectID != "":
		row.Object, row.Link = noun, objectPages[e.ObjectType]+url.PathEscape(e.ObjectID)
	default:
		row.Object, row.Link = noun, objectListPages[e.ObjectType]
	}
	return row
}

// actorWords names who acted: a person by name, else as who does.
func actorWords(actor string, n audit.Names) string {
	kind, name, _ := strings.Cut(actor, ":")
	switch authz.Kind(kind) {
	case authz.KindUser:
		return personWords(name, n)
	case authz.KindToken, authz.KindCLI, authz.KindIntegration, authz.KindSystem:
		return who(actor)
	}
	return "Someone unknown"
}

// personWords is a person's display name with their username.
func personWords(login string, n audit.Names) string {
	if name, ok := n.People[login]; ok && name != "" && name != login {
		return name + " (" + login + ")"
	}
	return login
}

// integrityRow is one recorded break of the audit chain, as the integrity
// page shows it.
type integrityRow struct {
	Number, StartSeq, BrokenAt int64
	StartedAt                  time.Time
	Found                      string
	Reviewed                   bool
	ReviewedBy                 string
	ReviewedAt                 time.Time
	Incident                   string
	Error                      string
}

// auditIntegrity shows each break Ward found in the audit trail, the new
// part it started, and the officer's review of it; an officer records a
// review here, naming the incident that investigates the break.
func (u *UI) auditIntegrity(w http.ResponseWriter, r *http.Request) {
	u.renderIntegrity(w, r, http.StatusOK, 0, "")
}

func (u *UI) renderIntegrity(w http.ResponseWriter, r *http.Request, status int, failed int64, problem string) {
	ctx := r.Context()
	segs, err := u.Audit.SegmentsReviewed(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	var actors []audit.Entry
	for _, s := range segs {
		if s.Review != nil {
			actors = append(actors, audit.Entry{Actor: s.Review.ReviewedBy})
		}
	}
	names, err := u.Audit.Names(ctx, actors)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rows := make([]integrityRow, len(segs))
	for i, s := range segs {
		rows[i] = integrityRow{Number: s.Number, StartSeq: s.StartSeq, BrokenAt: s.BrokenAt, StartedAt: s.StartedAt, Found: s.Found}
		if s.Review != nil {
			rows[i].Reviewed, rows[i].ReviewedAt, rows[i].Incident = true, s.Review.ReviewedAt, s.Review.IncidentNumber
			rows[i].ReviewedBy = actorWords(s.Review.ReviewedBy, names)
		}
		if s.Number == failed {
			rows[i].Error = problem
		}
	}
	u.render(w, r, status, "audit_integrity", "Audit trail integrity", "audit", rows)
}

// auditBreakReview records an officer's review of a break, then shows the
// page again (Post/Redirect/Get), or the page with the reason it was not
// recorded.
func (u *UI) auditBreakReview(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.PathValue("segment"), 10, 64)
	if err != nil {
		u.fail(w, r, apperr.New(apperr.NotFound, "no such part of the audit trail"))
		return
	}
	if _, err := u.Audit.ReviewBreak(r.Context(), n, r.PostFormValue("incident")); err != nil {
		if errs, ok := fieldErrors(err); ok {
			u.renderIntegrity(w, r, http.StatusUnprocessableEntity, n, "Incident number: "+errs["incident"])
			return
		}
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg("/audit/integrity", "break_reviewed"))
}
