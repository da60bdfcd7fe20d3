package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// ListMail is a plain-text email to a person outside Ward who subscribed
// to hear about an incident (package stakeholder). Unlike a Message it
// carries text: the caller answers for it holding no PHI.
type ListMail struct {
	// MessageID is the message's Message-ID without its angle brackets
	// and domain (e.g. a delivery's id): the same on every attempt to
	// send it, so a receiver can tell a re-send from a new message.
	MessageID string
	Subject   string
	Text      string
	// Unsubscribe is the https link that unsubscribes the recipient
	// without signing in: it goes in List-Unsubscribe with
	// List-Unsubscribe-Post (RFC 8058, one-click).
	Unsubscribe string
}

// ListMessageID is the Message-ID SendList gives id: <id@the sender's domain>.
func (e *Email) ListMessageID(id string) string {
	return "<" + id + "@" + e.from.Address[strings.LastIndexByte(e.from.Address, '@')+1:] + ">"
}

// SendList delivers m to the address to over its own connection, secured
// as Send secures it. The Receipt's ID is the Message-ID.
func (e *Email) SendList(ctx context.Context, to string, m ListMail) (Receipt, error) {
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return Receipt{}, Permanent(fmt.Errorf("smtp: recipient is not an address: %w", err))
	}
	if m.MessageID == "" || strings.ContainsAny(m.MessageID, "<>@ \r\n") {
		return Receipt{}, Permanent(errors.New("smtp: a list message needs a plain Message-ID"))
	}
	if !strings.HasPrefix(m.Unsubscribe, "https://") || strings.ContainsAny(m.Unsubscribe, "<> \r\n") {
		return Receipt{}, Permanent(errors.New("smtp: a list message needs an https unsubscribe link"))
	}
	msgID := e.ListMessageID(m.MessageID)
	body, err := e.composeText(rcpt, msgID, "", m.Subject, m.Text,
		"List-Unsubscribe", "<"+m.Unsubscribe+">", "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	if err != nil {
		return Receipt{}, err
	}
	if err := e.transmit(ctx, rcpt.Address, body); err != nil {
		return Receipt{}, err
	}
	return Receipt{Provider: "smtp", ID: msgID}, nil
}
