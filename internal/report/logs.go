package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// LogEntry is one breach case in the breach log.
type LogEntry struct {
	IncidentNumber string     `json:"incident_number"`
	IncidentID     string     `json:"incident_id"`
	CaseID         string     `json:"case_id"`
	Year           int        `json:"year" doc:"The calendar year of discovery."`
	DiscoveredAt   time.Time  `json:"discovered_at" doc:"When the clock started (164.404(a)(2))."`
	Outcome        string     `json:"outcome"`
	Status         string     `json:"status" enum:"open,overdue,complete" doc:"open: notices owed; overdue: one is past due; complete: every notice made."`
	Individuals    int        `json:"individuals"`
	Size           string     `json:"size" enum:"500_or_more,fewer_than_500"`
	Obligations    int        `json:"obligations"`
	Unmet          int        `json:"unmet"`
	NextDue        *time.Time `json:"next_due,omitempty"`
	HHSMode        string     `json:"hhs_mode,omitempty"`
	HHSDue         *time.Time `json:"hhs_due,omitempty"`
	HHSMetAt       *time.Time `json:"hhs_met_at,omitempty"`
	TrackingNumber string     `json:"tracking_number,omitempty" doc:"The latest HHS filing's."`
	OpenedAt       time.Time  `json:"opened_at"`
	TimeZone       string     `json:"time_zone" example:"America/Los_Angeles" doc:"The organisation's IANA time zone, in which year and the deadlines' days were counted."`
}

// LogFilter selects log entries; empty fields do not filter.
type LogFilter struct {
	Year    int
	Status  string // open, overdue, complete
	Outcome string
	Size    string // 500_or_more, fewer_than_500
}

func (f LogFilter) validate() error {
	switch f.Status {
	case "", "open", "overdue", "complete":
	default:
		return apperr.Field("status", "must be open, overdue or complete, got %q", f.Status)
	}
	switch f.Size {
	case "", SizeLarge, SizeSmall:
	default:
		return apperr.Field("size", "must be %s or %s, got %q", SizeLarge, SizeSmall, f.Size)
	}
	if f.Year != 0 && (f.Year < 2009 || f.Year > 9999) {
		return apperr.Field("year", "must be a year from 2009 (the Breach Notification Rule's) on, got %d", f.Year)
	}
	return nil
}

// Log lists every breach case the actor may see, newest discovery first,
// filtered (the breach log).
func (s *Service) Log(ctx context.Context, f LogFilter) ([]LogEntry, error) {
	actor, err := authz.Check(ctx, authz.ReportRead)
	if err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	org, err := s.cases.Organisation(ctx)
	if err != nil {
		return nil, err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := incident.VisibleSQL(actor, now, "i", arg)
	if f.Outcome != "" {
		where += " AND c.outcome = " + arg(f.Outcome)
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT c.id, c.incident_id, i.number, c.facts, c.outcome, c.created_at,
		(SELECT f.tracking_number FROM report_hhs_filings f WHERE f.case_id = c.id ORDER BY f.recorded_at DESC, f.id DESC LIMIT 1)
		FROM breach_cases c JOIN incidents i ON i.id = c.incident_id WHERE `+where+` ORDER BY c.created_at DESC LIMIT 10000`, args...)
	if err != nil {
		return nil, fmt.Errorf("list breach cases: %w", err)
	}
	var out []LogEntry
	for rows.Next() {
		var e LogEntry
		var facts string
		var tracking *string
		if err := rows.Scan(&e.CaseID, &e.IncidentID, &e.IncidentNumber, &facts, &e.Outcome, &e.OpenedAt, &tracking); err != nil {
			rows.Close()
			return nil, err
		}
		plain, err := s.keys.Open(facts, keys.BreachFacts.Table, keys.BreachFacts.Name, e.CaseID)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("open the facts of case %s: %w", e.CaseID, err)
		}
		var fc rules.Facts
		if err := json.Unmarshal(plain, &fc); err != nil {
			rows.Close()
			return nil, fmt.Errorf("case %s: facts: %w", e.CaseID, err)
		}
		e.DiscoveredAt, _ = fc.ClockStart()
		// The calendar year of discovery, in the organisation's zone, as
		// the rules count the annual log's year (164.408(c)).
		e.Year, e.Individuals, e.OpenedAt = e.DiscoveredAt.In(org.Zone).Year(), fc.Individuals, e.OpenedAt.UTC()
		e.TimeZone = org.Zone.String()
		e.Size = SizeSmall
		if fc.Individuals >= rules.HIPAA().HHSImmediateAtLeast { // 164.408(b)
			e.Size = SizeLarge
		}
		if tracking != nil {
			e.TrackingNumber = *tracking
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, e := range out {
		if err := s.addObligations(ctx, &e, now); err != nil {
			return nil, err
		}
		if (f.Year == 0 || e.Year == f.Year) && (f.Status == "" || e.Status == f.Status) && (f.Size == "" || e.Size == f.Size) {
			kept = append(kept, e)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].DiscoveredAt.After(kept[j].DiscoveredAt) })
	return kept, nil
}

// addObligations fills e's obligation counts, status and HHS notice.
func (s *Service) addObligations(ctx context.Context, e *LogEntry, now time.Time) error {
	rows, err := s.db.R.QueryContext(ctx, `SELECT obligation, body, due_at, met_at FROM breach_obligations WHERE case_id = $1`, e.CaseID)
	if err != nil {
		return fmt.Errorf("read obligations: %w", err)
	}
	defer rows.Close()
	e.Status = "complete"
	for rows.Next() {
		var key, body string
		var due time.Time
		var met *time.Time
		if err := rows.Scan(&key, &body, &due, &met); err != nil {
			return err
		}
		due = due.UTC()
		e.Obligations++
		if key == string(rules.ToHHS) {
			var o rules.Obligation
			if err := json.Unmarshal([]byte(body), &o); err != nil {
				return fmt.Errorf("obligation %s: %w", key, err)
			}
			e.HHSMode, e.HHSDue = string(o.HHSMode), &due
			if met != nil {
				m := met.UTC()
				e.HHSMetAt = &m
			}
		}
		if met != nil {
			continue
		}
		e.Unmet++
		if e.NextDue == nil || due.Before(*e.NextDue) {
			d := due
			e.NextDue = &d
		}
		if now.After(due) {
			e.Status = "overdue"
		} else if e.Status == "complete" {
			e.Status = "open"
		}
	}
	return rows.Err()
}

// LogCSV is the breach log as CSV, one row per case, no PHI.
func LogCSV(entries []LogEntry) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	_ = w.Write([]string{"incident_number", "year", "discovered_at", "outcome", "status", "individuals", "size", "obligations", "unmet",
		"next_due", "hhs_mode", "hhs_due", "hhs_met_at", "tracking_number", "opened_at"})
	for _, e := range entries {
		d := e.DiscoveredAt
		o := e.OpenedAt
		_ = w.Write([]string{e.IncidentNumber, strconv.Itoa(e.Year), ts(&d), e.Outcome, e.Status, strconv.Itoa(e.Individuals), e.Size,
			strconv.Itoa(e.Obligations), strconv.Itoa(e.Unmet), ts(e.NextDue), e.HHSMode, ts(e.HHSDue), ts(e.HHSMetAt), e.TrackingNumber, ts(&o)})
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// AnnualLog is the breaches of fewer than 500 discovered in one calendar
// year, reported to the Secretary together (164.408(c)).
type AnnualLog struct {
	Year     int        `json:"year"`
	Due      time.Time  `json:"due" doc:"60 days after the end of the year: the end of March 1, or of February 29 in a leap year, in time_zone (164.408(c))."`
	TimeZone string     `json:"time_zone" example:"America/Los_Angeles" doc:"The organisation's IANA time zone the year and due were counted in."`
	Cases    []LogEntry `json:"cases"`
	// Unfiled counts the cases whose hhs obligation is not met yet.
	Unfiled int `json:"unfiled"`
}

// AnnualLogs lists the annual logs: every case whose HHS notice goes in
// the annual log, by calendar year of discovery, the latest year first;
// year 0 means every year. The due date is the hhs obligation's, which
// the rules compute (a law-enforcement delay may move a case's own).
func (s *Service) AnnualLogs(ctx context.Context, year int) ([]AnnualLog, error) {
	entries, err := s.Log(ctx, LogFilter{Year: year})
	if err != nil {
		return nil, err
	}
	org, err := s.cases.Organisation(ctx)
	if err != nil {
		return nil, err
	}
	byYear := map[int]*AnnualLog{}
	for _, e := range entries {
		if e.HHSMode != string(rules.HHSAnnualLog) || e.HHSDue == nil {
			continue
		}
		l := byYear[e.Year]
		if l == nil {
			l = &AnnualLog{Year: e.Year, Due: AnnualDue(e.Year, org.Zone), TimeZone: org.Zone.String(), Cases: []LogEntry{}}
			byYear[e.Year] = l
		}
		l.Cases = append(l.Cases, e)
		if e.HHSMetAt == nil {
			l.Unfiled++
		}
	}
	out := []AnnualLog{}
	for _, l := range byYear {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Year > out[j].Year })
	return out, nil
}

// AnnualDue is when the annual log of year is due, as the rules reckon
// it: no later than 60 days after the end of the calendar year (45 CFR
// 164.408(c)), the end of March 1, or of February 29 in a leap year, in
// the organisation's zone loc (nil means UTC).
func AnnualDue(year int, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	term := rules.Term{Amount: rules.HIPAA().HHSAnnualDays, Unit: rules.Days}
	return term.DueFrom(time.Date(year, time.December, 31, 12, 0, 0, 0, loc), loc)
}
