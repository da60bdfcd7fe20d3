// Package notify sends Ward's outbound notifications: email over SMTP with
// mandatory TLS, Twilio SMS and voice calls, Slack (incoming webhook or bot
// token), Microsoft Teams Workflows webhooks and a generic webhook signed
// with HMAC-SHA256. It is a client library with no database; the caller
// decides whom to notify, when, and whether to retry.
//
// Every channel is a Sender built from its own config struct:
//
//	NewEmail(EmailConfig)               to: an email address
//	NewTwilioSMS(TwilioConfig)          to: an E.164 phone number
//	NewTwilioVoice(TwilioConfig)        to: an E.164 phone number
//	NewSlackWebhook(SlackWebhookConfig) to: ignored, the webhook URL is the destination
//	NewSlackBot(SlackBotConfig)         to: a Slack channel ID
//	NewTeams(TeamsConfig)               to: ignored, the webhook URL is the destination
//	NewWebhook(WebhookConfig)           to: ignored, the webhook URL is the destination
//
// Send returns a Receipt, or an error that IsTransient classifies: network
// errors, timeouts, HTTP 408, 429 and 5xx and SMTP 4xx replies are worth
// retrying with backoff; HTTP 4xx, SMTP 5xx, a bad address or a message
// that fails validation are permanent (wrapped with Permanent).
//
// Every channel shows the same words, built by Render. A Message carries no
// free text: only an incident number, severity, service, a short status
// line, links and a code, so that no PHI leaves Ward (45 CFR 164.312(e)(1),
// 164.502(b) minimum necessary). Every HTTP channel refuses a plain http://
// URL except to a loopback address, and email refuses to send without TLS
// (45 CFR 164.312(e)(2)(ii)). The channels whose URL a person types (Slack
// incoming webhooks, Teams, webhooks) connect only through an
// outbound.Guard, which refuses loopback, private and metadata addresses
// unless an administrator allow-lists them.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/outbound"
)

// The kinds of Message.
const (
	KindPage         = "page"          // a page to the on-call responder
	KindStatusUpdate = "status_update" // the incident's status changed
	KindReminder     = "reminder"      // something is overdue
	// KindPageStatus tells the people paged for an incident that its page
	// was acknowledged, escalated or resolved; Status says which, and who
	// acted (a username, never free text).
	KindPageStatus = "page_status"
	// KindEmergencyAccess tells the Security Officer that someone used
	// emergency (break-glass) access to a restricted incident
	// (45 CFR 164.312(a)(2)(ii)).
	KindEmergencyAccess = "emergency_access"
	// KindBackupFailed tells the Security Officer that a scheduled backup
	// failed (45 CFR 164.308(a)(7)(ii)(A), data backup plan); it names no
	// incident and carries no detail of the failure.
	KindBackupFailed = "backup_failed"
	// KindAuditChainBroken tells the Security Officer that Ward found its
	// audit trail altered and started a new segment of it (45 CFR
	// 164.312(b) audit controls, 164.312(c)(1) integrity); it carries no
	// detail of the break.
	KindAuditChainBroken = "audit_chain_broken"
	// KindEvidenceAltered tells the Security Officer that an evidence
	// item of an incident failed its integrity check (45 CFR 164.312(c)(1)
	// integrity); it names the incident and nothing of the item.
	KindEvidenceAltered = "evidence_altered"
	// KindPagingFailed tells the Security Officer that an incident's page
	// reached nobody or that nobody acknowledged it; Status says which.
	KindPagingFailed = "paging_failed"
	KindTest         = "test"   // a test the user asked for
	KindVerify       = "verify" // a contact method's verification code
)

// Message is what Ward sends. It must never carry PHI (45 CFR 164.312(e)(1);
// Ward's rule: outbound carries a number and a link). That is why it has no
// free-text field: callers must not put patient names, identifiers or
// incident descriptions into any field. Status is a line from Ward's own
// vocabulary, never text a user typed, and links carry ids and signed
// tokens, never data. The reader follows URL into Ward, where access is
// authenticated and audited.
type Message struct {
	Kind       string // one of the Kind constants
	Incident   string // the incident number, e.g. "INC-42"; required except for KindVerify and KindTest
	Severity   string // "sev1".."sev4"; optional
	Service    string // the service's name; optional
	Status     string // a short line (at most 64 bytes), e.g. "triggered", "acknowledged", "update overdue"
	URL        string // the link to the incident in Ward; required when Incident is set
	AckURL     string // optional signed one-click acknowledge link
	ResolveURL string // optional signed one-click resolve link
	// EscalateURL is an optional signed one-click link that pages the
	// escalation policy's next step at once.
	EscalateURL string
	Code        string // the verification code (required for KindVerify) or an SMS reply code
	// ID is the notification's id, the same on every attempt to send it,
	// so a receiver can tell a re-send from a new message: webhooks carry
	// it in the HeaderNotificationID header and the body, email in that
	// header, and every text ends with its last 8 characters as a
	// reference. Optional.
	ID string
	// Thread is the provider's id of an earlier message this one answers:
	// a Slack bot posts it as a reply in that message's thread (the page
	// a status change is about). Other channels ignore it. Optional.
	Thread string
}

// HeaderNotificationID is the header, on webhooks and email, that carries
// Message.ID.
const HeaderNotificationID = "Ward-Notification-Id"

// ShortRef is the reference to notification id that texts show: its last
// 8 characters (of a UUIDv7, random bits).
func ShortRef(id string) string { return id[max(len(id)-8, 0):] }

// Receipt is what a provider says about an accepted message.
type Receipt struct {
	Provider string // "smtp", "twilio", "slack", "teams" or "webhook"
	ID       string // the provider's message id (email: the Message-ID), when it gives one
	Status   string // the provider's status (Twilio: "queued"; an SMTP session: the reply to the message), when it gives one
}

// Sender delivers a Message over one channel. Implementations are safe for
// concurrent use.
type Sender interface {
	// Send delivers m to the recipient to, whose form depends on the
	// channel (see the package comment). It returns once the provider has
	// accepted the message or failed; classify the error with IsTransient.
	Send(ctx context.Context, to string, m Message) (Receipt, error)
}

// Every channel is a Sender.
var (
	_ Sender = (*Email)(nil)
	_ Sender = (*TwilioSMS)(nil)
	_ Sender = (*TwilioVoice)(nil)
	_ Sender = (*SlackWebhook)(nil)
	_ Sender = (*SlackBot)(nil)
	_ Sender = (*Teams)(nil)
	_ Sender = (*Webhook)(nil)
)

const (
	maxFieldLen    = 200
	maxStatusLen   = 64 // a status line, not room for a description
	maxURLLen      = 2048
	defaultTimeout = 10 * time.Second
)

var (
	severityRE = regexp.MustCompile(`^sev[1-4]$`)
	codeRE     = regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`)
	idRE       = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// Validate reports the first field of m that is missing or malformed. Every
// Sender calls it and returns its error wrapped with Permanent. Control
// characters are refused everywhere: they could forge email headers or
// break the other formats.
func (m Message) Validate() error {
	switch m.Kind {
	case KindPage, KindPageStatus, KindStatusUpdate, KindReminder, KindTest, KindVerify, KindEmergencyAccess, KindBackupFailed, KindAuditChainBroken,
		KindEvidenceAltered, KindPagingFailed:
	default:
		return fmt.Errorf("notify: message kind %q is not one of page, page_status, status_update, reminder, test, verify, emergency_access, "+
			"backup_failed, audit_chain_broken, evidence_altered, paging_failed", m.Kind)
	}
	fields := []struct {
		name, value string
		max         int
	}{
		{"incident", m.Incident, maxFieldLen},
		{"severity", m.Severity, maxFieldLen},
		{"service", m.Service, maxFieldLen},
		{"status", m.Status, maxStatusLen},
		{"url", m.URL, maxURLLen},
		{"ack_url", m.AckURL, maxURLLen},
		{"resolve_url", m.ResolveURL, maxURLLen},
		{"escalate_url", m.EscalateURL, maxURLLen},
		{"code", m.Code, maxFieldLen},
		{"id", m.ID, maxFieldLen},
		{"thread", m.Thread, maxFieldLen},
	}
	for _, f := range fields {
		if len(f.value) > f.max {
			return fmt.Errorf("notify: message %s is longer than %d bytes", f.name, f.max)
		}
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("notify: message %s is not valid UTF-8", f.name)
		}
		if strings.ContainsFunc(f.value, isControl) {
			return fmt.Errorf("notify: message %s contains a control character", f.name)
		}
	}
	if m.Severity != "" && !severityRE.MatchString(m.Severity) {
		return fmt.Errorf("notify: message severity %q is not sev1..sev4", m.Severity)
	}
	if m.ID != "" && !idRE.MatchString(m.ID) {
		return errors.New("notify: message id must be 1 to 64 letters, digits or dashes")
	}
	if m.Code != "" && !codeRE.MatchString(m.Code) {
		return errors.New("notify: message code must be 1 to 32 letters, digits or dashes")
	}
	for _, u := range []struct{ name, value string }{{"url", m.URL}, {"ack_url", m.AckURL}, {"resolve_url", m.ResolveURL},
		{"escalate_url", m.EscalateURL}} {
		if u.value != "" && !strings.HasPrefix(u.value, "https://") && !strings.HasPrefix(u.value, "http://") {
			return fmt.Errorf("notify: message %s is not an http(s) URL", u.name)
		}
	}
	switch {
	case m.Kind == KindVerify && m.Code == "":
		return errors.New("notify: message code is required for kind verify")
	case m.Kind != KindVerify && m.Kind != KindTest && m.Kind != KindBackupFailed && m.Kind != KindAuditChainBroken && m.Incident == "":
		return fmt.Errorf("notify: message incident is required for kind %s", m.Kind)
	case m.Incident != "" && m.URL == "":
		return errors.New("notify: message url is required when incident is set")
	}
	return nil
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
}

// Render returns the subject line and plain-text body every channel shows
// for m: email uses both, SMS and chat the text, voice the subject. The
// text has one item a line, links last.
func Render(m Message) (subject, text string) {
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			b.WriteString(label + value + "\n")
		}
	}
	switch m.Kind {
	case KindVerify:
		subject = "Ward verification code"
		line("Your Ward verification code is ", m.Code)
		b.WriteString("If you did not ask for it, ignore this message.\n")
		return subject, b.String()
	case KindTest:
		subject = "Ward test notification"
		b.WriteString("This is a test notification from Ward. No action is needed.\n")
		if m.Incident == "" {
			line("Open: ", m.URL)
			return subject, b.String()
		}
	case KindBackupFailed:
		subject = "Ward BACKUP FAILED"
		b.WriteString("A scheduled backup of Ward failed, so the newest backup is older than planned. " +
			"Ask Ward's administrator to look at the server log and make a backup. Ward tries again within the hour.\n")
		line("Open: ", m.URL)
		return subject, b.String()
	case KindAuditChainBroken:
		subject = "Ward AUDIT TRAIL ALTERED"
		b.WriteString("Ward found its audit trail altered: someone may have changed its database. Ward started a new, " +
			"separate part of the trail that records where the change was found, and keeps working. " +
			"Treat this as a security incident: ask Ward's administrator to check the audit trail and the server log.\n")
		line("Open: ", m.URL)
		return subject, b.String()
	case KindEvidenceAltered:
		subject = "Ward EVIDENCE ALTERED in " + m.Incident
		b.WriteString("The stored content of an evidence item of this incident failed its integrity check: it was altered " +
			"or damaged since it was added. Treat this as a security incident: see the item in Ward and ask Ward's " +
			"administrator to check the server log.\n")
		line("Open: ", m.URL)
		return subject, b.String()
	case KindPagingFailed:
		subject = "Ward PAGING FAILED for " + m.Incident
		b.WriteString("Paging for this incident failed: nobody may be working on it. Make sure someone is: page a person " +
			"by hand, or acknowledge the page in Ward once someone is on it.\n")
	case KindEmergencyAccess:
		subject = "Ward EMERGENCY ACCESS to " + m.Incident
		b.WriteString("Emergency (break-glass) access to a restricted incident was granted. Review it in Ward.\n")
	default:
		subject = "Ward " + joinNonEmpty(" ", m.Incident, upper(m.Severity), m.Service)
		if m.Status != "" {
			subject += ": " + m.Status
		}
	}
	line("Incident: ", m.Incident)
	line("Severity: ", upper(m.Severity))
	line("Service: ", m.Service)
	line("Status: ", m.Status)
	line("Open: ", m.URL)
	line("Acknowledge: ", m.AckURL)
	line("Resolve: ", m.ResolveURL)
	line("Escalate now: ", m.EscalateURL)
	if m.Kind == KindPage && m.Code != "" {
		line("Reply ", m.Code+" to acknowledge, "+m.Code+"R to resolve or "+m.Code+"E to escalate now")
	} else {
		line("Reply code: ", m.Code)
	}
	if m.ID != "" {
		line("Ref: ", ShortRef(m.ID))
	}
	return subject, b.String()
}

func upper(s string) string { return strings.ToUpper(s) }

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying will not fix, so that
// IsTransient reports false for it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsTransient reports whether a Send error is worth retrying with backoff:
// network errors, timeouts, HTTP 408, 429 and 5xx, a Slack "ratelimited" and
// SMTP 4xx replies. Errors marked by Permanent, HTTP 4xx, SMTP 5xx, a
// destination the outbound guard refuses and anything unrecognised are
// permanent, and so is a nil error.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*permanentError](err); ok {
		return false
	}
	if he, ok := errors.AsType[*HTTPError](err); ok {
		return he.transient()
	}
	if se, ok := errors.AsType[*smtp.SMTPError](err); ok {
		return se.Code/100 == 4
	}
	if outbound.IsRefused(err) {
		return false // the address is forbidden; asking again changes nothing
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true // a timeout, or the connection dropped mid-conversation
	}
	_, ok := errors.AsType[net.Error](err) // refused, reset, timed out
	return ok
}
