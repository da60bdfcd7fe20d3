package stakeholder

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notify"
)

// External subscribers: an external contact (Contact) subscribed to an
// incident by a responder hears of it by email, once they have confirmed
// (double opt-in), until they unsubscribe by the link every email
// carries. Email to them goes through an outbox of its own
// (external_mail): one row per recipient and message, written in the
// transaction that caused it, claimed under a lease, sent, and recorded
// as sent or failed; a temporary failure is tried again with backoff.
//
// What the emails say: the incident's number, the organisation's name
// (its profile), the links, and for a status update its text, which a
// responder wrote for stakeholders and which passed the PHI check. Never
// the incident's title, description or any other free text; an update
// the Privacy Officer posted over the PHI check is not emailed at all.

// The states of a subscription.
const (
	SubscriptionPending      = "pending"      // asked to confirm; hears nothing else
	SubscriptionConfirmed    = "confirmed"    // receives the status updates
	SubscriptionUnsubscribed = "unsubscribed" // asked to hear no more
	// SubscriptionUndeliverable: the mail server refused an email to the
	// contact for good (5xx at send, notify.IsBounce); nothing more is
	// sent until the contact is subscribed again and confirms.
	SubscriptionUndeliverable = "undeliverable"
)

// The states of an email in the outbox.
const (
	MailQueued    = "queued"    // to send (again, after a temporary failure)
	MailSent      = "sent"      // the mail server accepted it
	MailFailed    = "failed"    // refused, or out of attempts
	MailCancelled = "cancelled" // not sent: the subscriber unsubscribed first
)

// The kinds of email to an external subscriber.
const (
	MailKindConfirm = "confirm" // asks the contact to confirm the subscription
	MailKindUpdate  = "update"  // a status update
)

const (
	linkConfirm     = "confirm"
	linkUnsubscribe = "unsubscribe"
)

// Tuning of the external outbox.
const (
	// ConfirmTTL is how long a confirmation link works.
	ConfirmTTL = 7 * 24 * time.Hour
	// MaxMailAttempts is how many times an email is tried before it is
	// failed.
	MaxMailAttempts = 8
	// mailLease is how long a claimed email is left to its sender before
	// another may send it again (under the same Message-ID).
	mailLease = 2 * time.Minute
	// mailBatch is how many emails one claim takes.
	mailBatch = 20
)

// mailBackoff is the wait before attempt n+1 of email id after n failed
// with err: 1, 2, 4 ... minutes, at most an hour, plus up to a fifth more
// spread by the email's id, so that emails that failed together (the mail
// server's outage) do not all come back at once; the same backoff as
// paging's outbox (notify.Backoff).
var mailBackoff = notify.Backoff{First: time.Minute, Max: time.Hour, MaxRetryAfter: time.Hour}.Delay

// MailOptions configure email to external subscribers.
type MailOptions struct {
	Email *notify.Email
	// BaseURL is Ward's public address, that the links point at.
	BaseURL string
	// Organisation reads the organisation's name, which the emails give
	// as their sender.
	Organisation func(context.Context) (string, error)
}

// SetMail sets how email reaches external subscribers, and the address
// and organisation name the status pages use. Without an Email (no
// --smtp-server) no external contact can be subscribed.
func (s *Service) SetMail(o MailOptions) { s.mail = o }

// Subscriber is an external contact's subscription to an incident.
type Subscriber struct {
	ID           string
	ContactID    string
	Name         string
	Organisation string
	Email        string
	Status       string
	// Audience is the audience whose updates the subscriber is sent;
	// AudienceLabel its plain name.
	Audience      string
	AudienceLabel string
	SubscribedBy  string
	SubscribedAt  time.Time
	ConfirmedAt   *time.Time
	// UnsubscribedAt is when the contact unsubscribed by their link.
	UnsubscribedAt *time.Time
}

func hashLinkToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newLinkToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SubscribeContact subscribes external contact contactID to incident ref
// as one of audience (by default the customer the contact speaks for, if
// any, else the public) and queues the email that asks them to confirm. Responders and
// commanders may (incident:write); the contact's details are PHI-class,
// so incident:read_phi too. A contact already pending or confirmed is a
// conflict; one who unsubscribed is asked to confirm again. A drill has no
// external subscribers (a conflict).
func (s *Service) SubscribeContact(ctx context.Context, ref, contactID, audience string) (Subscriber, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Subscriber{}, err
	}
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return Subscriber{}, err
	}
	contactID = strings.TrimSpace(contactID)
	if contactID == "" {
		return Subscriber{}, apperr.Field("contact_id", "is required")
	}
	if s.mail.Email == nil {
		return Subscriber{}, apperr.New(apperr.Conflict, "Ward sends no email (no SMTP server is set up), so it cannot ask the contact to confirm")
	}
	if org, err := s.mail.Organisation(ctx); err != nil {
		return Subscriber{}, err
	} else if strings.TrimSpace(org) == "" {
		return Subscriber{}, apperr.New(apperr.Conflict, "the organisation profile has no name yet, and every email to an external contact gives it: set it first")
	}
	now := s.clock.Now()
	var sub Subscriber
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		f, err := visible(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		if f.Drill {
			return apperr.New(apperr.Conflict, "%s is a drill: nobody outside Ward is told of a drill, so it has no external subscribers", f.Number)
		}
		if len(contactID) > MaxName {
			return apperr.Field("contact_id", "is no external contact")
		}
		c, err := s.contactTx(ctx, tx, contactID)
		if e, ok := apperr.As(err); ok && e.Code == apperr.NotFound {
			return apperr.Field("contact_id", "is no external contact")
		} else if err != nil {
			return err
		}
		def, err := defaultAudience(ctx, tx, c.PartyID)
		if err != nil {
			return err
		}
		a, err := resolveAudience(ctx, tx, "audience", audience, def)
		if err != nil {
			return err
		}
		var id, status string
		err = tx.QueryRowContext(ctx, `SELECT id, status FROM external_subscriptions WHERE incident_id = $1 AND contact_id = $2`,
			f.ID, c.ID).Scan(&id, &status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			id = newID()
			_, err = tx.ExecContext(ctx, `INSERT INTO external_subscriptions (id, incident_id, contact_id, status, subscribed_by, subscribed_at, audience)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, f.ID, c.ID, SubscriptionPending, actor.String(), now, a.Key)
		case err != nil:
		case status == SubscriptionUnsubscribed || status == SubscriptionUndeliverable:
			// The confirm links of before the unsubscribe are spent: only
			// the new email's link confirms.
			if _, err = tx.ExecContext(ctx, `UPDATE external_links SET used_at = $1 WHERE subscription_id = $2 AND purpose = $3
				AND used_at IS NULL`, now, id, linkConfirm); err != nil {
				break
			}
			_, err = tx.ExecContext(ctx, `UPDATE external_subscriptions SET status = $1, subscribed_by = $2, subscribed_at = $3,
				confirmed_at = NULL, unsubscribed_at = NULL, audience = $4 WHERE id = $5`, SubscriptionPending, actor.String(), now, a.Key, id)
		default:
			return apperr.Field("contact_id", "is subscribed to %s already (%s)", f.Number, status)
		}
		if err != nil {
			return fmt.Errorf("subscribe external contact: %w", err)
		}
		if err := queueMail(ctx, tx, id, MailKindConfirm, "", now); err != nil {
			return err
		}
		sub = Subscriber{ID: id, ContactID: c.ID, Name: c.Name, Organisation: c.Organisation, Email: c.Email, Status: SubscriptionPending,
			Audience: a.Key, AudienceLabel: a.Label, SubscribedBy: actor.String(), SubscribedAt: now}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "external_subscription.create", ObjectType: "incident", ObjectID: f.ID,
			Change: map[string]any{"subscription_id": id, "contact_id": c.ID, "audience": a.Key}}); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, f.ID, incident.EventStatusUpdate,
			"An external contact was subscribed by "+actor.Name+" and asked by email to confirm.")
	})
	return sub, err
}

// defaultAudience is the audience of a contact who speaks for party (""
// for none): that customer's, when it is a customer of the registry that
// is not archived, else the public.
func defaultAudience(ctx context.Context, tx *sql.Tx, party string) (string, error) {
	if party == "" {
		return AudiencePublic, nil
	}
	var kind string
	err := tx.QueryRowContext(ctx, `SELECT kind FROM breach_parties WHERE id = $1 AND archived_at IS NULL`, party).Scan(&kind)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read the contact's party: %w", err)
	}
	if kind == "customer" {
		return AudienceCustomer + party, nil
	}
	return AudiencePublic, nil
}

// queueMail puts an email of kind for subscription sub in the outbox.
func queueMail(ctx context.Context, tx *sql.Tx, sub, kind, updateID string, now time.Time) error {
	id := newID()
	_, err := tx.ExecContext(ctx, `INSERT INTO external_mail (id, subscription_id, kind, status_update_id, status, due_at, message_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $6)`, id, sub, kind, nullString(updateID), MailQueued, now, "ward-"+id)
	if err != nil {
		return fmt.Errorf("queue email: %w", err)
	}
	return nil
}

// queueUpdateTx queues status update updateID for every confirmed
// subscriber of incident incidentID in audience and returns how many.
func queueUpdateTx(ctx context.Context, tx *sql.Tx, incidentID, updateID, audience string, now time.Time) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM external_subscriptions WHERE incident_id = $1 AND status = $2 AND audience = $3 ORDER BY id`,
		incidentID, SubscriptionConfirmed, audience)
	if err != nil {
		return 0, fmt.Errorf("read external subscribers: %w", err)
	}
	var subs []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		subs = append(subs, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, sub := range subs {
		if err := queueMail(ctx, tx, sub, MailKindUpdate, updateID, now); err != nil {
			return 0, err
		}
	}
	return len(subs), nil
}

// countConfirmedTx counts incident incidentID's confirmed subscribers in
// audience.
func countConfirmedTx(ctx context.Context, q db.Querier, incidentID, audience string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM external_subscriptions WHERE incident_id = $1 AND status = $2 AND audience = $3`,
		incidentID, SubscriptionConfirmed, audience).Scan(&n)
	return n, err
}

// Subscribers lists incident ref's external subscribers, every state;
// the read is audited when it shows any.
func (s *Service) Subscribers(ctx context.Context, ref string) ([]Subscriber, error) {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []Subscriber
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		out = []Subscriber{}
		f, err := visible(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, contact_id, status, subscribed_by, subscribed_at, confirmed_at, unsubscribed_at, audience
			FROM external_subscriptions WHERE incident_id = $1 ORDER BY subscribed_at, id`, f.ID)
		if err != nil {
			return fmt.Errorf("list external subscribers: %w", err)
		}
		for rows.Next() {
			var sub Subscriber
			var confirmed, unsubscribed sql.NullTime
			if err := rows.Scan(&sub.ID, &sub.ContactID, &sub.Status, &sub.SubscribedBy, &sub.SubscribedAt, &confirmed, &unsubscribed, &sub.Audience); err != nil {
				rows.Close()
				return err
			}
			sub.SubscribedAt, sub.ConfirmedAt, sub.UnsubscribedAt = sub.SubscribedAt.UTC(), utcPtr(confirmed), utcPtr(unsubscribed)
			out = append(out, sub)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var audiences []string
		for _, sub := range out {
			audiences = append(audiences, sub.Audience)
		}
		labels, err := audienceLabels(ctx, tx, audiences)
		if err != nil {
			return err
		}
		for i := range out {
			c, err := s.contactTx(ctx, tx, out[i].ContactID)
			if err != nil {
				return err
			}
			out[i].Name, out[i].Organisation, out[i].Email = c.Name, c.Organisation, c.Email
			out[i].AudienceLabel = labels[out[i].Audience]
		}
		if len(out) == 0 {
			return nil // nothing read
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "external_subscription.list", ObjectType: "incident", ObjectID: f.ID,
			Change: map[string]any{"subscribers": len(out)}})
		return err
	})
	return out, err
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// MailCounts are what became of a status update's emails to external
// subscribers.
type MailCounts struct {
	// Recipients is how many confirmed subscribers it was queued for.
	Recipients, Sent, Failed, Queued int
}

// mailCounts reads the counts of every status update of incident
// incidentID that was emailed, by update id.
func mailCounts(ctx context.Context, q db.Querier, incidentID string) (map[string]MailCounts, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.status_update_id, m.status, COUNT(*) FROM external_mail m
		JOIN status_updates u ON u.id = m.status_update_id WHERE u.incident_id = $1 GROUP BY m.status_update_id, m.status`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("count external emails: %w", err)
	}
	defer rows.Close()
	out := map[string]MailCounts{}
	for rows.Next() {
		var id, status string
		var n int
		if err := rows.Scan(&id, &status, &n); err != nil {
			return nil, err
		}
		c := out[id]
		c.Recipients += n
		switch status {
		case MailSent:
			c.Sent += n
		case MailFailed:
			c.Failed += n
		case MailQueued:
			c.Queued += n
		}
		out[id] = c
	}
	return out, rows.Err()
}

// Delivery is one email to an external subscriber, as recorded.
type Delivery struct {
	ID             string
	Kind           string // MailKindConfirm or MailKindUpdate
	StatusUpdateID string // for MailKindUpdate
	SubscriptionID string
	ContactName    string
	Organisation   string
	Status         string
	Attempts       int
	// Error is the mail server's reply to the last failed attempt.
	Error     string
	MessageID string
	CreatedAt time.Time
	SentAt    *time.Time
}

// Deliveries lists every email to incident ref's external subscribers,
// newest first, with the contacts' names and the errors; the read is
// audited.
func (s *Service) Deliveries(ctx context.Context, ref string) ([]Delivery, error) {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []Delivery
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		out = []Delivery{}
		f, err := visible(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT m.id, m.kind, COALESCE(m.status_update_id, ''), m.subscription_id, s.contact_id, m.status,
			m.attempts, m.error, m.message_id, m.created_at, m.sent_at FROM external_mail m
			JOIN external_subscriptions s ON s.id = m.subscription_id WHERE s.incident_id = $1 ORDER BY m.created_at DESC, m.id DESC LIMIT 2000`, f.ID)
		if err != nil {
			return fmt.Errorf("list external emails: %w", err)
		}
		var contacts []string
		for rows.Next() {
			var d Delivery
			var contact string
			var sent sql.NullTime
			if err := rows.Scan(&d.ID, &d.Kind, &d.StatusUpdateID, &d.SubscriptionID, &contact, &d.Status, &d.Attempts, &d.Error,
				&d.MessageID, &d.CreatedAt, &sent); err != nil {
				rows.Close()
				return err
			}
			d.CreatedAt, d.SentAt = d.CreatedAt.UTC(), utcPtr(sent)
			out, contacts = append(out, d), append(contacts, contact)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		names := map[string]Contact{}
		for i := range out {
			c, ok := names[contacts[i]]
			if !ok {
				if c, err = s.contactTx(ctx, tx, contacts[i]); err != nil {
					return err
				}
				names[contacts[i]] = c
			}
			out[i].ContactName, out[i].Organisation = c.Name, c.Organisation
			if out[i].Error, err = keys.ExternalMailError.OpenText(s.keys, out[i].Error, out[i].ID); err != nil {
				return err
			}
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "external_mail.list", ObjectType: "incident", ObjectID: f.ID,
			Change: map[string]any{"emails": len(out)}})
		return err
	})
	return out, err
}

// LinkInfo describes a confirm or unsubscribe link.
type LinkInfo struct {
	// Purpose is "confirm" or "unsubscribe".
	Purpose string
	// Incident is the incident's number.
	Incident string
	// Done says the link had nothing left to do: the subscription was
	// confirmed, or unsubscribed, already.
	Done bool
}

// errExternalLink is what every unusable link answers, so a guesser
// learns nothing.
var errExternalLink = apperr.New(apperr.NotFound, "this link is not valid: it may have been used already or have expired")

// PeekExternalLink describes the link with token without using it.
func (s *Service) PeekExternalLink(ctx context.Context, token string) (LinkInfo, error) {
	var li LinkInfo
	var status string
	err := s.db.R.QueryRowContext(ctx, `SELECT l.purpose, i.number, x.status FROM external_links l
		JOIN external_subscriptions x ON x.id = l.subscription_id JOIN incidents i ON i.id = x.incident_id
		WHERE l.token_hash = $1 AND l.used_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $2)`,
		hashLinkToken(token), s.clock.Now()).Scan(&li.Purpose, &li.Incident, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return LinkInfo{}, errExternalLink
	}
	if err != nil {
		return LinkInfo{}, fmt.Errorf("read external link: %w", err)
	}
	li.Done = li.Purpose == linkConfirm && status != SubscriptionPending || li.Purpose == linkUnsubscribe && status == SubscriptionUnsubscribed
	return li, nil
}

// UseExternalLink does what the link with token is for, without a
// sign-in: a confirm link (once, before it expires) confirms a pending
// subscription; an unsubscribe link (each time) unsubscribes, and the
// emails still queued for the subscriber are cancelled. Each is audited
// and noted on the incident's timeline.
func (s *Service) UseExternalLink(ctx context.Context, token string) (LinkInfo, error) {
	now := s.clock.Now()
	var li LinkInfo
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var sub, incidentID, status string
		err := tx.QueryRowContext(ctx, `SELECT l.purpose, l.subscription_id, x.incident_id, x.status, i.number FROM external_links l
			JOIN external_subscriptions x ON x.id = l.subscription_id JOIN incidents i ON i.id = x.incident_id
			WHERE l.token_hash = $1 AND l.used_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $2)`,
			hashLinkToken(token), now).Scan(&li.Purpose, &sub, &incidentID, &status, &li.Incident)
		if errors.Is(err, sql.ErrNoRows) {
			return errExternalLink
		}
		if err != nil {
			return fmt.Errorf("read external link: %w", err)
		}
		var action, note string
		switch {
		case li.Purpose == linkConfirm && status == SubscriptionPending:
			if _, err := tx.ExecContext(ctx, `UPDATE external_links SET used_at = $1 WHERE token_hash = $2`, now, hashLinkToken(token)); err != nil {
				return fmt.Errorf("spend confirm link: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE external_subscriptions SET status = $1, confirmed_at = $2 WHERE id = $3`,
				SubscriptionConfirmed, now, sub); err != nil {
				return fmt.Errorf("confirm subscription: %w", err)
			}
			action, note = "external_subscription.confirm", "An external contact confirmed by email that they want this incident's status updates."
			// Their audience's cadence may start now.
			if err := incident.RecheckSLATx(ctx, tx, incidentID, now); err != nil {
				return err
			}
		case li.Purpose == linkUnsubscribe && status != SubscriptionUnsubscribed:
			if _, err := tx.ExecContext(ctx, `UPDATE external_subscriptions SET status = $1, unsubscribed_at = $2 WHERE id = $3`,
				SubscriptionUnsubscribed, now, sub); err != nil {
				return fmt.Errorf("unsubscribe: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE external_mail SET status = $1, lease_until = NULL WHERE subscription_id = $2 AND status = $3`,
				MailCancelled, sub, MailQueued); err != nil {
				return fmt.Errorf("cancel queued email: %w", err)
			}
			if err := revokeStatusLinksTx(ctx, tx, sub, now); err != nil {
				return err
			}
			action, note = "external_subscription.unsubscribe", "An external contact unsubscribed from this incident's status updates by the link in their email."
		case li.Purpose == linkStatus:
			// A status page link only shows (GET).
			return errExternalLink
		case li.Purpose == linkConfirm:
			// Confirmed already, or unsubscribed since: nothing to do.
			return errExternalLink
		default:
			li.Done = true
			return nil
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "incident", ObjectID: incidentID,
			Change: map[string]any{"subscription_id": sub, "by": "the contact, by the link in their email"}}); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, incidentID, incident.EventStatusUpdate, note)
	})
	return li, err
}

// outMail is one claimed email, ready to send.
type outMail struct {
	id, to string
	// code is the id of the one-time code a MailKindCode email carries.
	code    string
	attempt int
	mail    notify.ListMail
	err     error
}

// DeliverExternal sends the due emails of the external outbox, a batch
// at a time, until none is due, and returns how many were sent. Any node
// may run it: a claim leases its emails, so two nodes do not send one.
func (s *Service) DeliverExternal(ctx context.Context) (int, error) {
	if s.mail.Email == nil {
		return 0, nil
	}
	sent := 0
	for ctx.Err() == nil {
		org, err := s.mail.Organisation(ctx)
		if err != nil {
			return sent, err
		}
		batch, err := s.claimMail(ctx, org)
		if err != nil || len(batch) == 0 {
			return sent, err
		}
		for _, m := range batch {
			_, m.err = s.mail.Email.SendList(ctx, m.to, m.mail)
		}
		n, err := s.recordMail(context.WithoutCancel(ctx), batch)
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// claimMail leases up to mailBatch due emails and prepares each: its
// address, its text and fresh links. An email whose subscription no
// longer wants it is cancelled instead.
func (s *Service) claimMail(ctx context.Context, org string) ([]*outMail, error) {
	now := s.clock.Now()
	var out []*outMail
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		out = nil
		q := `SELECT m.id, m.kind, m.attempts, m.message_id, COALESCE(m.status_update_id, ''), COALESCE(m.code_id, ''), m.subscription_id, x.status,
			x.contact_id, i.number FROM external_mail m JOIN external_subscriptions x ON x.id = m.subscription_id JOIN incidents i ON i.id = x.incident_id
			WHERE m.status = $1 AND m.due_at <= $2 AND (m.lease_until IS NULL OR m.lease_until <= $2) ORDER BY m.due_at, m.id LIMIT $3`
		if s.db.Dialect == db.Postgres {
			q += ` FOR UPDATE OF m SKIP LOCKED`
		}
		type row struct {
			id, kind, msgID, update, code, sub, status, contact, number string
			attempts                                                    int
		}
		rows, err := tx.QueryContext(ctx, q, MailQueued, now, mailBatch)
		if err != nil {
			return fmt.Errorf("claim external email: %w", err)
		}
		var rs []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.kind, &r.attempts, &r.msgID, &r.update, &r.code, &r.sub, &r.status, &r.contact, &r.number); err != nil {
				rows.Close()
				return err
			}
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range rs {
			if r.kind == MailKindConfirm && r.status != SubscriptionPending || r.kind != MailKindConfirm && r.status != SubscriptionConfirmed {
				if _, err := tx.ExecContext(ctx, `UPDATE external_mail SET status = $1 WHERE id = $2`, MailCancelled, r.id); err != nil {
					return fmt.Errorf("cancel external email: %w", err)
				}
				if err := forgetCodeTx(ctx, tx, r.code); err != nil {
					return err
				}
				continue
			}
			c, err := s.contactTx(ctx, tx, r.contact)
			if err != nil {
				return err
			}
			unsub := newLinkToken()
			if err := insertLink(ctx, tx, unsub, r.sub, linkUnsubscribe, nil); err != nil {
				return err
			}
			m := &outMail{id: r.id, to: c.Email, attempt: r.attempts + 1,
				mail: notify.ListMail{MessageID: r.msgID, Unsubscribe: s.linkURL(unsub)}}
			switch r.kind {
			case MailKindConfirm:
				confirm := newLinkToken()
				expires := now.Add(ConfirmTTL)
				if err := insertLink(ctx, tx, confirm, r.sub, linkConfirm, &expires); err != nil {
					return err
				}
				m.mail.Subject, m.mail.Text = confirmText(org, r.number, s.linkURL(confirm), m.mail.Unsubscribe)
			case MailKindCode:
				var sealed string
				if err := tx.QueryRowContext(ctx, `SELECT code FROM status_page_codes WHERE id = $1`, r.code).Scan(&sealed); err != nil {
					return fmt.Errorf("read status page code: %w", err)
				}
				code, err := keys.StatusPageCode.OpenText(s.keys, sealed, r.code)
				if err != nil {
					return err
				}
				if code == "" {
					// Superseded or used before it went out: nothing to send.
					if _, err := tx.ExecContext(ctx, `UPDATE external_mail SET status = $1 WHERE id = $2`, MailCancelled, r.id); err != nil {
						return fmt.Errorf("cancel external email: %w", err)
					}
					continue
				}
				m.code = r.code
				m.mail.Subject, m.mail.Text = codeText(org, r.number, code, m.mail.Unsubscribe)
			default:
				var sealed string
				var posted time.Time
				var checked bool
				if err := tx.QueryRowContext(ctx, `SELECT body, posted_at, phi_checked FROM status_updates WHERE id = $1`, r.update).Scan(
					&sealed, &posted, &checked); err != nil {
					return fmt.Errorf("read status update: %w", err)
				}
				if !checked {
					// Never queued so; refuse to send it all the same.
					return fmt.Errorf("external email %s: status update %s did not pass the PHI check", r.id, r.update)
				}
				body, err := s.keys.Open(sealed, keys.StatusUpdateBody.Table, keys.StatusUpdateBody.Name, r.update)
				if err != nil {
					return err
				}
				page := newLinkToken()
				expires := now.Add(StatusLinkTTL)
				if err := insertLink(ctx, tx, page, r.sub, linkStatus, &expires); err != nil {
					return err
				}
				m.mail.Subject, m.mail.Text = updateText(org, r.number, posted.UTC(), string(body), s.linkURL(page), m.mail.Unsubscribe)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE external_mail SET lease_until = $1, attempts = attempts + 1 WHERE id = $2`,
				now.Add(mailLease), r.id); err != nil {
				return fmt.Errorf("lease external email: %w", err)
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

func insertLink(ctx context.Context, tx *sql.Tx, token, sub, purpose string, expires *time.Time) error {
	var exp sql.NullTime
	if expires != nil {
		exp = sql.NullTime{Time: *expires, Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO external_links (token_hash, subscription_id, purpose, expires_at) VALUES ($1, $2, $3, $4)`,
		hashLinkToken(token), sub, purpose, exp); err != nil {
		return fmt.Errorf("record external link: %w", err)
	}
	return nil
}

// linkURL is the address of the link with token.
func (s *Service) linkURL(token string) string {
	return strings.TrimRight(s.mail.BaseURL, "/") + "/s/" + token
}

// confirmText is the subject and text of the email that asks a contact
// to confirm: the organisation and the incident's number, nothing else.
func confirmText(org, number, confirm, unsubscribe string) (string, string) {
	return "Please confirm: status updates on " + number + " from " + org,
		org + " would like to keep you informed about its incident " + number + " by email.\n\n" +
			"To receive its status updates, confirm here (the link works once, for 7 days):\n" + confirm + "\n\n" +
			"Until you confirm you will receive nothing more about it. If you did not expect this email, ignore it, " +
			"or stop it here (no sign-in needed):\n" + unsubscribe + "\n"
}

// updateText is the subject and text of a status update's email: the
// organisation, the incident's number, when it was posted and the
// update's text, which passed the PHI check, and the subscriber's own
// link to the status page of every update meant for them.
func updateText(org, number string, posted time.Time, body, page, unsubscribe string) (string, string) {
	return number + ": status update from " + org,
		"Status update on incident " + number + " from " + org + ", " + posted.Format("2 January 2006 15:04 MST") + ":\n\n" +
			body + "\n\n" +
			"Every update on " + number + " meant for you is on your own status page (no sign-in needed; the link is yours alone, " +
			"do not forward it; it works for 30 days and stops when you unsubscribe):\n" + page + "\n\n" +
			"You receive this because you confirmed that you want the status updates of " + number + ". " +
			"To receive no more (no sign-in needed):\n" + unsubscribe + "\n"
}

// recordMail records what became of a sent batch and returns how many
// were sent.
func (s *Service) recordMail(ctx context.Context, batch []*outMail) (int, error) {
	now := s.clock.Now()
	sent := 0
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		sent = 0
		for _, m := range batch {
			var err error
			switch {
			case m.err == nil:
				sent++
				_, err = tx.ExecContext(ctx, `UPDATE external_mail SET status = $1, sent_at = $2, lease_until = NULL, error = '' WHERE id = $3`,
					MailSent, now, m.id)
			default:
				text := m.err.Error()
				if len(text) > 500 {
					text = text[:500]
				}
				sealed, serr := keys.ExternalMailError.SealText(s.keys, text, m.id)
				if serr != nil {
					return serr
				}
				if notify.IsTransient(m.err) && m.attempt < MaxMailAttempts {
					_, err = tx.ExecContext(ctx, `UPDATE external_mail SET due_at = $1, lease_until = NULL, error = $2 WHERE id = $3`,
						now.Add(mailBackoff(m.attempt, m.id, m.err)), sealed, m.id)
					if err != nil {
						return fmt.Errorf("record external email: %w", err)
					}
					continue
				}
				_, err = tx.ExecContext(ctx, `UPDATE external_mail SET status = $1, lease_until = NULL, error = $2 WHERE id = $3`,
					MailFailed, sealed, m.id)
				if err == nil && notify.IsBounce(m.err) {
					err = markUndeliverableTx(ctx, tx, m.id, now)
				}
			}
			if err != nil {
				return fmt.Errorf("record external email: %w", err)
			}
			// Sent or failed for good: the code's copy is no longer needed.
			if err := forgetCodeTx(ctx, tx, m.code); err != nil {
				return err
			}
			if m.code != "" {
				if err := s.auditCodeMailTx(ctx, tx, m, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return sent, err
}

// markUndeliverableTx marks the subscription of email mailID, refused
// for good by the mail server, undeliverable, unless it was unsubscribed
// already, and audits it (external_subscription.undeliverable), without
// the address or the server's reply. Its queued emails are cancelled as
// they come due (claimMail).
func markUndeliverableTx(ctx context.Context, tx *sql.Tx, mailID string, now time.Time) error {
	var sub, contact, incidentID string
	if err := tx.QueryRowContext(ctx, `SELECT x.id, x.contact_id, x.incident_id FROM external_mail m
		JOIN external_subscriptions x ON x.id = m.subscription_id WHERE m.id = $1`, mailID).Scan(&sub, &contact, &incidentID); err != nil {
		return fmt.Errorf("read external subscription: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE external_subscriptions SET status = $1 WHERE id = $2 AND status IN ($3, $4)`,
		SubscriptionUndeliverable, sub, SubscriptionPending, SubscriptionConfirmed)
	if err != nil {
		return fmt.Errorf("mark external subscription undeliverable: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "external_subscription.undeliverable", ObjectType: "incident", ObjectID: incidentID,
		Change: map[string]any{"subscription_id": sub, "contact_id": contact, "mail_id": mailID}})
	return err
}
