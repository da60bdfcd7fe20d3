package paging

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/outbound"
)

// ContactKind is a channel a person can be reached on.
type ContactKind string

// The contact kinds.
const (
	ContactEmail   ContactKind = "email"   // an email address (SMTP with mandatory TLS)
	ContactSMS     ContactKind = "sms"     // an E.164 phone number (Twilio)
	ContactVoice   ContactKind = "voice"   // an E.164 phone number (Twilio)
	ContactSlack   ContactKind = "slack"   // a Slack incoming-webhook URL, or a channel or user id for the bot
	ContactTeams   ContactKind = "teams"   // a Microsoft Teams Workflows webhook URL
	ContactWebhook ContactKind = "webhook" // any HTTPS URL; Ward signs each request (HMAC-SHA256)
)

// ContactKinds lists every kind.
var ContactKinds = []ContactKind{ContactEmail, ContactSMS, ContactVoice, ContactSlack, ContactTeams, ContactWebhook}

// Verification limits: a code is good for VerifyTTL and MaxVerifyAttempts
// guesses.
const (
	VerifyTTL         = 15 * time.Minute
	MaxVerifyAttempts = 5
	MaxLabel          = 100
	MaxAddress        = 2000
)

// ContactMethod is one way to reach a person. Its address is sealed at
// rest and never shown again in full: Hint is enough to recognise it.
type ContactMethod struct {
	ID         string
	UserID     string
	Kind       ContactKind
	Label      string
	Hint       string
	VerifiedAt *time.Time
	CreatedAt  time.Time
	// StatusUpdates says the method is told when a page it was paged for
	// is acknowledged, escalated or resolved (DefaultStatusUpdates).
	StatusUpdates bool
}

// Verified reports whether messages may be sent to the method.
func (c ContactMethod) Verified() bool { return c.VerifiedAt != nil }

// ContactInput is a new contact method.
type ContactInput struct {
	Kind    ContactKind
	Label   string
	Address string
	// StatusUpdates, when set, overrides DefaultStatusUpdates.
	StatusUpdates *bool
}

// DefaultStatusUpdates reports whether a new method of kind k gets status
// notifications unless its owner says otherwise: webhooks, Slack and
// Teams do, as the bridges and channels they reach must learn that a page
// ended; email, SMS and voice do not, as a person paged there learns it in
// Ward.
func DefaultStatusUpdates(k ContactKind) bool {
	return k == ContactWebhook || k == ContactSlack || k == ContactTeams
}

// sealedAddress is what the address column holds, sealed.
type sealedAddress struct {
	Address string `json:"address"`
	Secret  []byte `json:"secret,omitempty"`
}

var (
	e164        = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	slackTarget = regexp.MustCompile(`^[CDGU][A-Z0-9]{6,}$`)
)

// checkAddress validates an address for its kind.
func checkAddress(k ContactKind, a string) error {
	switch k {
	case ContactEmail:
		addr, err := mail.ParseAddress(a)
		if err != nil || addr.Address != a {
			return apperr.Field("address", "%q is not an email address", a)
		}
	case ContactSMS, ContactVoice:
		if !e164.MatchString(a) {
			return apperr.Field("address", "must be a phone number in E.164 form, such as +14155550100")
		}
	case ContactSlack:
		if slackTarget.MatchString(a) {
			return nil
		}
		return checkURL(a)
	case ContactTeams, ContactWebhook:
		return checkURL(a)
	default:
		return apperr.Field("kind", "%q is not one of email, sms, voice, slack, teams, webhook", k)
	}
	return nil
}

// checkURL accepts https URLs, and http only to a loopback address.
func checkURL(a string) error {
	u, err := url.Parse(a)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return apperr.Field("address", "must be an https URL")
	}
	if u.Scheme == "http" {
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return apperr.Field("address", "must be an https URL (plain http only to a loopback address)")
		}
	}
	return nil
}

// checkDestination refuses a URL contact method whose host is, or resolves
// to, an address Ward does not connect to (loopback, private, link-local
// and the cloud metadata service, unless allow-listed), so that the person
// hears it now; the channel checks again on every connection, which is
// what defeats a name that resolves elsewhere later.
func (p *Pager) checkDestination(ctx context.Context, k ContactKind, a string) error {
	if k != ContactWebhook && k != ContactTeams && (k != ContactSlack || slackTarget.MatchString(a)) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	err := p.opts.Outbound.CheckURL(ctx, a)
	if re, ok := errors.AsType[*outbound.RefusedError](err); ok {
		// The address itself is not shown: it would tell what an
		// internal name resolves to.
		return apperr.Field("address", "points at a %s address, which Ward does not connect to unless an administrator "+
			"allows it (%s)", re.Reason, outbound.Flag)
	}
	if err != nil {
		u, _ := url.Parse(a)
		return apperr.Field("address", "host %s does not resolve", u.Hostname())
	}
	return nil
}

// lookupTimeout bounds the name lookup of a URL contact method's host.
const lookupTimeout = 5 * time.Second

// hint is what identifies an address without revealing it.
func hint(k ContactKind, a string) string {
	switch k {
	case ContactEmail:
		local, domain, _ := strings.Cut(a, "@")
		return local[:1] + "…@" + domain
	case ContactSMS, ContactVoice:
		return "…" + a[len(a)-4:]
	}
	if u, err := url.Parse(a); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/…"
	}
	return a
}

// mayManage checks the actor may manage userID's contact methods: the
// person themselves, or an administrator.
func mayManage(ctx context.Context, userID string) (authz.Actor, error) {
	a, ok := authz.ActorFrom(ctx)
	if !ok {
		return authz.Actor{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if authz.Has(a.Role, authz.UserAdmin) || a.Kind == authz.KindUser && a.ID == userID && authz.Has(a.Role, authz.ContactSelf) {
		return a, nil
	}
	return authz.Actor{}, apperr.New(apperr.Forbidden, "only the person or an administrator (%s) may manage contact methods", authz.UserAdmin)
}

// userFor resolves ref ("me" for the actor) to a user id.
func userFor(ctx context.Context, q db.Querier, ref string) (string, error) {
	if ref == "me" {
		a, ok := authz.ActorFrom(ctx)
		if !ok || a.Kind != authz.KindUser {
			return "", apperr.New(apperr.Invalid, "\"me\" is only for people signed in; API tokens name the user")
		}
		return a.ID, nil
	}
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1 OR username = $1`, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.New(apperr.NotFound, "no user %q", ref)
	}
	if err != nil {
		return "", fmt.Errorf("read user: %w", err)
	}
	return id, nil
}

// CreateContact adds a contact method for user ref (id, username or "me")
// and sends it a verification code; it is used for pages only once the
// code comes back (VerifyContact). For a webhook it returns the secret
// that signs Ward's requests, shown only now.
func (p *Pager) CreateContact(ctx context.Context, ref string, in ContactInput) (ContactMethod, string, error) {
	userID, err := userFor(ctx, p.db.R, ref)
	if err != nil {
		return ContactMethod{}, "", err
	}
	if _, err := mayManage(ctx, userID); err != nil {
		return ContactMethod{}, "", err
	}
	in.Label, in.Address = strings.TrimSpace(in.Label), strings.TrimSpace(in.Address)
	if !slices.Contains(ContactKinds, in.Kind) {
		return ContactMethod{}, "", apperr.Field("kind", "%q is not one of email, sms, voice, slack, teams, webhook", in.Kind)
	}
	if n := len([]rune(in.Label)); n > MaxLabel {
		return ContactMethod{}, "", apperr.Field("label", "is %d characters long; the limit is %d", n, MaxLabel)
	}
	if len(in.Address) > MaxAddress {
		return ContactMethod{}, "", apperr.Field("address", "is longer than %d characters", MaxAddress)
	}
	if err := checkAddress(in.Kind, in.Address); err != nil {
		return ContactMethod{}, "", err
	}
	if err := p.checkDestination(ctx, in.Kind, in.Address); err != nil {
		return ContactMethod{}, "", err
	}
	if in.Label == "" {
		in.Label = string(in.Kind)
	}
	now := p.clock.Now()
	c := ContactMethod{ID: newID(), UserID: userID, Kind: in.Kind, Label: in.Label, Hint: hint(in.Kind, in.Address), CreatedAt: now,
		StatusUpdates: DefaultStatusUpdates(in.Kind)}
	if in.StatusUpdates != nil {
		c.StatusUpdates = *in.StatusUpdates
	}
	addr := sealedAddress{Address: in.Address}
	var secret string
	if in.Kind == ContactWebhook {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		secret = hex.EncodeToString(raw)
		addr.Secret = []byte(secret)
	}
	plain, err := json.Marshal(addr)
	if err != nil {
		return ContactMethod{}, "", err
	}
	sealed, err := p.keys.Seal(plain, keys.ContactAddress.Table, keys.ContactAddress.Name, c.ID)
	if err != nil {
		return ContactMethod{}, "", err
	}
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO contact_methods (id, user_id, kind, label, address, hint, verify_hash,
			verify_attempts, created_at, status_updates) VALUES ($1, $2, $3, $4, $5, $6, '', 0, $7, $8)`,
			c.ID, c.UserID, c.Kind, c.Label, sealed, c.Hint, c.CreatedAt, c.StatusUpdates); err != nil {
			return fmt.Errorf("insert contact method: %w", err)
		}
		if err := p.queueTx(ctx, tx, queued{kind: kindVerify, userID: userID, contactID: c.ID, channel: c.Kind}, now); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "contact.create", ObjectType: "user", ObjectID: userID,
			Change: map[string]any{"contact_method_id": c.ID, "kind": c.Kind, "label": c.Label, "hint": c.Hint,
				"status_updates": c.StatusUpdates}})
		return err
	})
	if err != nil {
		return ContactMethod{}, "", err
	}
	p.Wake()
	return c, secret, nil
}

// ResendVerification sends contact method id a new code.
func (p *Pager) ResendVerification(ctx context.Context, id string) error {
	c, err := p.contact(ctx, id)
	if err != nil {
		return err
	}
	if _, err := mayManage(ctx, c.UserID); err != nil {
		return err
	}
	if c.Verified() {
		return apperr.New(apperr.Conflict, "contact method %s is verified already", id)
	}
	now := p.clock.Now()
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		return p.queueTx(ctx, tx, queued{kind: kindVerify, userID: c.UserID, contactID: c.ID, channel: c.Kind}, now)
	})
	if err == nil {
		p.Wake()
	}
	return err
}

// newCode makes a six-digit verification code and its hash.
func newCode() (code, hash string) {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	code = fmt.Sprintf("%06d", n.Int64())
	return code, hashCode(code)
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

// VerifyContact checks the code sent to contact method id.
func (p *Pager) VerifyContact(ctx context.Context, id, code string) (ContactMethod, error) {
	c, err := p.contact(ctx, id)
	if err != nil {
		return ContactMethod{}, err
	}
	if _, err := mayManage(ctx, c.UserID); err != nil {
		return ContactMethod{}, err
	}
	if c.Verified() {
		return c, nil
	}
	now := p.clock.Now()
	var wrong error
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		var want string
		var expires sql.NullTime
		var attempts int
		if err := tx.QueryRowContext(ctx, `SELECT verify_hash, verify_expires_at, verify_attempts FROM contact_methods WHERE id = $1`,
			id).Scan(&want, &expires, &attempts); err != nil {
			return fmt.Errorf("read contact method: %w", err)
		}
		switch {
		case want == "" || !expires.Valid || !now.Before(expires.Time):
			wrong = apperr.Field("code", "has expired or was never sent; ask for a new one")
		case attempts >= MaxVerifyAttempts:
			wrong = apperr.Field("code", "was guessed wrong %d times; ask for a new one", attempts)
		case subtle.ConstantTimeCompare([]byte(hashCode(strings.TrimSpace(code))), []byte(want)) != 1:
			wrong = apperr.Field("code", "is not the code Ward sent")
			_, err := tx.ExecContext(ctx, `UPDATE contact_methods SET verify_attempts = verify_attempts + 1 WHERE id = $1`, id)
			return err
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE contact_methods SET verified_at = $1, verify_hash = '', verify_expires_at = NULL
				WHERE id = $2`, now, id); err != nil {
				return fmt.Errorf("verify contact method: %w", err)
			}
			c.VerifiedAt = &now
			_, err := audit.Append(ctx, tx, now, audit.Event{Action: "contact.verify", ObjectType: "user", ObjectID: c.UserID,
				Change: map[string]any{"contact_method_id": id}})
			return err
		}
		return nil
	})
	if err != nil {
		return ContactMethod{}, err
	}
	if wrong != nil {
		return ContactMethod{}, wrong
	}
	return c, nil
}

// DeleteContact stops using contact method id and drops its rules.
func (p *Pager) DeleteContact(ctx context.Context, id string) error {
	c, err := p.contact(ctx, id)
	if err != nil {
		return err
	}
	if _, err := mayManage(ctx, c.UserID); err != nil {
		return err
	}
	now := p.clock.Now()
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		// Notifications before the contact method: the sender locks them in
		// that order too (claim, then a verification code), so the two
		// never wait on each other in a circle.
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1 WHERE contact_method_id = $2 AND status IN ($3, $4)`,
			statusCancelled, id, statusScheduled, statusQueued); err != nil {
			return fmt.Errorf("cancel notifications: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM notification_rules WHERE contact_method_id = $1`, id); err != nil {
			return fmt.Errorf("delete rules: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE contact_methods SET disabled_at = $1 WHERE id = $2`, now, id); err != nil {
			return fmt.Errorf("disable contact method: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "contact.delete", ObjectType: "user", ObjectID: c.UserID,
			Change: map[string]any{"contact_method_id": id}})
		return err
	})
}

// SetStatusUpdates turns contact method id's status notifications on or
// off (DefaultStatusUpdates).
func (p *Pager) SetStatusUpdates(ctx context.Context, id string, on bool) (ContactMethod, error) {
	c, err := p.contact(ctx, id)
	if err != nil {
		return ContactMethod{}, err
	}
	if _, err := mayManage(ctx, c.UserID); err != nil {
		return ContactMethod{}, err
	}
	if c.StatusUpdates == on {
		return c, nil
	}
	now := p.clock.Now()
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE contact_methods SET status_updates = $1 WHERE id = $2`, on, id); err != nil {
			return fmt.Errorf("update contact method: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "contact.update", ObjectType: "user", ObjectID: c.UserID,
			Change: map[string]any{"contact_method_id": id, "status_updates": on}})
		return err
	})
	if err != nil {
		return ContactMethod{}, err
	}
	c.StatusUpdates = on
	return c, nil
}

const contactColumns = "id, user_id, kind, label, hint, verified_at, created_at, status_updates"

func scanContact(r scanner) (ContactMethod, error) {
	var c ContactMethod
	var verified sql.NullTime
	if err := r.Scan(&c.ID, &c.UserID, &c.Kind, &c.Label, &c.Hint, &verified, &c.CreatedAt, &c.StatusUpdates); err != nil {
		return ContactMethod{}, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	if verified.Valid {
		t := verified.Time.UTC()
		c.VerifiedAt = &t
	}
	return c, nil
}

// contact reads an active contact method.
func (p *Pager) contact(ctx context.Context, id string) (ContactMethod, error) {
	c, err := scanContact(p.db.R.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contact_methods
		WHERE id = $1 AND disabled_at IS NULL`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ContactMethod{}, apperr.New(apperr.NotFound, "no contact method %q", id)
	}
	if err != nil {
		return ContactMethod{}, fmt.Errorf("read contact method: %w", err)
	}
	return c, nil
}

// Contacts lists user ref's active contact methods.
func (p *Pager) Contacts(ctx context.Context, ref string) ([]ContactMethod, error) {
	userID, err := userFor(ctx, p.db.R, ref)
	if err != nil {
		return nil, err
	}
	if _, err := mayManage(ctx, userID); err != nil {
		return nil, err
	}
	rows, err := p.db.R.QueryContext(ctx, `SELECT `+contactColumns+` FROM contact_methods
		WHERE user_id = $1 AND disabled_at IS NULL ORDER BY created_at`, userID)
	return db.Collect(rows, err, "list contact methods", func(r *sql.Rows) (ContactMethod, error) { return scanContact(r) })
}

// Rule sends a page to a contact method DelayMinutes after its user is
// paged, unless the page was acknowledged or resolved by then.
type Rule struct {
	ID              string
	UserID          string
	ContactMethodID string
	DelayMinutes    int
	CreatedAt       time.Time
}

// MaxRuleDelay is the longest delay of a notification rule, in minutes.
const MaxRuleDelay = 24 * 60

// CreateRule adds a notification rule for user ref.
func (p *Pager) CreateRule(ctx context.Context, ref, contactID string, delayMinutes int) (Rule, error) {
	userID, err := userFor(ctx, p.db.R, ref)
	if err != nil {
		return Rule{}, err
	}
	if _, err := mayManage(ctx, userID); err != nil {
		return Rule{}, err
	}
	if delayMinutes < 0 || delayMinutes > MaxRuleDelay {
		return Rule{}, apperr.Field("delay_minutes", "must be 0 to %d, not %d", MaxRuleDelay, delayMinutes)
	}
	c, err := p.contact(ctx, contactID)
	if err != nil || c.UserID != userID {
		return Rule{}, apperr.Field("contact_method_id", "no contact method %q of this user", contactID)
	}
	now := p.clock.Now()
	r := Rule{ID: newID(), UserID: userID, ContactMethodID: contactID, DelayMinutes: delayMinutes, CreatedAt: now}
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notification_rules (id, user_id, contact_method_id, delay_minutes, created_at)
			VALUES ($1, $2, $3, $4, $5)`, r.ID, r.UserID, r.ContactMethodID, r.DelayMinutes, r.CreatedAt); err != nil {
			return fmt.Errorf("insert rule: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "notification_rule.create", ObjectType: "user", ObjectID: userID, Change: r})
		return err
	})
	if err != nil {
		return Rule{}, err
	}
	return r, nil
}

// DeleteRule removes notification rule id.
func (p *Pager) DeleteRule(ctx context.Context, id string) error {
	var userID string
	err := p.db.R.QueryRowContext(ctx, `SELECT user_id FROM notification_rules WHERE id = $1`, id).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.NotFound, "no notification rule %q", id)
	}
	if err != nil {
		return fmt.Errorf("read rule: %w", err)
	}
	if _, err := mayManage(ctx, userID); err != nil {
		return err
	}
	now := p.clock.Now()
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM notification_rules WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete rule: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "notification_rule.delete", ObjectType: "user", ObjectID: userID,
			Change: map[string]string{"rule_id": id}})
		return err
	})
}

// Rules lists user ref's notification rules by delay.
func (p *Pager) Rules(ctx context.Context, ref string) ([]Rule, error) {
	userID, err := userFor(ctx, p.db.R, ref)
	if err != nil {
		return nil, err
	}
	if _, err := mayManage(ctx, userID); err != nil {
		return nil, err
	}
	return rules(ctx, p.db.R, userID)
}

func rules(ctx context.Context, q db.Querier, userID string) ([]Rule, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, user_id, contact_method_id, delay_minutes, created_at FROM notification_rules
		WHERE user_id = $1 ORDER BY delay_minutes, created_at`, userID)
	return db.Collect(rows, err, "list notification rules", func(rs *sql.Rows) (Rule, error) {
		var r Rule
		err := rs.Scan(&r.ID, &r.UserID, &r.ContactMethodID, &r.DelayMinutes, &r.CreatedAt)
		r.CreatedAt = r.CreatedAt.UTC()
		return r, err
	})
}
