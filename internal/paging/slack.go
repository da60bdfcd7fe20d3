package paging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notify"
)

// A page message sent by the Slack bot carries Acknowledge, Resolve and
// Escalate buttons (notify.SlackBot). Slack sends a press to Ward's
// interactivity endpoint, signed with the app's signing secret; the web
// handler checks the signature and calls UseSlackPress. Ward knows the
// person who pressed by their Slack member ID: it must be the address of
// one of their Slack contact methods, verified (the bot sent the code to
// that member ID as a direct message and they typed it back in Ward).

// SlackReplayWindow is how long Ward keeps the signature of each Slack
// request it took, to refuse the same request again; Slack's own rule
// refuses requests whose timestamp is older (docs/PAGING.md, "Slack app").
const SlackReplayWindow = 5 * time.Minute

// SlackPress is a press of a page message's button in Slack.
type SlackPress struct {
	User         string // the Slack member ID of whoever pressed
	Notification string // the button's value: the page message's notification id
	Action       string // acknowledge, resolve or escalate
	// Signature is the request's X-Slack-Signature, recorded so the same
	// request is taken once.
	Signature string
}

// SlackPressed is what a press did.
type SlackPressed struct {
	LinkInfo // the action, the incident's number and who acted (their username)
	// Message is the page message as it now stands, to rewrite it with.
	Message notify.Message
	// Actions are the buttons left (notify.SlackAction… ids).
	Actions []string
	At      time.Time
}

// ErrSlackUnknown is why a press from a Slack member Ward cannot map to a
// person changed nothing.
var ErrSlackUnknown = apperr.New(apperr.Forbidden, "Ward does not know your Slack account. Add your Slack member ID "+
	"as a Slack contact method on your Ward profile and verify it, then press the button again.")

// ErrSlackReplay is why a request taken before is refused.
var ErrSlackReplay = apperr.New(apperr.Conflict, "this Slack request was taken already")

// slackActions are the actions a button may ask for.
var slackActions = map[string]bool{actAcknowledge: true, actResolve: true, actEscalate: true}

// UseSlackPress does what the pressed button asks, as the Ward person the
// Slack member is, with the permission checks, audit trail and timeline
// note of the page's own links; the request's signature is recorded in
// the same transaction, so a replay is refused and changes nothing.
func (p *Pager) UseSlackPress(ctx context.Context, sp SlackPress) (SlackPressed, error) {
	if !slackActions[sp.Action] {
		return SlackPressed{}, apperr.Field("action", "%q is not one of acknowledge, resolve, escalate", sp.Action)
	}
	userID, err := p.slackPerson(ctx, sp.User)
	if err != nil {
		return SlackPressed{}, err
	}
	now := p.clock.Now()
	out := SlackPressed{At: now}
	out.Action = sp.Action
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM slack_requests WHERE received_at < $1`, now.Add(-2*SlackReplayWindow)); err != nil {
			return fmt.Errorf("forget old Slack requests: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO slack_requests (signature_hash, received_at) VALUES ($1, $2)
			ON CONFLICT (signature_hash) DO NOTHING`, hashToken(sp.Signature), now)
		if err != nil {
			return fmt.Errorf("record Slack request: %w", err)
		}
		if !affected(res) {
			return ErrSlackReplay
		}
		var pageID string
		err = tx.QueryRowContext(ctx, `SELECT page_id FROM notifications WHERE id = $1 AND kind = $2 AND channel = $3`,
			sp.Notification, kindPage, ContactSlack).Scan(&pageID)
		if errors.Is(err, sql.ErrNoRows) {
			return errLink
		}
		if err != nil {
			return fmt.Errorf("read page message: %w", err)
		}
		var role authz.Role
		var disabled bool
		if err := tx.QueryRowContext(ctx, `SELECT username, role, disabled FROM users WHERE id = $1`, userID).Scan(
			&out.Username, &role, &disabled); err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		actor := authz.Actor{Kind: authz.KindUser, ID: userID, Name: out.Username, Role: role}
		if disabled || !authz.Has(role, authz.IncidentWrite) {
			return apperr.New(apperr.Forbidden, "%s may not change incidents in Ward", out.Username)
		}
		ctx := authz.WithActor(ctx, actor)
		pg, err := lockedPage(ctx, p.db, tx, "id", pageID)
		if err != nil {
			return fmt.Errorf("read page: %w", err)
		}
		if err := p.actTx(ctx, tx, &pg, sp.Action, actor); err != nil {
			return err
		}
		var pf pageFacts
		if err := tx.QueryRowContext(ctx, `SELECT i.number, i.severity, s.name FROM incidents i JOIN services s ON s.id = $1
			WHERE i.id = $2`, pg.ServiceID, pg.IncidentID).Scan(&pf.number, &pf.severity, &pf.service); err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		out.Incident = pf.number
		out.Message = notify.Message{Kind: notify.KindPage, Incident: pf.number, Severity: pf.severity, Service: pf.service,
			Status: string(pg.Status), URL: p.opts.BaseURL + "/incidents/" + pf.number, ID: sp.Notification}
		switch pg.Status {
		case PageTriggered:
			out.Actions = []string{notify.SlackActionAcknowledge, notify.SlackActionResolve, notify.SlackActionEscalate}
		case PageAcknowledged:
			out.Actions = []string{notify.SlackActionResolve, notify.SlackActionEscalate}
		}
		return nil
	})
	if err != nil {
		return SlackPressed{}, err
	}
	return out, nil
}

// slackPerson is the id of the person with a verified Slack
// contact method whose address is member, or ErrSlackUnknown. Addresses
// are sealed, so each verified Slack method is opened; there are few.
func (p *Pager) slackPerson(ctx context.Context, member string) (string, error) {
	if !slackTarget.MatchString(member) {
		return "", ErrSlackUnknown
	}
	rows, err := p.db.R.QueryContext(ctx, `SELECT c.id, c.user_id, c.address FROM contact_methods c
		WHERE c.kind = $1 AND c.verified_at IS NOT NULL AND c.disabled_at IS NULL ORDER BY c.created_at, c.id`,
		ContactSlack)
	if err != nil {
		return "", fmt.Errorf("read contact methods: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, userID, sealed string
		if err := rows.Scan(&id, &userID, &sealed); err != nil {
			return "", err
		}
		plain, err := p.keys.Open(sealed, keys.ContactAddress.Table, keys.ContactAddress.Name, id)
		if err != nil {
			return "", err
		}
		var a sealedAddress
		if err := json.Unmarshal(plain, &a); err != nil {
			return "", fmt.Errorf("contact address: %w", err)
		}
		if a.Address == member {
			return userID, nil
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return "", ErrSlackUnknown
}

// slackThreadTx is the Slack ts of the page message that contact method
// contactID was sent for page pageID, or "": a status change of the page
// is posted as a reply in its thread.
func (p *Pager) slackThreadTx(ctx context.Context, tx *sql.Tx, pageID, contactID string) (string, error) {
	var ts string
	err := tx.QueryRowContext(ctx, `SELECT provider_id FROM notifications WHERE page_id = $1 AND contact_method_id = $2
		AND kind = $3 AND status = $4 AND provider_id <> '' ORDER BY sent_at LIMIT 1`, pageID, contactID, kindPage, statusSent).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read page message: %w", err)
	}
	return ts, nil
}

// Now is the time by the pager's clock, against which the timestamp of a
// signed request is checked.
func (p *Pager) Now() time.Time { return p.clock.Now() }
