package intake

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/alert"
)

// FuzzEmailEvent feeds messages to the email intake's MIME parsing (what
// emailSession.Data does once the SMTP server has the message): a message
// that net/mail reads always becomes one event, a trigger or a resolve
// keyed by its subject, with a summary and a source within the limits
// and details that are JSON (alert.Intake.Ingest then applies the input
// policy to it, as to every alert). Run it longer with:
//
//	go test -run='^$' -fuzz='^FuzzEmailEvent$' -fuzztime=10m ./internal/web/intake
func FuzzEmailEvent(f *testing.F) {
	for _, s := range []struct{ from, msg string }{
		{"backup@legacy.example", "From: backup@legacy.example\r\nSubject: Nightly backup of ehr-db FAILED\r\nContent-Type: text/plain\r\n\r\nJob 42 failed: disk quota.\r\n"},
		{"backup@legacy.example", "From: backup@legacy.example\r\nSubject: RESOLVED: Nightly backup of ehr-db FAILED\r\n\r\nJob 43 succeeded.\r\n"},
		{"nagios@mon.example", "Subject: [RESOLVED] ** PROBLEM Service Alert: ehr-web/HTTP is CRITICAL **\r\n\r\nok\r\n"},
		{"scanner@sec.example", "From: \"Scanner\" <scanner@sec.example>\r\nSubject: =?UTF-8?B?RMOpasOgIHZ1OiDDqWNoZWMgZGUgc2F1dmVnYXJkZQ==?=\r\n" +
			"Message-Id: <1@sec.example>\r\nDate: Sun, 1 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n" +
			"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe plain text part.\r\n--b1--\r\n"},
		{"zabbix@mon.example", "Subject: =?ISO-8859-1?Q?Probl=E8me_:_disque_plein?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nd\xe9bordement\r\n"},
		{"", "Subject: =?x-unknown?Q?abc?=\r\n\r\n"},
		{"", "Subject: \xe9t\xe9\r\n\r\nraw 8-bit header\r\n"},
		{"", "Subject:   \r\n\r\nno subject\r\n"},
		{"", "Subject: RESOLVED:\r\n\r\n"},
		{"", "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--x--\r\n"},
		{"", "Content-Type: multipart/mixed\r\n\r\nno boundary\r\n"},
		{strings.Repeat("a", 300) + "@example.org", "Subject: " + strings.Repeat("long ", 300) + "\r\n\r\n"},
	} {
		f.Add(s.from, []byte(s.msg))
	}
	f.Fuzz(func(t *testing.T, from string, raw []byte) {
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return // the intake answers 550 "not an email message"
		}
		ev := emailEvent(from, msg)
		if ev.Action != alert.Trigger && ev.Action != alert.Resolve {
			t.Fatalf("action %q", ev.Action)
		}
		if !strings.HasPrefix(ev.DedupKey, "email:") || len(ev.DedupKey) != len("email:")+32 {
			t.Fatalf("dedup key %q", ev.DedupKey)
		}
		if ev.Severity != alert.Error || ev.Class != "email" || strings.TrimSpace(ev.Source) == "" ||
			utf8.RuneCountInString(ev.Source) > alert.MaxField {
			t.Fatalf("event %+v", ev)
		}
		if ev.Action == alert.Trigger {
			if strings.TrimSpace(ev.Summary) == "" || utf8.RuneCountInString(ev.Summary) > alert.MaxSummary {
				t.Fatalf("summary %q", ev.Summary)
			}
			var det map[string]any
			if err := json.Unmarshal(ev.Details, &det); err != nil || det["tool"] != "email" {
				t.Fatalf("details %q: %v", ev.Details, err)
			}
			if b, _ := det["body"].(string); len(b) > 64<<10 || !utf8.ValidString(b) {
				t.Fatalf("body of %d bytes, valid UTF-8 %v", len(b), utf8.ValidString(b))
			}
		}
		again, _ := mail.ReadMessage(bytes.NewReader(raw))
		if ev2 := emailEvent(from, again); ev2.DedupKey != ev.DedupKey || ev2.Action != ev.Action || ev2.Summary != ev.Summary {
			t.Fatalf("reading it again gave %+v, first %+v", ev2, ev)
		}
	})
}
