package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// EmailSession is one SMTP connection, secured as Send secures it, that
// delivers several plain-text messages in turn (bulk notices: one TLS
// handshake for many messages). It is not safe for concurrent use: open
// one per worker.
type EmailSession struct {
	e      *Email
	conn   net.Conn
	c      *smtp.Client
	broken bool
}

// OpenSession connects, secures the connection (TLS is required) and
// authenticates if configured. Each message it sends has e's timeout.
func (e *Email) OpenSession(ctx context.Context) (*EmailSession, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	conn, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	c, err := e.secure(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if e.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", e.cfg.Username, e.cfg.Password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("smtp: AUTH: %w", err)
		}
	}
	return &EmailSession{e: e, conn: conn, c: c}, nil
}

// Broken reports whether the connection failed and must be replaced.
func (s *EmailSession) Broken() bool { return s.broken }

// SendText delivers one plain-text message to the address to. The
// Receipt's ID is the Message-ID and its Status the server's answer to
// the end of DATA (e.g. "2.0.0 Ok: queued as 4F2"). A recipient the server
// refuses (5xx) is a permanent error and leaves the session usable.
func (s *EmailSession) SendText(to, subject, text string) (Receipt, error) {
	if s.broken {
		return Receipt{}, errors.New("smtp: session is broken")
	}
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return Receipt{}, Permanent(fmt.Errorf("smtp: recipient is not an address: %w", err))
	}
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return Receipt{}, fmt.Errorf("smtp: generating Message-ID: %w", err)
	}
	domain := s.e.from.Address[strings.LastIndexByte(s.e.from.Address, '@')+1:]
	msgID := "<" + hex.EncodeToString(rnd[:]) + "@" + domain + ">"
	body, err := s.e.composeText(rcpt, msgID, "", subject, text)
	if err != nil {
		return Receipt{}, err
	}
	if err := s.conn.SetDeadline(time.Now().Add(s.e.cfg.Timeout)); err != nil {
		s.broken = true
		return Receipt{}, err
	}
	fail := func(step string, err error) (Receipt, error) {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			// The server refused this message; the session goes on.
			if rerr := s.c.Reset(); rerr != nil {
				s.broken = true
			}
			return Receipt{}, Permanent(fmt.Errorf("smtp: %s: %w", step, err))
		}
		s.broken = true
		return Receipt{}, fmt.Errorf("smtp: %s: %w", step, err)
	}
	if err := s.c.Mail(s.e.from.Address, nil); err != nil {
		return fail("MAIL FROM", err)
	}
	if err := s.c.Rcpt(rcpt.Address, nil); err != nil {
		return fail("RCPT TO", err)
	}
	w, err := s.c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(body); err != nil {
		s.broken = true
		return Receipt{}, fmt.Errorf("smtp: writing message: %w", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return fail("end of DATA", err)
	}
	return Receipt{Provider: "smtp", ID: msgID, Status: resp.StatusText}, nil
}

// Close ends the session politely.
func (s *EmailSession) Close() error {
	if !s.broken {
		_ = s.c.Quit()
	}
	return s.c.Close()
}
