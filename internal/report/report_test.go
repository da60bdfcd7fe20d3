package report

import (
	"archive/zip"
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
)

func TestMark(t *testing.T) {
	due := time.Date(2026, 7, 5, 23, 59, 59, 0, time.UTC)
	days := []int{30, 14, 7, 3, 1}
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{due.Add(-31 * day), ""},
		{due.Add(-30 * day), "30"},
		{due.Add(-20 * day), "30"},
		{due.Add(-5 * day), "7"},
		{due.Add(-time.Hour), "1"},
		{due, "1"},
		{due.Add(time.Second), Overdue},
	} {
		if got := mark(days, due, c.now); got != c.want {
			t.Errorf("mark at %s before due: %q, want %q", due.Sub(c.now), got, c.want)
		}
	}
}

func TestReminderDays(t *testing.T) {
	got, err := ReminderDays([]int{3, 30, 7})
	if err != nil || !slices.Equal(got, []int{30, 7, 3}) {
		t.Fatalf("sorted: %v %v", got, err)
	}
	if got, _ := ReminderDays(nil); !slices.Equal(got, DefaultReminderDays) {
		t.Fatalf("default: %v", got)
	}
	for _, bad := range [][]int{{0}, {366}, {7, 7}} {
		if _, err := ReminderDays(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// 45 CFR 164.408(c): 60 days after the end of the calendar year: March 1,
// or February 29 in a leap year.
func TestAnnualDue(t *testing.T) {
	for year, want := range map[int]string{2025: "2026-03-01", 2027: "2028-02-29", 2026: "2027-03-01"} {
		if got := AnnualDue(year, nil).Format("2006-01-02"); got != want {
			t.Errorf("%d: %s, want %s", year, got, want)
		}
	}
	// Counted in the organisation's zone: the end of 1 March in Guam is
	// 13:59 UTC that day, not the end of 1 March UTC.
	guam, err := time.LoadLocation("Pacific/Guam")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := AnnualDue(2026, guam), time.Date(2027, 3, 1, 13, 59, 59, 999999000, time.UTC); !got.Equal(want) {
		t.Errorf("2026 in Guam: %s, want %s", got.UTC(), want)
	}
}

// The reminder line is a sentence with the incident's number, whom the
// notice is owed to and the deadline's day in the organisation's zone:
// the end of 4 May in Los Angeles is 5 May in UTC.
func TestReminderLineInZone(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	o := rules.Obligation{Key: "individuals:CA", Recipient: rules.ToIndividuals, Jurisdiction: "CA"}
	due := time.Date(2026, 5, 5, 6, 59, 59, 0, time.UTC)
	for _, c := range []struct {
		number, mark string
		o            rules.Obligation
		want         string
	}{
		{"INC-12", "7", o, "INC-12: notify individuals in California by 2026-05-04 PDT."},
		{"INC-12", "1", rules.Obligation{Key: "hhs", Recipient: rules.ToHHS}, "INC-12: notify HHS (the Secretary) by 2026-05-04 PDT."},
		{"INC-12", Overdue, rules.Obligation{Key: "individuals", Recipient: rules.ToIndividuals},
			"OVERDUE INC-12: notify individuals; it was due 2026-05-04 PDT."},
		{"INC-3", "1", rules.Obligation{Key: "ftc", Recipient: rules.ToFTC}, "INC-3: notify the Federal Trade Commission by 2026-05-04 PDT."},
		{"INC-3", "3", rules.Obligation{Key: "media:TX", Recipient: rules.ToMedia, Jurisdiction: "TX"},
			"INC-3: notify media in Texas by 2026-05-04 PDT (3 days left)."},
	} {
		if got := reminderLine(c.number, c.o, c.mark, due, la); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.o.Key, c.mark, got, c.want)
		}
	}
}

func TestReminderLineHasNoRoomForPHI(t *testing.T) {
	o := rules.Obligation{Key: "covered_entity:a-very-long-customer-identifier-indeed", Recipient: rules.ToCoveredEntity,
		CustomerName: "Saint Agatha Clinic"}
	line := reminderLine("INC-123456", o, Overdue, time.Date(2026, 7, 5, 0, 0, 0, 0, time.UTC), nil)
	if len(line) > 64 || !strings.Contains(line, "notify your customer") || strings.Contains(line, "customer-identifier") ||
		strings.Contains(line, "Agatha") || !strings.HasPrefix(line, "OVERDUE INC-123456: ") {
		t.Fatalf("line %q", line)
	}
	long := rules.Obligation{Key: "consumer_reporting_agencies:DC", Recipient: rules.ToCRA, Jurisdiction: "DC"}
	if line := reminderLine("INC-123456", long, "30", time.Date(2026, 7, 5, 0, 0, 0, 0, time.UTC), nil); len(line) > 64 ||
		!strings.Contains(line, " DC ") {
		t.Fatalf("a long label: %q (%d bytes)", line, len(line))
	}
}

func filledCase() (breach.Case, []breach.Obligation, OrgProfile, ReportDetails) {
	disc := time.Date(2026, 5, 6, 15, 0, 0, 0, time.UTC)
	met := disc.Add(20 * day)
	c := breach.Case{ID: "c1", IncidentNumber: "INC-1", Outcome: "notification_required",
		Facts: rules.Facts{Role: rules.CoveredEntity, DiscoveredAt: disc, ShouldHaveKnownAt: disc.Add(-2 * day), Individuals: 499}}
	obs := []breach.Obligation{
		{Obligation: rules.Obligation{Key: "individuals", Recipient: rules.ToIndividuals, Due: disc.Add(60 * day)}, MetAt: &met},
		{Obligation: rules.Obligation{Key: "hhs", Recipient: rules.ToHHS, HHSMode: rules.HHSAnnualLog, Due: AnnualDue(2026, nil)}},
	}
	org := OrgProfile{Name: "Acme", EntityType: "health_plan", Address: ReportAddress{Street: "1 Main", City: "X", State: "CA", ZIP: "9"},
		Contact: ReportContact{Name: "P", Phone: "1", Email: "p@x"}}
	start, end := disc.Add(-10*day), disc.Add(-9*day)
	d := ReportDetails{BreachStart: &start, BreachEnd: &end, BreachTypes: []string{"loss"}, Locations: []string{"paper_films"},
		PHITypes: []string{"clinical"}, Description: "Files lost in transit.", Safeguards: []string{"none"}, ActionsTaken: []string{"revised_policies"}}
	return c, obs, org, d
}

func TestPacketFilled(t *testing.T) {
	c, obs, org, d := filledCase()
	p := buildPacket(c, obs, breach.Counts{}, org, d, nil, time.Now())
	if !p.Ready || len(p.Missing) != 0 {
		t.Fatalf("missing: %+v", p.Missing)
	}
	// 164.408(c): 499 is fewer than 500; 164.404(a)(2): discovery starts
	// at the earlier date.
	if p.BreachSize != SizeSmall || p.HHSMode != "annual_log" || !p.DiscoveryStart.Equal(c.Facts.ShouldHaveKnownAt) ||
		p.ReportKind != KindInitial || p.IndividualNoticeStart == nil {
		t.Fatalf("packet: %+v", p)
	}
	c.Facts.Individuals = 500
	p = buildPacket(c, obs, breach.Counts{}, org, d, []Filing{{TrackingNumber: "T-9"}}, time.Now())
	if p.BreachSize != SizeLarge || p.ReportKind != KindAddendum || p.PriorTrackingNumber != "T-9" {
		t.Fatalf("500 and a prior filing: %+v", p)
	}
}

func TestPacketMissing(t *testing.T) {
	c, obs, _, d := filledCase()
	d.BreachTypes = []string{"other"}
	d.Description = " "
	obs[0].MetAt = nil
	p := buildPacket(c, obs[:1], breach.Counts{}, OrgProfile{}, d, nil, time.Now())
	var fields []string
	for _, m := range p.Missing {
		fields = append(fields, m.Field)
		if !strings.Contains(m.Message, "before filing") && m.Field != "hhs" {
			t.Errorf("%s: %q does not say to fill it before filing", m.Field, m.Message)
		}
	}
	for _, f := range []string{"hhs", "covered_entity.name", "covered_entity.entity_type", "breach_type_other", "description",
		"individual_notice_start"} {
		if !slices.Contains(fields, f) {
			t.Errorf("missing lacks %s: %v", f, fields)
		}
	}
	if p.Ready {
		t.Fatal("ready with fields missing")
	}
}

func TestDetailsValidate(t *testing.T) {
	_, _, _, d := filledCase()
	now := time.Date(2026, 5, 7, 0, 0, 0, 0, time.UTC)
	if err := d.Validate(now); err != nil {
		t.Fatal(err)
	}
	d.Locations = []string{"car", "laptop", "laptop"}
	d.Safeguards = []string{"none", "privacy_rule"}
	// Breach and discovery dates are not in the future.
	future, later := now.Add(time.Hour), now.AddDate(0, 1, 0)
	d.BreachEnd, d.DiscoveryEnd = &future, &later
	err := d.Validate(now)
	for _, want := range []string{"locations[0]", "locations[2]", "safeguards", "breach_end", "discovery_end"} {
		if err == nil || !strings.Contains(errorFields(err), want) {
			t.Errorf("no error on %s: %v", want, err)
		}
	}
}

func TestPDF(t *testing.T) {
	c, obs, org, d := filledCase()
	d.Description = "Naïve café résumé — UTF-8 survives"
	pdf, err := PDF(buildPacket(c, obs, breach.Counts{}, org, d, nil, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf[len(pdf)-16:], []byte("%%EOF")) || len(pdf) < 2000 {
		t.Fatalf("not a PDF: %d bytes %q", len(pdf), pdf[:8])
	}
}

func TestLogCSV(t *testing.T) {
	b, err := LogCSV([]LogEntry{{IncidentNumber: "INC-1", Year: 2026, Outcome: "pending", Status: "open", Size: SizeSmall, Individuals: 3}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "INC-1,2026,") {
		t.Fatalf("CSV: %q", b)
	}
}

// signed builds a bundle the way Bundle does, from fixed files.
func signed(t *testing.T, files []File) []byte {
	t.Helper()
	b, _, err := sealBundle(files, Manifest{Format: BundleFormat, IncidentNumber: "INC-1", CaseID: "c1", GeneratedAt: time.Now()}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyBundle(t *testing.T) {
	good := signed(t, []File{{"case.json", []byte(`{"a":1}`)}, {"hhs/filings.json", []byte(`[]`)}})
	if v := VerifyBundle(good); !v.Valid || v.Files != 2 || v.IncidentNumber != "INC-1" {
		t.Fatalf("good bundle: %+v", v)
	}
	for name, change := range map[string]func(map[string][]byte){
		"a changed file": func(m map[string][]byte) { m["case.json"] = []byte(`{"a":2}`) },
		"a missing file": func(m map[string][]byte) { delete(m, "hhs/filings.json") },
		"an extra file":  func(m map[string][]byte) { m["extra.txt"] = []byte("x") },
		"a changed manifest": func(m map[string][]byte) {
			m[ManifestName] = bytes.Replace(m[ManifestName], []byte("INC-1"), []byte("INC-2"), 1)
		},
		"no signature": func(m map[string][]byte) { delete(m, SignatureName) },
	} {
		files := unzip(t, good)
		change(files)
		if v := VerifyBundle(rezip(t, files)); v.Valid || len(v.Problems) == 0 {
			t.Errorf("%s verifies: %+v", name, v)
		}
	}
	if v := VerifyBundle([]byte("not a zip")); v.Valid {
		t.Fatal("garbage verifies")
	}
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(rc)
		rc.Close()
		out[f.Name] = buf.Bytes()
	}
	return out
}

func rezip(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
