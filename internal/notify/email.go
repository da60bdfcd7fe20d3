package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/wardhq/ward/internal/clock"
)

// The TLS modes of EmailConfig. There is no plain-text mode
// (45 CFR 164.312(e)(2)(ii): encryption in transit).
const (
	TLSModeStartTLS = "starttls" // connect in clear, then STARTTLS must succeed before anything else is sent
	TLSModeImplicit = "tls"      // TLS from the first byte, as on port 465
)

// EmailConfig configures an Email sender.
type EmailConfig struct {
	Host     string // the SMTP server's host name; also the name its certificate must carry
	Port     int    // e.g. 587 for starttls, 465 for tls
	Username string // optional; with Password, authenticates with AUTH PLAIN over TLS
	Password string
	From     string        // the sender address, e.g. "Ward <ward@example.org>"
	TLSMode  string        // TLSModeStartTLS or TLSModeImplicit
	TLS      *tls.Config   // optional; e.g. RootCAs for a private CA. ServerName defaults to Host
	Timeout  time.Duration // bounds one whole delivery; default 10s
	Clock    clock.Clock   // for the Date header; default clock.Real
}

// Email sends plain-text email over SMTP, always encrypted.
type Email struct {
	cfg  EmailConfig
	from *mail.Address
	tls  *tls.Config
}

// NewEmail checks cfg and returns an Email sender.
func NewEmail(cfg EmailConfig) (*Email, error) {
	if cfg.Host == "" {
		return nil, errors.New("notify: email host is required")
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("notify: email port %d is not between 1 and 65535", cfg.Port)
	}
	if cfg.TLSMode != TLSModeStartTLS && cfg.TLSMode != TLSModeImplicit {
		return nil, fmt.Errorf("notify: email tls mode %q is not %q or %q", cfg.TLSMode, TLSModeStartTLS, TLSModeImplicit)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("notify: email username and password must be set together")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify: email from is not an address: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
		if tc.MinVersion < tls.VersionTLS12 {
			tc.MinVersion = tls.VersionTLS12
		}
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	return &Email{cfg: cfg, from: from, tls: tc}, nil
}

// Send delivers m to the address to. The Receipt's ID is the Message-ID.
func (e *Email) Send(ctx context.Context, to string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return Receipt{}, Permanent(fmt.Errorf("smtp: recipient is not an address: %w", err))
	}
	msgID, body, err := e.compose(rcpt, m)
	if err != nil {
		return Receipt{}, err
	}
	if err := e.transmit(ctx, rcpt.Address, body); err != nil {
		return Receipt{}, err
	}
	return Receipt{Provider: "smtp", ID: msgID}, nil
}

// transmit sends one composed message to addr over a connection of its
// own, within the configured timeout.
func (e *Email) transmit(ctx context.Context, addr string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	conn, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Cancelling ctx unblocks any read or write in progress.
	defer context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })()
	c, err := e.secure(ctx, conn)
	if err != nil {
		return err
	}
	defer c.Close()
	return e.deliver(c, addr, body)
}

// connect opens the TCP connection, its deadline that of ctx.
func (e *Email) connect(ctx context.Context) (net.Conn, error) {
	addr := e.addr()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: connecting to %s: %w", addr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return nil, fmt.Errorf("smtp: setting deadline on %s: %w", addr, err)
		}
	}
	return conn, nil
}

func (e *Email) addr() string { return net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port)) }

// secure establishes TLS on conn, implicitly or by STARTTLS, before any
// other command; a server that does not offer STARTTLS gets nothing.
func (e *Email) secure(ctx context.Context, conn net.Conn) (*smtp.Client, error) {
	if e.cfg.TLSMode == TLSModeImplicit {
		tc := tls.Client(conn, e.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("smtp: TLS handshake with %s: %w", e.addr(), err)
		}
		return smtp.NewClient(tc), nil
	}
	c, err := smtp.NewClientStartTLS(conn, e.tls)
	if err != nil {
		return nil, fmt.Errorf("smtp: STARTTLS with %s (refusing to send in clear): %w", e.addr(), err)
	}
	return c, nil
}

func (e *Email) deliver(c *smtp.Client, to string, body []byte) error {
	if e.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", e.cfg.Username, e.cfg.Password)); err != nil {
			return fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	if err := c.Mail(e.from.Address, nil); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return bounced(fmt.Errorf("smtp: RCPT TO: %w", err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("smtp: writing message: %w", err)
	}
	if err := w.Close(); err != nil {
		return bounced(fmt.Errorf("smtp: end of DATA: %w", err))
	}
	// The server accepted the message; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// bounceError is a permanent refusal (5xx) of a recipient or of a
// message to them: the address, not Ward's mail set-up, is at fault.
type bounceError struct{ err error }

func (b *bounceError) Error() string { return b.err.Error() }
func (b *bounceError) Unwrap() error { return b.err }

// bounced marks err as a bounce when the server refused with a 5xx
// reply; other errors are returned as they are.
func bounced(err error) error {
	if se, ok := errors.AsType[*smtp.SMTPError](err); ok && se.Code/100 == 5 {
		return &bounceError{err}
	}
	return err
}

// IsBounce reports whether err is a permanent refusal (5xx) of the
// recipient (RCPT TO) or of the message (end of DATA) by the mail server
// at send; a refusal of Ward's own sign-in or sender (AUTH, MAIL FROM) is
// not a bounce.
func IsBounce(err error) bool {
	_, ok := errors.AsType[*bounceError](err)
	return ok
}

// compose builds the RFC 5322 message: plain text, quoted-printable, with
// a fresh Message-ID in the sender's domain.
func (e *Email) compose(to *mail.Address, m Message) (string, []byte, error) {
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", nil, fmt.Errorf("smtp: generating Message-ID: %w", err)
	}
	domain := e.from.Address[strings.LastIndexByte(e.from.Address, '@')+1:]
	msgID := "<" + hex.EncodeToString(rnd[:]) + "@" + domain + ">"
	subject, text := Render(m)
	body, err := e.composeText(to, msgID, m.ID, subject, text)
	return msgID, body, err
}

// composeText builds the RFC 5322 message of a plain-text subject and
// text; notificationID, when set, goes in HeaderNotificationID, and extra
// are more headers, name then value.
func (e *Email) composeText(to *mail.Address, msgID, notificationID, subject, text string, extra ...string) ([]byte, error) {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", e.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", e.cfg.Clock.Now().Format(time.RFC1123Z))
	header("Message-ID", msgID)
	if notificationID != "" {
		header(HeaderNotificationID, notificationID)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		header(extra[i], extra[i+1])
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: automatic messages must not trigger auto-replies.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n"))); err != nil {
		return nil, fmt.Errorf("smtp: encoding body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("smtp: encoding body: %w", err)
	}
	return b.Bytes(), nil
}
