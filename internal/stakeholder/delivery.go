package stakeholder

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/report"
)

// The channels of an update's delivery other than a Ward user's contact
// method (whose kind names the channel: email, sms, voice, slack, teams,
// webhook).
const ChannelExternalEmail = "external_email"

// UpdateDelivery is one message that carried a status update to an
// external subscriber, or announced it to a Ward user: the proof of who
// was told, how and when.
type UpdateDelivery struct {
	StatusUpdateID string
	// External says the recipient is an external contact (by email);
	// otherwise a Ward user, by one of their contact methods.
	External bool
	// Recipient is the Ward user's username, or the external contact's
	// name (PHI-class); RecipientID the user's or the contact's id.
	Recipient   string
	RecipientID string
	// Organisation is the external contact's organisation; PartyName the
	// name of the registry party the contact speaks for, if any.
	Organisation string
	PartyName    string
	Channel      string
	// Status is queued (or scheduled, sending), sent, failed, cancelled
	// or, for a Ward user's message, rate_limited (not sent).
	Status   string
	Attempts int
	// Error is why the last attempt failed, if it did.
	Error string
	// MessageID is the email's Message-ID for an external contact, the
	// message's id in Ward's outbox for a Ward user.
	MessageID string
	QueuedAt  time.Time
	SentAt    *time.Time
}

// deliveryRow is an UpdateDelivery before its sealed fields are opened.
type deliveryRow struct {
	UpdateDelivery
	// rowID is the message's row, whose id its sealed error is bound to.
	rowID, contactID, sealedError string
}

// updateDeliveries reads every delivery of incident incidentID's status
// updates, oldest first, without opening the contacts (contact ids in
// contactID) or the errors.
func updateDeliveries(ctx context.Context, q db.Querier, incidentID string) ([]deliveryRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT n.status_update_id, n.id, u.username, u.id, n.channel, n.status, n.attempts, n.last_error,
		n.created_at, n.sent_at FROM notifications n JOIN users u ON u.id = n.user_id JOIN status_updates s ON s.id = n.status_update_id
		WHERE s.incident_id = $1 ORDER BY n.created_at, n.id`, incidentID)
	users, err := db.Collect(rows, err, "read update messages", func(r *sql.Rows) (deliveryRow, error) {
		var d deliveryRow
		var sent sql.NullTime
		err := r.Scan(&d.StatusUpdateID, &d.rowID, &d.Recipient, &d.RecipientID, &d.Channel, &d.Status, &d.Attempts, &d.sealedError,
			&d.QueuedAt, &sent)
		d.MessageID, d.QueuedAt, d.SentAt = d.rowID, d.QueuedAt.UTC(), utcPtr(sent)
		return d, err
	})
	if err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT m.status_update_id, m.id, x.contact_id, COALESCE(p.name, ''), m.status, m.attempts, m.error,
		m.message_id, m.created_at, m.sent_at FROM external_mail m JOIN external_subscriptions x ON x.id = m.subscription_id
		JOIN external_contacts c ON c.id = x.contact_id LEFT JOIN breach_parties p ON p.id = c.party_id
		WHERE x.incident_id = $1 AND m.kind = $2 ORDER BY m.created_at, m.id`, incidentID, MailKindUpdate)
	emails, err := db.Collect(rows, err, "read update emails", func(r *sql.Rows) (deliveryRow, error) {
		d := deliveryRow{UpdateDelivery: UpdateDelivery{External: true, Channel: ChannelExternalEmail}}
		var sent sql.NullTime
		err := r.Scan(&d.StatusUpdateID, &d.rowID, &d.contactID, &d.PartyName, &d.Status, &d.Attempts, &d.sealedError, &d.MessageID, &d.QueuedAt, &sent)
		d.RecipientID, d.QueuedAt, d.SentAt = d.contactID, d.QueuedAt.UTC(), utcPtr(sent)
		return d, err
	})
	if err != nil {
		return nil, err
	}
	return append(users, emails...), nil
}

// UpdateDeliveries lists, for each status update of incident ref (by its
// id), every message that carried or announced it: to which Ward user or
// external contact, by which channel, when queued and sent, or why it
// failed. Contacts are PHI-class, so it needs incident:read_phi, and the
// read is audited.
func (s *Service) UpdateDeliveries(ctx context.Context, ref string) (map[string][]UpdateDelivery, error) {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out map[string][]UpdateDelivery
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		out = map[string][]UpdateDelivery{}
		f, err := visible(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		ds, err := updateDeliveries(ctx, tx, f.ID)
		if err != nil {
			return err
		}
		contacts := map[string]Contact{}
		for _, d := range ds {
			if d.External {
				c, ok := contacts[d.contactID]
				if !ok {
					if c, err = s.contactTx(ctx, tx, d.contactID); err != nil {
						return err
					}
					contacts[d.contactID] = c
				}
				d.Recipient, d.Organisation = c.Name, c.Organisation
				if d.Error, err = keys.ExternalMailError.OpenText(s.keys, d.sealedError, d.rowID); err != nil {
					return err
				}
			} else if d.Error, err = keys.NotificationLastError.OpenText(s.keys, d.sealedError, d.rowID); err != nil {
				return err
			}
			out[d.StatusUpdateID] = append(out[d.StatusUpdateID], d.UpdateDelivery)
		}
		if len(ds) == 0 {
			return nil // nothing read
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_update_delivery.list", ObjectType: "incident", ObjectID: f.ID,
			Change: map[string]any{"deliveries": len(ds)}})
		return err
	})
	return out, err
}

// proofUpdate is a status update as the proof bundle lists it: who it
// was for and every delivery, without its text or any contact's details,
// which are PHI-class (report.Producer's files hold none).
type proofUpdate struct {
	ID         string          `json:"id"`
	Audience   string          `json:"audience"`
	Label      string          `json:"audience_label"`
	PostedBy   string          `json:"posted_by"`
	PostedAt   time.Time       `json:"posted_at"`
	PHIChecked bool            `json:"phi_checked"`
	Deliveries []proofDelivery `json:"deliveries"`
}

type proofDelivery struct {
	Recipient string `json:"recipient"`
	// RecipientKind is "user" or "external_contact"; Recipient the
	// user's username or the contact's id.
	RecipientKind string     `json:"recipient_kind"`
	Party         string     `json:"party,omitempty"`
	Channel       string     `json:"channel"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	MessageID     string     `json:"message_id"`
	QueuedAt      time.Time  `json:"queued_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

// ProofFiles is the report.Producer of a breach case's stakeholder
// communications: the file stakeholders/updates.json listing its
// incident's status updates, each with its audience and every delivery
// (recipient, channel, status, when queued and sent); no file when the
// incident has no update.
func (s *Service) ProofFiles(ctx context.Context, c breach.Case) ([]report.File, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, audience, posted_by, posted_at, phi_checked FROM status_updates WHERE incident_id = $1
		ORDER BY posted_at, id`, c.IncidentID)
	updates, err := db.Collect(rows, err, "read status updates", func(r *sql.Rows) (proofUpdate, error) {
		u := proofUpdate{Deliveries: []proofDelivery{}}
		err := r.Scan(&u.ID, &u.Audience, &u.PostedBy, &u.PostedAt, &u.PHIChecked)
		u.PostedAt = u.PostedAt.UTC()
		return u, err
	})
	if err != nil || len(updates) == 0 {
		return nil, err
	}
	audiences := make([]string, len(updates))
	for i, u := range updates {
		audiences[i] = u.Audience
	}
	labels, err := audienceLabels(ctx, s.db.R, audiences)
	if err != nil {
		return nil, err
	}
	ds, err := updateDeliveries(ctx, s.db.R, c.IncidentID)
	if err != nil {
		return nil, err
	}
	byUpdate := map[string][]proofDelivery{}
	for _, d := range ds {
		p := proofDelivery{Recipient: d.Recipient, RecipientKind: "user", Party: d.PartyName, Channel: d.Channel, Status: d.Status,
			Attempts: d.Attempts, MessageID: d.MessageID, QueuedAt: d.QueuedAt, SentAt: d.SentAt}
		if d.External {
			p.Recipient, p.RecipientKind = d.RecipientID, "external_contact"
		}
		byUpdate[d.StatusUpdateID] = append(byUpdate[d.StatusUpdateID], p)
	}
	for i := range updates {
		updates[i].Label = labels[updates[i].Audience]
		if d := byUpdate[updates[i].ID]; d != nil {
			updates[i].Deliveries = d
		}
	}
	b, err := json.MarshalIndent(map[string]any{"incident": c.IncidentNumber, "status_updates": updates}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("stakeholders/updates.json: %w", err)
	}
	return []report.File{{Name: "stakeholders/updates.json", Body: append(b, '\n')}}, nil
}
