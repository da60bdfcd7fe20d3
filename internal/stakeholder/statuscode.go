package stakeholder

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/keys"
)

// The one-time code before a subscriber's status page opens: a link
// alone (forwarded, or read off a shared screen) shows nothing of the
// updates. The page first offers to email a 6-digit code to the
// subscriber's address, through the external outbox; the right code,
// entered on that link's page, gives the reader a cookie (StatusSession)
// that opens that link's page, and no other, for StatusSessionTTL.
//
// A code works for StatusCodeTTL, once, on the link it was sent for; it
// is kept as the SHA-256 of the link's token and the code, so the
// database alone does not give it. MaxCodeAttempts wrong tries lock it
// (a new code is needed); at most MaxCodeSends codes are sent per
// subscription in CodeSendWindow. Every send, refusal, wrong try and
// opening is audited, without the code.

// Tuning of the one-time code.
const (
	// StatusCodeTTL is how long a code works.
	StatusCodeTTL = 10 * time.Minute
	// MaxCodeAttempts is how many wrong tries lock a code.
	MaxCodeAttempts = 5
	// MaxCodeSends is how many codes one subscription is sent in
	// CodeSendWindow.
	MaxCodeSends = 5
	// CodeSendWindow is the window of MaxCodeSends.
	CodeSendWindow = time.Hour
	// StatusSessionTTL is how long the right code keeps a page open.
	StatusSessionTTL = time.Hour
)

// MailKindCode is the kind of email that carries a one-time code.
const MailKindCode = "code"

// StatusSessionCookie is the name of the cookie that keeps a status page
// open after the right code.
const StatusSessionCookie = "ward_status_page"

// StatusGate is what the page asking for a code shows.
type StatusGate struct {
	// Incident is the incident's number.
	Incident string
	// MaskedEmail is the subscriber's address with most of it hidden
	// ("n***@n***.example").
	MaskedEmail string
	// CodeSent says a code that still works was sent for this link.
	CodeSent bool
}

// statusLink is a status page link that may be used.
type statusLink struct {
	hash, sub, contact, incidentID, number, audience string
}

// errCodeLocked is what a code answers after MaxCodeAttempts wrong tries.
var errCodeLocked = apperr.Field("code", "was entered wrongly %d times, so it no longer works: send a new code", MaxCodeAttempts)

// IsStatusLink reports whether token is a status page link (usable or
// not), rather than another external link.
func (s *Service) IsStatusLink(ctx context.Context, token string) (bool, error) {
	var found int
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM external_links WHERE token_hash = $1 AND purpose = $2`,
		hashLinkToken(token), linkStatus).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("read status page link: %w", err)
	}
	return found > 0, nil
}

// statusLinkTx reads the status page link with token. A link that
// expired, was revoked, whose subscriber no longer receives updates or
// whose incident is a drill is refused (errExternalLink) after the attempt is audited: refused is then
// true, and the caller commits the audit entry and returns the error.
func statusLinkTx(ctx context.Context, tx *sql.Tx, token string, now time.Time) (l statusLink, refused bool, err error) {
	var status string
	var drill bool
	var expires, used sql.NullTime
	l.hash = hashLinkToken(token)
	err = tx.QueryRowContext(ctx, `SELECT l.subscription_id, x.contact_id, x.incident_id, i.number, x.status, x.audience, l.expires_at, l.used_at,
		i.drill FROM external_links l JOIN external_subscriptions x ON x.id = l.subscription_id JOIN incidents i ON i.id = x.incident_id
		WHERE l.token_hash = $1 AND l.purpose = $2`, l.hash, linkStatus).Scan(
		&l.sub, &l.contact, &l.incidentID, &l.number, &status, &l.audience, &expires, &used, &drill)
	if errors.Is(err, sql.ErrNoRows) {
		return statusLink{}, false, errExternalLink
	}
	if err != nil {
		return statusLink{}, false, fmt.Errorf("read status page link: %w", err)
	}
	var why string
	switch {
	case used.Valid:
		why = "revoked"
	case expires.Valid && !expires.Time.After(now):
		why = "expired"
	case status != SubscriptionConfirmed:
		why = "subscription " + status
	case drill:
		// A subscriber's page never shows a drill (docs/DRILLS.md).
		why = "drill"
	}
	if why == "" {
		return l, false, nil
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_page.refused", ObjectType: "incident", ObjectID: l.incidentID,
		Change: l.change(map[string]any{"reason": why})})
	return statusLink{}, true, err
}

// change is an audit entry's detail about l, with more: the ids only,
// never the code or the address.
func (l statusLink) change(more map[string]any) map[string]any {
	c := map[string]any{"subscription_id": l.sub, "contact_id": l.contact, "audience": l.audience,
		"by": "the contact, by the link in their email"}
	for k, v := range more {
		c[k] = v
	}
	return c
}

// sessionOpens reports whether session (a cookie's value) opens the page
// of the link with hash linkHash now.
func sessionOpens(ctx context.Context, tx *sql.Tx, session, linkHash string, now time.Time) (bool, error) {
	if session == "" {
		return false, nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM status_page_sessions WHERE token_hash = $1 AND link_hash = $2 AND expires_at > $3`,
		hashLinkToken(session), linkHash, now).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read status page session: %w", err)
	}
	return n > 0, nil
}

// codeHash is what is kept of code, sent for the link with token.
func codeHash(token, code string) string {
	h := sha256.Sum256([]byte(token + "\x00" + code))
	return hex.EncodeToString(h[:])
}

// newCode is a random 6-digit code.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// MaskEmail hides most of an address: the first letter of the mailbox and
// of the domain's first label stay, and the rest of the domain after it.
func MaskEmail(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" {
		return "***"
	}
	first, rest, _ := strings.Cut(domain, ".")
	out := local[:1] + "***@"
	if first != "" {
		out += first[:1] + "***"
	}
	if rest != "" {
		out += "." + rest
	}
	return out
}

// gateTx reads what the code page shows for link l.
func (s *Service) gateTx(ctx context.Context, tx *sql.Tx, l statusLink, now time.Time) (StatusGate, error) {
	c, err := s.contactTx(ctx, tx, l.contact)
	if err != nil {
		return StatusGate{}, err
	}
	g := StatusGate{Incident: l.number, MaskedEmail: MaskEmail(c.Email)}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM status_page_codes WHERE link_hash = $1 AND used_at IS NULL AND expires_at > $2
		AND attempts < $3`, l.hash, now, MaxCodeAttempts).Scan(&n); err != nil {
		return StatusGate{}, fmt.Errorf("read status page codes: %w", err)
	}
	g.CodeSent = n > 0
	return g, nil
}

// OpenStatusPage reads what the status page link token shows to a reader
// whose cookie holds session: the page, if session was given by the
// right code for this link (the view is audited), or else what the page
// asking for a code shows. ok is false when token is no status page link
// at all (it may be another external link). A link that expired, was
// revoked or whose subscriber no longer receives updates is refused with
// the error every unusable link gives, and the attempt is audited.
func (s *Service) OpenStatusPage(ctx context.Context, token, session string) (p StatusPage, g StatusGate, open, ok bool, err error) {
	if ok, err = s.IsStatusLink(ctx, token); !ok || err != nil {
		return StatusPage{}, StatusGate{}, false, false, err
	}
	now := s.clock.Now()
	var refused bool
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		p, g, open = StatusPage{}, StatusGate{}, false
		l, r, err := statusLinkTx(ctx, tx, token, now)
		if refused = r; r || err != nil {
			return err
		}
		if open, err = sessionOpens(ctx, tx, session, l.hash, now); err != nil {
			return err
		}
		if !open {
			g, err = s.gateTx(ctx, tx, l, now)
			return err
		}
		audiences := []string{l.audience}
		if strings.HasPrefix(l.audience, AudienceCustomer) {
			audiences = append(audiences, AudiencePublic)
		}
		if p, err = s.statusPage(ctx, tx, l.incidentID, l.audience, audiences, now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_page.view", ObjectType: "incident", ObjectID: l.incidentID,
			Change: l.change(map[string]any{"updates": len(p.Updates)})})
		return err
	})
	if refused {
		return StatusPage{}, StatusGate{}, false, true, errExternalLink
	}
	return p, g, open, true, err
}

// SendStatusCode emails a new one-time code for the status page link
// token to its subscriber, through the external outbox; a code sent
// before for the link stops working. More than MaxCodeSends in
// CodeSendWindow for the subscription is refused (too soon). Both are
// audited (status_page.code_sent, status_page.code_refused).
func (s *Service) SendStatusCode(ctx context.Context, token string) (StatusGate, error) {
	if s.mail.Email == nil {
		return StatusGate{}, apperr.New(apperr.Conflict, "Ward cannot send email just now, so it cannot send a code")
	}
	now := s.clock.Now()
	var g StatusGate
	var result error
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		result = nil
		l, refused, err := statusLinkTx(ctx, tx, token, now)
		if refused {
			result = errExternalLink
			return err
		}
		if err != nil {
			return err
		}
		var sent int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM status_page_codes WHERE subscription_id = $1 AND created_at > $2`,
			l.sub, now.Add(-CodeSendWindow)).Scan(&sent); err != nil {
			return fmt.Errorf("count status page codes: %w", err)
		}
		if sent >= MaxCodeSends {
			result = apperr.New(apperr.TooSoon, "%d codes were sent in the last hour, the most Ward sends: wait a while, then send a new one", MaxCodeSends)
			_, err := audit.Append(ctx, tx, now, audit.Event{Action: "status_page.code_refused", ObjectType: "incident", ObjectID: l.incidentID,
				Change: l.change(map[string]any{"reason": "too many codes sent", "sent_in_last_hour": sent})})
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE status_page_codes SET used_at = $1, code = '' WHERE link_hash = $2 AND used_at IS NULL`,
			now, l.hash); err != nil {
			return fmt.Errorf("retire status page codes: %w", err)
		}
		code, id := newCode(), newID()
		sealed, err := keys.StatusPageCode.SealText(s.keys, code, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_page_codes (id, subscription_id, link_hash, code_hash, code, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, l.sub, l.hash, codeHash(token, code), sealed, now, now.Add(StatusCodeTTL)); err != nil {
			return fmt.Errorf("record status page code: %w", err)
		}
		mailID := newID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO external_mail (id, subscription_id, kind, code_id, status, due_at, message_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $6)`, mailID, l.sub, MailKindCode, id, MailQueued, now, "ward-"+mailID); err != nil {
			return fmt.Errorf("queue code email: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "status_page.code_sent", ObjectType: "incident", ObjectID: l.incidentID,
			Change: l.change(map[string]any{"code_id": id, "mail_id": mailID})}); err != nil {
			return err
		}
		g, err = s.gateTx(ctx, tx, l, now)
		return err
	})
	if err != nil {
		return StatusGate{}, err
	}
	return g, result
}

// CheckStatusCode checks code, entered on the page of the status page
// link token. The right code, once, before it expires and before
// MaxCodeAttempts wrong tries, is spent and returns a new session (the
// cookie's value) that opens this link's page for StatusSessionTTL. A
// wrong code is refused on the field "code" and counted. Every try is
// audited (status_page.code_accepted, .code_wrong, .code_locked), never
// with the code.
func (s *Service) CheckStatusCode(ctx context.Context, token, code string) (string, StatusGate, error) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return "", StatusGate{}, apperr.Field("code", "must be the 6 digits we emailed you")
	}
	now := s.clock.Now()
	var session string
	var g StatusGate
	var result error
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		session, result = "", nil
		l, refused, err := statusLinkTx(ctx, tx, token, now)
		if refused {
			result = errExternalLink
			return err
		}
		if err != nil {
			return err
		}
		if g, err = s.gateTx(ctx, tx, l, now); err != nil {
			return err
		}
		var id, hash string
		var attempts int
		var expires time.Time
		err = tx.QueryRowContext(ctx, `SELECT id, code_hash, attempts, expires_at FROM status_page_codes WHERE link_hash = $1 AND used_at IS NULL
			ORDER BY created_at DESC, id DESC LIMIT 1`, l.hash).Scan(&id, &hash, &attempts, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			result = apperr.Field("code", "has not been sent for this page, or was used already: send a new code")
		case err != nil:
			return fmt.Errorf("read status page code: %w", err)
		case !expires.After(now):
			result = apperr.Field("code", "has expired (a code works for %d minutes): send a new code", int(StatusCodeTTL/time.Minute))
		case attempts >= MaxCodeAttempts:
			result = errCodeLocked
		}
		if result != nil {
			_, err := audit.Append(ctx, tx, now, audit.Event{Action: "status_page.code_refused", ObjectType: "incident", ObjectID: l.incidentID,
				Change: l.change(map[string]any{"reason": "no code that works"})})
			return err
		}
		if subtle.ConstantTimeCompare([]byte(hash), []byte(codeHash(token, code))) != 1 {
			attempts++
			if _, err := tx.ExecContext(ctx, `UPDATE status_page_codes SET attempts = $1 WHERE id = $2`, attempts, id); err != nil {
				return fmt.Errorf("count a wrong code: %w", err)
			}
			action := "status_page.code_wrong"
			result = apperr.Field("code", "is not the one we sent: check it and try again (%d tries left)", MaxCodeAttempts-attempts)
			if attempts >= MaxCodeAttempts {
				action, result = "status_page.code_locked", errCodeLocked
				g.CodeSent = false
			}
			_, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "incident", ObjectID: l.incidentID,
				Change: l.change(map[string]any{"code_id": id, "attempts": attempts})})
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE status_page_codes SET used_at = $1, code = '' WHERE id = $2`, now, id); err != nil {
			return fmt.Errorf("spend status page code: %w", err)
		}
		session = newLinkToken()
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_page_sessions (token_hash, link_hash, expires_at) VALUES ($1, $2, $3)`,
			hashLinkToken(session), l.hash, now.Add(StatusSessionTTL)); err != nil {
			return fmt.Errorf("record status page session: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_page.code_accepted", ObjectType: "incident", ObjectID: l.incidentID,
			Change: l.change(map[string]any{"code_id": id, "attempts": attempts + 1})})
		return err
	})
	if err != nil {
		return "", StatusGate{}, err
	}
	return session, g, result
}

// codeText is the subject and text of the email that carries a code: the
// organisation, the incident's number, the code and the unsubscribe link,
// nothing else.
func codeText(org, number, code, unsubscribe string) (string, string) {
	return "Your code for the status page of " + number,
		"Your code to open your status page of incident " + number + " from " + org + " is:\n\n" + code + "\n\n" +
			fmt.Sprintf("It works once, for %d minutes, on the page where you asked for it. ", int(StatusCodeTTL/time.Minute)) +
			"If you did not ask for it, someone may have your status page link: ignore this email and do not share the code.\n\n" +
			"To receive no more about " + number + " (no sign-in needed):\n" + unsubscribe + "\n"
}

// forgetCodeTx empties the sealed copy of code id, kept only for its
// email; "" is no code.
func forgetCodeTx(ctx context.Context, tx *sql.Tx, id string) error {
	if id == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE status_page_codes SET code = '' WHERE id = $1`, id); err != nil {
		return fmt.Errorf("forget status page code: %w", err)
	}
	return nil
}

// auditCodeMailTx records whether the email of code m.code went out
// (status_page.code_mailed) or failed for good
// (status_page.code_mail_failed); the mail server's reply stays in the
// outbox, sealed.
func (s *Service) auditCodeMailTx(ctx context.Context, tx *sql.Tx, m *outMail, now time.Time) error {
	var sub, contact, incidentID string
	if err := tx.QueryRowContext(ctx, `SELECT x.id, x.contact_id, x.incident_id FROM status_page_codes c
		JOIN external_subscriptions x ON x.id = c.subscription_id WHERE c.id = $1`, m.code).Scan(&sub, &contact, &incidentID); err != nil {
		return fmt.Errorf("read status page code: %w", err)
	}
	action := "status_page.code_mailed"
	if m.err != nil {
		action = "status_page.code_mail_failed"
	}
	_, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "incident", ObjectID: incidentID,
		Change: map[string]any{"subscription_id": sub, "contact_id": contact, "code_id": m.code, "mail_id": m.id, "attempts": m.attempt}})
	return err
}

// PurgeStatusCodes deletes the one-time codes that can no longer matter:
// expired and older than CodeSendWindow (so they no longer count towards
// MaxCodeSends), with no email still queued to carry them. The emails
// that carried them keep their outcome and lose only the reference. It
// deletes the expired status page sessions too (they open nothing). One
// status_page.codes_purged and one status_page.sessions_purged audit
// event record how many of each went, in the same transaction, when any
// did. It is the status_page_codes_purge periodic task
// (jobs.Options.Tasks); it returns how many codes and sessions it deleted.
func (s *Service) PurgeStatusCodes(ctx context.Context) (codes, sessions int, err error) {
	now := s.clock.Now()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		codes, sessions = 0, 0
		const stale = `SELECT c.id FROM status_page_codes c WHERE c.expires_at <= $1 AND c.created_at <= $2
			AND NOT EXISTS (SELECT 1 FROM external_mail m WHERE m.code_id = c.id AND m.status = $3)`
		args := []any{now, now.Add(-CodeSendWindow), MailQueued}
		if _, err := tx.ExecContext(ctx, `UPDATE external_mail SET code_id = NULL WHERE code_id IN (`+stale+`)`, args...); err != nil {
			return fmt.Errorf("purge status page codes: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM status_page_codes WHERE id IN (`+stale+`)`, args...)
		if err != nil {
			return fmt.Errorf("purge status page codes: %w", err)
		}
		deleted, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if codes = int(deleted); codes > 0 {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "status_page.codes_purged", ObjectType: "status_page_code",
				Change: map[string]any{"deleted": codes}}); err != nil {
				return err
			}
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM status_page_sessions WHERE expires_at <= $1`, now)
		if err != nil {
			return fmt.Errorf("purge status page sessions: %w", err)
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return err
		}
		if sessions = int(deleted); sessions == 0 {
			return nil
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_page.sessions_purged", ObjectType: "status_page_session",
			Change: map[string]any{"deleted": sessions}})
		return err
	})
	return codes, sessions, err
}

// StatusCodesPurgePeriod is how often the status_page_codes_purge task
// runs.
const StatusCodesPurgePeriod = time.Hour
