package oncall_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/oncall"
)

type property struct{ name, value string }

// parseICS checks the physical lines of an iCalendar stream (CRLF endings,
// at most 75 octets, whole UTF-8 sequences), unfolds them, and splits each
// content line into its name and raw value.
func parseICS(t *testing.T, data []byte) []property {
	t.Helper()
	s := string(data)
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("stream does not end in CRLF: %q", s)
	}
	var logical []string
	for i, l := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i, l)
		}
		if len(l) > 75 {
			t.Fatalf("line %d is %d octets: %q", i, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Fatalf("line %d splits a UTF-8 sequence: %q", i, l)
		}
		if strings.HasPrefix(l, " ") {
			if len(logical) == 0 {
				t.Fatalf("stream starts with a continuation line")
			}
			logical[len(logical)-1] += l[1:]
			continue
		}
		logical = append(logical, l)
	}
	props := make([]property, len(logical))
	for i, l := range logical {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("content line without a colon: %q", l)
		}
		props[i] = property{name, value}
	}
	return props
}

// unescapeText reverses RFC 5545 TEXT escaping, failing on a bare special
// character or an unknown escape.
func unescapeText(t *testing.T, v string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case ',', ';':
			t.Fatalf("unescaped %q in %q", c, v)
		case '\\':
			i++
			if i == len(v) {
				t.Fatalf("trailing backslash in %q", v)
			}
			switch v[i] {
			case '\\', ',', ';':
				b.WriteByte(v[i])
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				t.Fatalf("unknown escape \\%c in %q", v[i], v)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestICalendarStructure(t *testing.T) {
	ny := load(t, "America/New_York")
	name := "Ops, \"night\"; on-call \\ team\nÜberwachung – Bereitschaft 🚑 für die Notaufnahme, Station 3; sehr lang"
	rotation := strings.Repeat("Rufbereitschaft Ä🚑 ", 6)
	shifts := []oncall.Shift{
		{User: "u1", Start: wall(ny, 2026, 3, 9, 9, 0), End: wall(ny, 2026, 3, 10, 9, 0), Rotation: rotation},
		{User: "u2", Start: wall(ny, 2026, 3, 8, 9, 0), End: wall(ny, 2026, 3, 9, 9, 0), Rotation: "other"},
		{User: "u1", Start: wall(ny, 2026, 3, 8, 9, 0), End: wall(ny, 2026, 3, 8, 12, 0), Override: true},
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	props := parseICS(t, oncall.ICalendar(name, shifts, "u1", now, "ward.example"))

	var names []string
	var events []map[string]string
	for _, p := range props {
		names = append(names, p.name)
		switch p.name {
		case "BEGIN":
			if p.value == "VEVENT" {
				events = append(events, map[string]string{})
			}
		case "X-WR-CALNAME":
			if got := unescapeText(t, p.value); got != name {
				t.Errorf("X-WR-CALNAME = %q, want %q", got, name)
			}
		default:
			if len(events) > 0 {
				events[len(events)-1][p.name] = p.value
			}
		}
	}
	if names[0] != "BEGIN" || props[0].value != "VCALENDAR" || names[len(names)-1] != "END" || props[len(props)-1].value != "VCALENDAR" {
		t.Fatalf("not one VCALENDAR: %v", props)
	}
	if len(events) != 2 {
		t.Fatalf("got %d events, want u1's 2", len(events))
	}
	want := []struct{ start, end, summary string }{
		{"20260308T130000Z", "20260308T160000Z", "On call (override)"},
		{"20260309T130000Z", "20260310T130000Z", "On call: " + rotation},
	}
	uids := map[string]bool{}
	for i, w := range want {
		e := events[i]
		if e["DTSTART"] != w.start || e["DTEND"] != w.end || e["DTSTAMP"] != "20260301T120000Z" {
			t.Errorf("event %d: DTSTART %s DTEND %s DTSTAMP %s, want %s %s 20260301T120000Z", i, e["DTSTART"], e["DTEND"], e["DTSTAMP"], w.start, w.end)
		}
		if got := unescapeText(t, e["SUMMARY"]); got != w.summary {
			t.Errorf("event %d: SUMMARY %q, want %q", i, got, w.summary)
		}
		if !strings.HasSuffix(e["UID"], "@ward.example") || uids[e["UID"]] {
			t.Errorf("event %d: UID %q not unique with the domain", i, e["UID"])
		}
		uids[e["UID"]] = true
	}

	again := parseICS(t, oncall.ICalendar(name, shifts[:1], "u1", now.Add(time.Hour), "ward.example"))
	for _, p := range again {
		if p.name == "UID" && p.value != events[1]["UID"] {
			t.Errorf("UID changed between renderings: %q, then %q", events[1]["UID"], p.value)
		}
	}
}

func TestICalendarGolden(t *testing.T) {
	ny := load(t, "America/New_York")
	shifts := []oncall.Shift{{
		User:     "u1",
		Start:    wall(ny, 2026, 3, 8, 9, 0).Add(500 * time.Millisecond),
		End:      wall(ny, 2026, 3, 9, 9, 0),
		Rotation: "Primary, EU; nights\\weekends",
	}}
	now := time.Date(2026, 3, 1, 12, 0, 0, 750, time.FixedZone("x", 3600))
	got := string(oncall.ICalendar("Ward", shifts, "u1", now, "ward.example"))
	want := "BEGIN:VCALENDAR\r\n" +
		"VERSION:2.0\r\n" +
		"PRODID:-//Ward//On-call schedule//EN\r\n" +
		"CALSCALE:GREGORIAN\r\n" +
		"METHOD:PUBLISH\r\n" +
		"X-WR-CALNAME:Ward\r\n" +
		"BEGIN:VEVENT\r\n" +
		"UID:e0ac0b7dc06950e20d84f12838a58966@ward.example\r\n" +
		"DTSTAMP:20260301T110000Z\r\n" +
		"DTSTART:20260308T130000Z\r\n" +
		"DTEND:20260309T130000Z\r\n" +
		"SUMMARY:On call: Primary\\, EU\\; nights\\\\weekends\r\n" +
		"END:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	if got != want {
		t.Fatalf("ICalendar:\n%s\nwant:\n%s", got, want)
	}
}

func TestICalendarEmpty(t *testing.T) {
	got := string(oncall.ICalendar("", nil, "u1", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ""))
	want := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Ward//On-call schedule//EN\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n"
	if got != want {
		t.Fatalf("ICalendar = %q, want %q", got, want)
	}
}

// TestScheduleICalendar: a schedule's feed holds every person's shifts in
// start order, each titled with who is on call.
func TestScheduleICalendar(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	shifts := []oncall.Shift{
		{User: "u2", Start: t0.Add(8 * time.Hour), End: t0.Add(16 * time.Hour), Rotation: "Primary"},
		{User: "u1", Start: t0, End: t0.Add(8 * time.Hour), Rotation: "Primary"},
		{User: "u3", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), Override: true},
	}
	props := parseICS(t, oncall.ScheduleICalendar("Ward on-call: Clinical systems", shifts,
		map[string]string{"u1": "alice", "u2": "bob"}, t0, "ward"))
	var summaries []string
	for _, p := range props {
		if p.name == "SUMMARY" {
			summaries = append(summaries, p.value)
		}
	}
	want := []string{"alice on call: Primary", "Someone on call (override)", "bob on call: Primary"}
	if strings.Join(summaries, "|") != strings.Join(want, "|") {
		t.Fatalf("summaries %q, want %q", summaries, want)
	}
}
