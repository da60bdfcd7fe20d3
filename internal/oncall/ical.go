package oncall

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxLine is the longest content line RFC 5545 section 3.1 allows, in
// octets, excluding the CRLF.
const maxLine = 75

// ICalendar renders userID's shifts among shifts as an RFC 5545 VCALENDAR,
// one VEVENT per shift ordered by start, for subscription from a calendar
// application. Lines end in CRLF and are folded at 75 octets without
// splitting a UTF-8 sequence; text is escaped; DTSTART and DTEND are UTC
// with the Z suffix, truncated to the second; DTSTAMP is now. Each UID is
// derived from the user, the shift's source, start and end, followed by
// "@" and uidDomain (left off when uidDomain is empty), so rendering the
// same shift again gives the same UID. calendarName, when not empty,
// becomes X-WR-CALNAME.
func ICalendar(calendarName string, shifts []Shift, userID string, now time.Time, uidDomain string) []byte {
	var mine []Shift
	for _, sh := range shifts {
		if sh.User == userID {
			mine = append(mine, sh)
		}
	}
	return render(calendarName, mine, func(sh Shift) string { return summary(sh, "") }, now, uidDomain)
}

// ScheduleICalendar renders every shift among shifts, as ICalendar does,
// each summarised with the name of the person on call: names maps user
// ids to the names shown, and an id it lacks shows as "Someone".
func ScheduleICalendar(calendarName string, shifts []Shift, names map[string]string, now time.Time, uidDomain string) []byte {
	return render(calendarName, slices.Clone(shifts), func(sh Shift) string {
		who := names[sh.User]
		if who == "" {
			who = "Someone"
		}
		return summary(sh, who)
	}, now, uidDomain)
}

func render(calendarName string, shifts []Shift, label func(Shift) string, now time.Time, uidDomain string) []byte {
	slices.SortStableFunc(shifts, func(a, b Shift) int { return a.Start.Compare(b.Start) })
	var b bytes.Buffer
	line := func(s string) { writeFolded(&b, s) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Ward//On-call schedule//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	if calendarName != "" {
		line("X-WR-CALNAME:" + escapeText(calendarName))
	}
	stamp := icalTime(now)
	for _, sh := range shifts {
		line("BEGIN:VEVENT")
		line("UID:" + escapeText(eventUID(sh, uidDomain)))
		line("DTSTAMP:" + stamp)
		line("DTSTART:" + icalTime(sh.Start))
		line("DTEND:" + icalTime(sh.End))
		line("SUMMARY:" + escapeText(label(sh)))
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return b.Bytes()
}

func icalTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// summary is a shift's title: "On call: Primary", or with who set,
// "alice on call: Primary".
func summary(sh Shift, who string) string {
	s := "On call"
	if who != "" {
		s = who + " on call"
	}
	switch {
	case sh.Override && sh.Rotation != "":
		return s + " (override): " + sh.Rotation
	case sh.Override:
		return s + " (override)"
	default:
		return s + ": " + sh.Rotation
	}
}

func eventUID(sh Shift, domain string) string {
	h := sha256.New()
	for _, part := range []string{
		sh.User, sh.Rotation, strconv.FormatBool(sh.Override),
		strconv.FormatInt(sh.Start.Unix(), 10), strconv.FormatInt(sh.End.Unix(), 10),
	} {
		h.Write([]byte(strconv.Itoa(len(part))))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	uid := hex.EncodeToString(h.Sum(nil)[:16])
	if domain != "" {
		uid += "@" + domain
	}
	return uid
}

// escapeText escapes a TEXT value (RFC 5545 section 3.3.11): backslash,
// semicolon, comma and line breaks are escaped, and other control
// characters, which TEXT cannot hold, are dropped.
func escapeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == ';' || r == ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			// Dropped: TEXT cannot hold control characters.
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeFolded writes one content line, folded so that no physical line
// exceeds maxLine octets: each continuation starts with a space, which
// counts towards its length, and no UTF-8 sequence is split.
func writeFolded(b *bytes.Buffer, s string) {
	limit := maxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLine - 1
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
