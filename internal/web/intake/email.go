package intake

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// MaxEmailBytes caps an email sent to the intake.
const MaxEmailBytes = 1 << 20

// EmailDeps are what the email intake needs.
type EmailDeps struct {
	Alerts *alert.Intake
	// Domain is the part after the @ of every intake address:
	// <integration key>@<Domain>.
	Domain string
	// TLS, when set, is offered with STARTTLS.
	TLS *tls.Config
	Log *slog.Logger
}

// ServeEmail accepts alerts by email on ln until ctx ends: a message to
// <key>@<domain>, where key is an email integration's key, becomes a
// trigger (or, with a subject starting "RESOLVED:", a resolve) keyed by
// its subject. The server answers 250 only once the alert is committed.
func ServeEmail(ctx context.Context, ln net.Listener, d EmailDeps) error {
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &emailSession{d: d}, nil }))
	s.Domain = d.Domain
	s.TLSConfig = d.TLS
	s.MaxMessageBytes = MaxEmailBytes
	s.MaxRecipients = 10
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.ErrorLog = emailLog{d.Log}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(shut)
	}()
	if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return err
	}
	return nil
}

type emailLog struct{ l *slog.Logger }

func (e emailLog) Printf(format string, _ ...any) { e.l.Warn("email_intake", "message", format) }
func (e emailLog) Println(...any)                 { e.l.Warn("email_intake", "message", "smtp error") }

type emailSession struct {
	d    EmailDeps
	from string
	to   []alert.Integration
}

func (s *emailSession) Reset()        { s.from, s.to = "", nil }
func (s *emailSession) Logout() error { return nil }

func (s *emailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

var noMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such intake address"}

func (s *emailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	key, domain, ok := strings.Cut(strings.ToLower(to), "@")
	if !ok || domain != strings.ToLower(s.d.Domain) {
		return noMailbox
	}
	ig, err := s.d.Alerts.Authenticate(context.Background(), key)
	if errors.Is(err, alert.ErrUnknownKey) || err == nil && ig.Kind != alert.KindEmail {
		return noMailbox
	}
	if err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.to = append(s.to, ig)
	return nil
}

func (s *emailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(io.LimitReader(r, MaxEmailBytes))
	if err != nil {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "not an email message"}
	}
	ev := emailEvent(s.from, msg)
	for _, ig := range s.to {
		if _, err := s.d.Alerts.Ingest(context.Background(), ig, []alert.Event{ev}); err != nil {
			if apperr.CodeOf(err) == apperr.Internal {
				s.d.Log.Error("email_intake_failed", "integration_id", ig.ID, "error", err)
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not recorded; try again later"}
			}
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "not an alert Ward can record: " + safeMessage(err)}
		}
	}
	return nil
}

// emailEvent turns a message into an event: its subject is the summary
// and, normalised, the dedup key (so repeats of one alert count up); a
// subject starting "RESOLVED:" or "[RESOLVED]" resolves the alert of the
// rest of the subject. The text part and headers are the details.
func emailEvent(from string, msg *mail.Message) alert.Event {
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	subject = strings.Join(strings.Fields(subject), " ")
	ev := alert.Event{Action: alert.Trigger, Severity: alert.Error, Source: clipText(first(from, "email"), alert.MaxField), Class: "email"}
	upper := strings.ToUpper(subject)
	for _, p := range []string{"RESOLVED:", "[RESOLVED]"} {
		if strings.HasPrefix(upper, p) {
			ev.Action = alert.Resolve
			subject = strings.TrimSpace(subject[len(p):])
			break
		}
	}
	if subject == "" {
		subject = "Email alert from " + first(from, "an unknown sender")
	}
	sum := sha256.Sum256([]byte(strings.ToLower(subject)))
	ev.DedupKey = "email:" + hex.EncodeToString(sum[:16])
	if ev.Action == alert.Trigger {
		ev.Summary = clipText(subject, alert.MaxSummary)
		body := textPart(msg)
		raw, _ := json.Marshal(map[string]any{"tool": "email", "from": from, "subject": subject,
			"message_id": msg.Header.Get("Message-Id"), "date": msg.Header.Get("Date"), "body": body})
		ev.Details = raw
	}
	return ev
}

// textPart returns the message's plain text: the body, or its first
// text/plain part, at most 64 KiB.
func textPart(msg *mail.Message) string {
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	var body io.Reader = msg.Body
	if err == nil && strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(msg.Body, params["boundary"])
		body = strings.NewReader("")
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			if pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt == "text/plain" || pt == "" {
				body = p
				break
			}
		}
	}
	b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	return strings.ToValidUTF8(string(b), "")
}

func first(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
