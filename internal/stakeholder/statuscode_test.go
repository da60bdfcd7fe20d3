package stakeholder_test

import (
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/stakeholder"
)

// TestStatusPageCode: a status page link alone shows nothing of the
// updates, only the masked address to send a code to; the code is
// emailed, kept hashed (its sealed copy emptied once sent), refused when
// wrong (counted, audited), locked after 5 wrong tries, single use,
// dead after 10 minutes; at most 5 are sent an hour; the right code's
// session opens that link's page only, for an hour; every send, refusal,
// wrong try and opening is audited.
func TestStatusPageCode(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail := e.withMail(t, "Acme Billing")
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Export exposed", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		// mailTo is the texts of the emails to addr, oldest first.
		mailTo := func(addr string) []string {
			_, kept := mail.snapshot()
			var out []string
			for _, m := range kept {
				head, body, _ := strings.Cut(m, "\r\n\r\n")
				if !strings.Contains(head, addr) {
					continue
				}
				b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(b))
			}
			return out
		}
		last := func(addr string) string { ts := mailTo(addr); return ts[len(ts)-1] }
		deliver := func() { e.deliverExternal(t) }
		dana, eli := "dana.reyes@mercy.example", "eli.reyes@mercy.example"
		for _, addr := range []string{dana, eli} {
			c, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: addr[:4], Organisation: "Clinic", Email: addr})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
				t.Fatal(err)
			}
			deliver()
			if _, err := e.svc.UseExternalLink(ctx, confirmRE.FindStringSubmatch(last(addr))[1]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Everyone: we are containing it.",
			Audience: stakeholder.AudiencePublic}); err != nil {
			t.Fatal(err)
		}
		deliver()
		danaPage, eliPage := confirmRE.FindStringSubmatch(last(dana))[1], confirmRE.FindStringSubmatch(last(eli))[1]
		send := func(token, addr string) string {
			t.Helper()
			if _, err := e.svc.SendStatusCode(ctx, token); err != nil {
				t.Fatalf("send a code: %v", err)
			}
			deliver()
			m := codeRE.FindStringSubmatch(last(addr))
			if m == nil {
				t.Fatalf("no code in the last email to %s: %q", addr, last(addr))
			}
			return m[1]
		}
		wrong := func(code string) string { return fmt.Sprintf("%06d", (atoi(t, code)+1)%1_000_000) }
		opens := func(token, session string) bool {
			t.Helper()
			p, _, open, ok, err := e.svc.OpenStatusPage(ctx, token, session)
			if !ok || err != nil {
				t.Fatalf("open the page: %v %v", ok, err)
			}
			if !open && len(p.Updates) != 0 {
				t.Fatalf("updates shown without the code: %+v", p)
			}
			return open
		}

		// The link alone shows the masked address, no update.
		_, g, open, _, err := e.svc.OpenStatusPage(ctx, danaPage, "")
		if err != nil || open || g.MaskedEmail != "d***@m***.example" || g.CodeSent || g.Incident != inc.Number {
			t.Fatalf("the link alone: %+v %v %v", g, open, err)
		}
		if _, _, err := e.svc.CheckStatusCode(ctx, danaPage, "123456"); !isField(err, "code") {
			t.Fatalf("a code before any was sent: %v", err)
		}
		if _, _, err := e.svc.CheckStatusCode(ctx, danaPage, "12ab"); !isField(err, "code") {
			t.Fatalf("not 6 digits: %v", err)
		}
		code := send(danaPage, dana)
		if !strings.Contains(last(dana), inc.Number) || strings.Contains(last(dana), "containing") {
			t.Fatalf("the code email: %q", last(dana))
		}
		var plain, kept int
		if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_page_codes WHERE code_hash = $1 OR code_hash LIKE $2 OR code = $1`,
			code, "%"+code+"%").Scan(&plain); err != nil || plain != 0 {
			t.Fatalf("the code is stored in plaintext (%d) %v", plain, err)
		}
		if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_page_codes WHERE code <> ''`).Scan(&kept); err != nil || kept != 0 {
			t.Fatalf("the code's copy is kept after its email went (%d) %v", kept, err)
		}
		// A wrong code is refused and counted; the right one opens once.
		if _, g, err := e.svc.CheckStatusCode(ctx, danaPage, wrong(code)); !isField(err, "code") || !g.CodeSent {
			t.Fatalf("a wrong code: %+v %v", g, err)
		}
		// Another's link does not take this code.
		if _, _, err := e.svc.CheckStatusCode(ctx, eliPage, code); !isField(err, "code") {
			t.Fatalf("dana's code on eli's page: %v", err)
		}
		session, _, err := e.svc.CheckStatusCode(ctx, danaPage, code[:3]+" "+code[3:])
		if err != nil || session == "" {
			t.Fatalf("the right code: %q %v", session, err)
		}
		if !opens(danaPage, session) {
			t.Fatal("the session does not open the page")
		}
		if _, _, err := e.svc.CheckStatusCode(ctx, danaPage, code); !isField(err, "code") {
			t.Fatalf("the code used twice: %v", err)
		}
		// The session opens this link's page only: not another
		// subscriber's, nor another link of the same subscriber.
		if opens(eliPage, session) {
			t.Fatal("dana's session opens eli's page")
		}
		if opens(danaPage, "forged") || opens(danaPage, "") {
			t.Fatal("a forged or absent session opens the page")
		}

		// Five wrong tries lock a code, even before the right one.
		code = send(eliPage, eli)
		for i := range stakeholder.MaxCodeAttempts {
			if _, _, err := e.svc.CheckStatusCode(ctx, eliPage, wrong(code)); !isField(err, "code") {
				t.Fatalf("wrong try %d: %v", i+1, err)
			}
		}
		if _, g, err := e.svc.CheckStatusCode(ctx, eliPage, code); !isField(err, "code") || g.CodeSent {
			t.Fatalf("the right code after 5 wrong ones: %+v %v", g, err)
		}
		// A new code works; the old one, sent before it, does not.
		old := code
		code = send(eliPage, eli)
		wrongs := 1 + stakeholder.MaxCodeAttempts - 1 // dana's, and eli's before the lock
		if old != code {
			if _, _, err := e.svc.CheckStatusCode(ctx, eliPage, old); !isField(err, "code") {
				t.Fatalf("a superseded code: %v", err)
			}
			wrongs++
		}
		if session, _, err = e.svc.CheckStatusCode(ctx, eliPage, code); err != nil || !opens(eliPage, session) {
			t.Fatalf("a new code after the lock: %v", err)
		}
		// The session lasts an hour.
		e.clk.Advance(stakeholder.StatusSessionTTL)
		if opens(eliPage, session) {
			t.Fatal("the session outlives its hour")
		}
		// A code lasts 10 minutes.
		code = send(eliPage, eli)
		e.clk.Advance(stakeholder.StatusCodeTTL)
		if _, _, err := e.svc.CheckStatusCode(ctx, eliPage, code); !isField(err, "code") {
			t.Fatalf("an expired code: %v", err)
		}
		// At most 5 codes an hour per subscriber: eli had 1 this hour.
		for range stakeholder.MaxCodeSends - 1 {
			send(eliPage, eli)
		}
		if _, err := e.svc.SendStatusCode(ctx, eliPage); apperr.CodeOf(err) != apperr.TooSoon {
			t.Fatalf("a sixth code in the hour: %v", err)
		}
		e.clk.Advance(stakeholder.CodeSendWindow)
		send(eliPage, eli)

		// Refused: a code before any was sent, dana's code on eli's page,
		// a code used twice, the right code after the lock, an expired
		// code, the sixth send.
		want := map[string]int{"status_page.code_sent": 9, "status_page.code_mailed": 9, "status_page.code_refused": 6,
			"status_page.code_wrong": wrongs, "status_page.code_locked": 1, "status_page.code_accepted": 2, "status_page.view": 2}
		for a, n := range want {
			if got := auditCount(t, d, a); got != n {
				t.Errorf("%s audited %d times, want %d", a, got, n)
			}
		}
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPurgeStatusCodes: the periodic task deletes the codes that are
// expired and out of the send window, not those still counted towards
// the hourly limit nor one whose email is still queued; the email that
// carried a deleted code stays, and the purge is audited with its count.
// The same task deletes the status page sessions whose hour has passed,
// audited with their count, and keeps those still open.
func TestPurgeStatusCodes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail := e.withMail(t, "Acme Billing")
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Export exposed", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		deliver := func() { e.deliverExternal(t) }
		last := func() string {
			_, kept := mail.snapshot()
			_, body, _ := strings.Cut(kept[len(kept)-1], "\r\n\r\n")
			b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		c, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Dana", Organisation: "Clinic", Email: "dana.reyes@mercy.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
			t.Fatal(err)
		}
		deliver()
		if _, err := e.svc.UseExternalLink(ctx, confirmRE.FindStringSubmatch(last())[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Everyone: we are containing it.",
			Audience: stakeholder.AudiencePublic}); err != nil {
			t.Fatal(err)
		}
		deliver()
		page := confirmRE.FindStringSubmatch(last())[1]
		codes := func() int {
			t.Helper()
			var n int
			if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_page_codes`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		sessions := func() int {
			t.Helper()
			var n int
			if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_page_sessions`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		purge := func(wantCodes, wantSessions int) {
			t.Helper()
			if c, s, err := e.svc.PurgeStatusCodes(ctx); err != nil || c != wantCodes || s != wantSessions {
				t.Fatalf("purged %d codes and %d sessions (%v), want %d and %d", c, s, err, wantCodes, wantSessions)
			}
		}

		// One code sent, mailed and entered (a session for an hour); one
		// asked for whose email is still queued.
		if _, err := e.svc.SendStatusCode(ctx, page); err != nil {
			t.Fatal(err)
		}
		deliver()
		if _, _, err := e.svc.CheckStatusCode(ctx, page, codeRE.FindStringSubmatch(last())[1]); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		if _, err := e.svc.SendStatusCode(ctx, page); err != nil {
			t.Fatal(err)
		}
		// Expired but still counted towards the hourly limit: kept; the
		// session is still open: kept.
		e.clk.Advance(stakeholder.StatusCodeTTL)
		purge(0, 0)
		// Out of the window: the mailed one goes, the queued one stays;
		// the session's hour has passed: it goes.
		e.clk.Advance(stakeholder.CodeSendWindow)
		purge(1, 1)
		if n := codes(); n != 1 || sessions() != 0 {
			t.Fatalf("%d codes and %d sessions left, want the queued code alone", n, sessions())
		}
		var mails int
		if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM external_mail WHERE kind = $1`, stakeholder.MailKindCode).Scan(&mails); err != nil || mails != 2 {
			t.Fatalf("%d code emails kept (%v), want 2", mails, err)
		}
		// Once its email went, the other goes too; nothing is left to purge.
		deliver()
		purge(1, 0)
		purge(0, 0)
		if n := codes(); n != 0 {
			t.Fatalf("%d codes left, want none", n)
		}
		if got := auditCount(t, d, "status_page.codes_purged"); got != 2 {
			t.Fatalf("status_page.codes_purged audited %d times, want 2", got)
		}
		if got := auditCount(t, d, "status_page.sessions_purged"); got != 1 {
			t.Fatalf("status_page.sessions_purged audited %d times, want 1", got)
		}
	})
}
