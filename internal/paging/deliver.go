package paging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notify"
)

// RateLimits caps the messages one contact method is sent in
// RateWindow, so a storm cannot flood a phone; what is over the limit is
// recorded as rate_limited, not sent. A storm of alerts still pages once
// per incident, since alerts that join an incident do not page again.
// Webhooks have none: they reach machines (a ticketing system, a chat
// bridge) that take every page of a storm.
var RateLimits = map[ContactKind]int{
	ContactSMS: 5, ContactVoice: 3, ContactEmail: 20, ContactSlack: 20, ContactTeams: 20,
}

// RateWindow is the window of RateLimits.
const RateWindow = 10 * time.Minute

// delivery is one claimed message, ready to send.
type delivery struct {
	id         string
	kind       string
	pageID     string
	incidentID string
	username   string
	hint       string
	channel    ContactKind
	attempts   int
	to         Destination
	msg        notify.Message
	// skip, when set, is the status to record instead of sending.
	skip string
	// line is the status line of a status update or reminder.
	line string
	// verifies is the webhook contact method a successful delivery
	// verifies: a webhook has no person to read a code back.
	verifies string
	// result
	receipt notify.Receipt
	err     error
	// handBack says the send was cut short by a shutdown: the message
	// goes back to the queue, that attempt not counted.
	handBack bool
}

// deliver sends every queued message, a round of up to maxDue at a time,
// until none is left. Once a round is sent, one write records its
// outcomes and claims the next round, so a storm's delivery costs one
// write per round, on a database whose one writer intake keeps busy. The
// claim runs in a savepoint of its own: a claim that fails never holds
// back the outcome of a round sent.
//
// When ctx ends no new round is claimed, but what is on its way is sent
// (for up to ShutdownGrace) and recorded (within RecordTimeout) under a
// context of its own, so a shutdown leaves no message "sending" to be
// sent again when its lease runs out; a send cut short by the grace is
// handed back to the queue.
func (p *Pager) deliver(ctx context.Context) error {
	sendCtx, stop := p.sendContext(ctx)
	defer stop()
	var sent []*delivery // the round sent, to record
	for {
		now := p.clock.Now()
		var ds []*delivery
		var claimErr error
		err := p.ensureLease(ctx, now)
		if err != nil || ctx.Err() != nil {
			return errors.Join(err, p.recordOutliving(ctx, sent))
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.RecordTimeout)
		err = p.db.Write(rctx, func(tx *sql.Tx) error {
			if err := p.recordTx(rctx, tx, sent, now); err != nil {
				return err
			}
			claimErr = p.inSavepoint(ctx, tx, func() error {
				var err error
				ds, err = p.claim(ctx, tx, now)
				return err
			})
			return nil
		})
		cancel()
		if err != nil {
			return err
		}
		p.counted(sent)
		if claimErr != nil || len(ds) == 0 {
			return claimErr
		}
		p.send(sendCtx, ds)
		sent = ds
	}
}

// inSavepoint runs fn inside a savepoint of tx, rolled back if fn fails.
func (p *Pager) inSavepoint(ctx context.Context, tx *sql.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT ward_claim"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(); err != nil {
		bg := context.WithoutCancel(ctx)
		if _, rbErr := tx.ExecContext(bg, "ROLLBACK TO SAVEPOINT ward_claim"); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT ward_claim"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// sendContext is the context messages are sent under: it ends
// ShutdownGrace after ctx does, so that sends on their way when a node
// shuts down can finish. stop releases it.
func (p *Pager) sendContext(ctx context.Context) (context.Context, func()) {
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var grace *time.Timer
	var mu sync.Mutex
	stopAfter := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		grace = time.AfterFunc(p.opts.ShutdownGrace, cancel)
	})
	return sendCtx, func() {
		stopAfter()
		mu.Lock()
		defer mu.Unlock()
		if grace != nil {
			grace.Stop()
		}
		cancel()
	}
}

// recordOutliving records ds with a context that outlives ctx by at most
// RecordTimeout: an outcome is recorded even when ctx has ended.
func (p *Pager) recordOutliving(ctx context.Context, ds []*delivery) error {
	if len(ds) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.RecordTimeout)
	defer cancel()
	if err := p.db.Write(rctx, func(tx *sql.Tx) error { return p.recordTx(rctx, tx, ds, p.clock.Now()) }); err != nil {
		return err
	}
	p.counted(ds)
	return nil
}

// claim takes queued messages for this node, under its lease, and
// prepares each: its address, its links or verification code, or why it
// is not to be sent.
func (p *Pager) claim(ctx context.Context, tx *sql.Tx, now time.Time) ([]*delivery, error) {
	sub := `SELECT id FROM notifications WHERE status = $3 ORDER BY due_at LIMIT $4`
	if p.db.Dialect == db.Postgres {
		sub += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := p.db.In(tx).QueryContext(ctx, `UPDATE notifications SET status = $1, lease_until = $2, attempts = attempts + 1,
		claimed_by = $5 WHERE id IN (`+sub+`) RETURNING id, COALESCE(page_id, ''), COALESCE(incident_id, ''), user_id, contact_method_id,
		kind, channel, attempts, status_line, links`,
		statusSending, now.Add(p.opts.Lease), statusQueued, maxDue, p.node.id)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	type claimed struct {
		d                               delivery
		pageID, userID, contactID, kind string
		links                           string
	}
	var cs []claimed
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.d.id, &c.pageID, &c.d.incidentID, &c.userID, &c.contactID, &c.kind, &c.d.channel, &c.d.attempts,
			&c.d.line, &c.links); err != nil {
			rows.Close()
			return nil, err
		}
		c.d.kind, c.d.pageID = c.kind, c.pageID
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].d.line, err = keys.NotificationStatusLine.OpenText(p.keys, cs[i].d.line, cs[i].d.id); err != nil {
			return nil, err
		}
	}
	out := make([]*delivery, 0, len(cs))
	r := round{pages: map[string]pageFacts{}, contacts: map[string]contactFacts{}, claimed: map[string]int{}, throttle: newThrottle()}
	var pageIDs []string
	for i := range cs {
		r.claimed[cs[i].contactID]++
		if cs[i].kind == kindPage || cs[i].kind == kindPageStatus {
			pageIDs = append(pageIDs, cs[i].pageID)
		}
	}
	if err := p.roundPages(ctx, tx, pageIDs, &r); err != nil {
		return nil, err
	}
	for i := range cs {
		c := &cs[i]
		if err := p.prepare(ctx, tx, &c.d, c.pageID, c.userID, c.contactID, c.kind, c.links, now, &r); err != nil {
			return nil, fmt.Errorf("notification %s: %w", c.d.id, err)
		}
		c.d.msg.ID = c.d.id
		out = append(out, &c.d)
	}
	if err := p.insertLinksTx(ctx, tx, r.links); err != nil {
		return nil, err
	}
	if err := p.keepLinksTx(ctx, tx, r.kept); err != nil {
		return nil, err
	}
	return out, nil
}

// pagesPerRead caps the pages one query of roundPages reads.
const pagesPerRead = 64

// roundPages reads what the messages of pages ids say, a query per
// pagesPerRead pages rather than one per message.
func (p *Pager) roundPages(ctx context.Context, tx *sql.Tx, ids []string, r *round) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), pagesPerRead)]
		ids = ids[len(chunk):]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
		}
		rows, err := tx.QueryContext(ctx, `SELECT pg.id, i.number, i.severity, s.name, pg.status, i.drill FROM pages pg
			JOIN incidents i ON i.id = pg.incident_id JOIN services s ON s.id = pg.service_id WHERE pg.id IN (`+strings.Join(marks, ", ")+`)`,
			args...)
		if err != nil {
			return fmt.Errorf("read pages: %w", err)
		}
		for rows.Next() {
			var id string
			var pf pageFacts
			if err := rows.Scan(&id, &pf.number, &pf.severity, &pf.service, &pf.status, &pf.drill); err != nil {
				rows.Close()
				return fmt.Errorf("read pages: %w", err)
			}
			r.pages[id] = pf
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read pages: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read pages: %w", err)
		}
	}
	return nil
}

// round is what one delivery round reads once and shares among its
// messages (a storm pages the same people about the same incidents), and
// the action links it records together at its end.
type round struct {
	pages    map[string]pageFacts
	contacts map[string]contactFacts
	links    []linkRow
	// kept are the sealed links to keep on messages' rows (pageLinks).
	kept []keptLinks
	// claimed counts the round's messages per contact method; throttle
	// holds the rate limits, counting what the round lets through.
	claimed  map[string]int
	throttle throttle
}

// contactFacts are what a message needs of its contact method.
type contactFacts struct {
	hint, username string
	disabled       bool
	to             sealedAddress
}

// pageFacts are what a page's messages say.
type pageFacts struct {
	number, severity, service string
	status                    PageStatus
	// drill says the page is a drill's test page: its messages say
	// "DRILL" (docs/DRILLS.md).
	drill bool
}

// line is a page message's status line, prefixed "DRILL" for a drill's
// test page so that nobody takes it for a real incident.
func (pf pageFacts) line(s string) string {
	if !pf.drill {
		return s
	}
	return incident.DrillLine(s)
}

// roundContact reads contact method id, once a round.
func (p *Pager) roundContact(ctx context.Context, tx *sql.Tx, id string, r *round) (contactFacts, error) {
	if cf, ok := r.contacts[id]; ok {
		return cf, nil
	}
	var cf contactFacts
	var sealed string
	var disabled sql.NullTime
	if err := p.db.In(tx).QueryRowContext(ctx, `SELECT c.address, c.hint, c.disabled_at, u.username FROM contact_methods c
		JOIN users u ON u.id = c.user_id WHERE c.id = $1`, id).Scan(&sealed, &cf.hint, &disabled, &cf.username); err != nil {
		return cf, fmt.Errorf("read contact method: %w", err)
	}
	cf.disabled = disabled.Valid
	if !cf.disabled {
		plain, err := p.keys.Open(sealed, keys.ContactAddress.Table, keys.ContactAddress.Name, id)
		if err != nil {
			return cf, err
		}
		if err := json.Unmarshal(plain, &cf.to); err != nil {
			return cf, fmt.Errorf("contact address: %w", err)
		}
	}
	r.contacts[id] = cf
	return cf, nil
}

// prepare fills in d's destination and message, reading through r what
// the round shares and adding its action links to r.links.
func (p *Pager) prepare(ctx context.Context, tx *sql.Tx, d *delivery, pageID, userID, contactID, kind, links string, now time.Time,
	r *round) error {
	cf, err := p.roundContact(ctx, tx, contactID, r)
	if err != nil {
		return err
	}
	d.hint, d.username = cf.hint, cf.username
	if cf.disabled {
		d.skip = statusCancelled
		return nil
	}
	if kind == kindPage || kind == kindPageStatus {
		pf, ok := r.pages[pageID]
		if !ok {
			if err := p.db.In(tx).QueryRowContext(ctx, `SELECT i.number, i.severity, s.name, pg.status, i.drill FROM pages pg
				JOIN incidents i ON i.id = pg.incident_id JOIN services s ON s.id = pg.service_id WHERE pg.id = $1`, pageID).Scan(
				&pf.number, &pf.severity, &pf.service, &pf.status, &pf.drill); err != nil {
				return fmt.Errorf("read page: %w", err)
			}
			r.pages[pageID] = pf
		}
		if kind == kindPage && pf.status != PageTriggered {
			d.skip = statusCancelled
			return nil
		}
	}
	if RateLimits[d.channel] > 0 && !r.throttle.seeded(contactID) {
		// What was sent in the window, and what other rounds are sending
		// now; this round's own claims are counted as it lets them through.
		var n int
		if err := p.db.In(tx).QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE contact_method_id = $1
			AND (status = $2 AND sent_at > $3 OR status = $4)`, contactID, statusSent, now.Add(-RateWindow), statusSending).Scan(&n); err != nil {
			return fmt.Errorf("count recent notifications: %w", err)
		}
		r.throttle.seed(contactID, n-r.claimed[contactID])
	}
	if !r.throttle.allow(contactID, d.channel) {
		d.skip = statusRateLimited
		return nil
	}
	d.to = Destination{Kind: d.channel, Address: cf.to.Address, Secret: cf.to.Secret}
	switch kind {
	case kindVerify:
		if d.channel == ContactWebhook {
			d.msg = notify.Message{Kind: notify.KindTest, URL: p.opts.BaseURL}
			d.verifies = contactID
			return nil
		}
		code, hash := newCode()
		if _, err := p.db.In(tx).ExecContext(ctx, `UPDATE contact_methods SET verify_hash = $1, verify_expires_at = $2, verify_attempts = 0
			WHERE id = $3`, hash, now.Add(VerifyTTL), contactID); err != nil {
			return fmt.Errorf("store verification code: %w", err)
		}
		d.msg = notify.Message{Kind: notify.KindVerify, Code: code, URL: p.opts.BaseURL + "/profile"}
	case kindPage:
		pf := r.pages[pageID]
		d.msg = notify.Message{Kind: notify.KindPage, Incident: pf.number, Severity: pf.severity, Service: pf.service,
			Status: pf.line(string(pf.status)), URL: p.opts.BaseURL + "/incidents/" + pf.number}
		pl, err := p.pageLinks(ctx, tx, d, pageID, userID, links, now, r)
		if err != nil {
			return err
		}
		d.msg.AckURL, d.msg.ResolveURL, d.msg.Code = p.opts.BaseURL+"/a/"+pl.Ack, p.opts.BaseURL+"/a/"+pl.Resolve, pl.Code
		if pl.Escalate != "" {
			d.msg.EscalateURL = p.opts.BaseURL + "/a/" + pl.Escalate
		}
	case kindPageStatus:
		pf := r.pages[pageID]
		d.msg = notify.Message{Kind: notify.KindPageStatus, Incident: pf.number, Severity: pf.severity, Service: pf.service,
			Status: pf.line(d.line), URL: p.opts.BaseURL + "/incidents/" + pf.number}
		if d.channel == ContactSlack && slackTarget.MatchString(d.to.Address) {
			if d.msg.Thread, err = p.slackThreadTx(ctx, tx, pageID, contactID); err != nil {
				return err
			}
		}
	case kindOfficer:
		var number, severity, actor string
		if err := p.db.In(tx).QueryRowContext(ctx, `SELECT i.number, i.severity, COALESCE((SELECT a.actor FROM officer_alerts a
			WHERE a.incident_id = i.id AND a.kind = 'break_glass' ORDER BY a.created_at DESC LIMIT 1), '') FROM incidents i
			JOIN notifications n ON n.incident_id = i.id WHERE n.id = $1`, d.id).Scan(&number, &severity, &actor); err != nil {
			return fmt.Errorf("read emergency access: %w", err)
		}
		status := "break-glass by " + actor
		if len(status) > 64 {
			status = strings.ToValidUTF8(status[:64], "")
		}
		d.msg = notify.Message{Kind: notify.KindEmergencyAccess, Incident: number, Severity: severity, Status: status,
			URL: p.opts.BaseURL + "/incidents/" + number}
	case kindBackupFailed:
		d.msg = notify.Message{Kind: notify.KindBackupFailed, Status: "backup failed", URL: p.opts.BaseURL}
	case kindAuditChainBroken:
		d.msg = notify.Message{Kind: notify.KindAuditChainBroken, Status: "audit trail altered", URL: p.opts.BaseURL}
	case kindEvidenceAltered:
		var number, severity string
		if err := p.db.In(tx).QueryRowContext(ctx, `SELECT number, severity FROM incidents WHERE id = $1`, d.incidentID).Scan(&number, &severity); err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		d.msg = notify.Message{Kind: notify.KindEvidenceAltered, Incident: number, Severity: severity, Status: "evidence altered",
			URL: p.opts.BaseURL + "/incidents/" + number + "#evidence"}
	case kindPagingFailed:
		var number, severity string
		if err := p.db.In(tx).QueryRowContext(ctx, `SELECT number, severity FROM incidents WHERE id = $1`, d.incidentID).Scan(&number, &severity); err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		d.msg = notify.Message{Kind: notify.KindPagingFailed, Incident: number, Severity: severity, Status: d.line,
			URL: p.opts.BaseURL + "/incidents/" + number}
	case KindStatusUpdate, KindReminder:
		var number, severity string
		if err := p.db.In(tx).QueryRowContext(ctx, `SELECT number, severity FROM incidents WHERE id = $1`, d.incidentID).Scan(&number, &severity); err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		d.msg = notify.Message{Kind: kind, Incident: number, Severity: severity, Status: d.line, URL: p.opts.BaseURL + "/incidents/" + number}
	default:
		return fmt.Errorf("unknown notification kind %q", kind)
	}
	return nil
}

// send sends the deliveries, Workers at a time, each only while this
// node's lease holds: a message whose lease has lapsed may be another
// node's by now, so it is not sent but handed back, and a send on its way
// when the lease is found lapsed is cut short and handed back.
func (p *Pager) send(ctx context.Context, ds []*delivery) {
	sem := make(chan struct{}, p.opts.Workers)
	var wg sync.WaitGroup
	for _, d := range ds {
		if d.skip != "" {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			held, ok := p.holding(p.clock.Now())
			if !ok {
				d.err, d.handBack = errLeaseLost, true
				return
			}
			if p.channels == nil {
				d.err = notify.Permanent(fmt.Errorf("no channels are configured"))
				return
			}
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(held, cancel)()
			d.receipt, d.err = p.channels.Send(sctx, d.to, d.msg)
			d.handBack = d.err != nil && (ctx.Err() != nil || held.Err() != nil)
		})
	}
	wg.Wait()
}

// errLeaseLost is why a message was not sent: this node's lease lapsed.
var errLeaseLost = errors.New("this node's paging lease lapsed")

// MaxRetryAfter caps how long a provider's Retry-After may hold a
// message back.
const MaxRetryAfter = time.Hour

// retryDelay is how long to wait before attempt n+1 of message id after n
// failed with err: a backoff of 30 seconds doubling to 15 minutes, spread by
// the message's id and never sooner than the provider's Retry-After, up to
// MaxRetryAfter (notify.Backoff).
var retryDelay = notify.Backoff{First: 30 * time.Second, Max: 15 * time.Minute, MaxRetryAfter: MaxRetryAfter}.Delay

// fence makes an UPDATE of one message ($2) act only if this node ($3)
// still holds the claim it made ($4 attempts) and the message is still
// being sent ($5): a node whose lease lapsed must not overwrite what the
// node that took the message over records. A send is recorded too when
// the message was taken back to the queue but not yet claimed again, so
// that it is not sent twice.
const fence = ` AND claimed_by = $3 AND attempts = $4 AND status = $5`

// affected reports whether res changed a row.
func affected(res sql.Result) bool {
	n, err := res.RowsAffected()
	return err == nil && n > 0
}

// sentPerUpdate caps the ids of one UPDATE that records plain sends.
const sentPerUpdate = 256

// recordTx writes each delivery's outcome in tx; a message that will not be tried
// again is on its incident's timeline. Messages sent with no provider id
// and nothing else to record (webhooks, mostly) are marked sent together.
func (p *Pager) recordTx(ctx context.Context, tx *sql.Tx, ds []*delivery, now time.Time) error {
	failed, err := p.roundAlarmsTx(ctx, tx, ds)
	if err != nil {
		return err
	}
	if err := p.firstSentTx(ctx, tx, ds, now); err != nil {
		return err
	}
	var plain []any
	for _, d := range ds {
		if d.skip == "" && d.err == nil && d.receipt.ID == "" && d.verifies == "" {
			plain = append(plain, d.id)
		}
	}
	for len(plain) > 0 {
		chunk := plain[:min(len(plain), sentPerUpdate)]
		plain = plain[len(chunk):]
		marks := make([]string, len(chunk))
		for i := range chunk {
			marks[i] = fmt.Sprintf("$%d", i+6)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1, sent_at = $2, provider_id = '', last_error = '',
			lease_until = NULL WHERE claimed_by = $3 AND status IN ($4, $5) AND id IN (`+strings.Join(marks, ", ")+`)`,
			append([]any{statusSent, now, p.node.id, statusSending, statusQueued}, chunk...)...); err != nil {
			return fmt.Errorf("record sent notifications: %w", err)
		}
	}
	for _, d := range ds {
		var err error
		switch {
		case d.skip == "" && d.err == nil && d.receipt.ID == "" && d.verifies == "":
			continue
		case d.handBack:
			err = p.db.In(tx).Defer(ctx, "hand back notification", `UPDATE notifications SET status = $1, attempts = attempts - 1, lease_until = NULL
				WHERE id = $2`+fence, statusQueued, d.id, p.node.id, d.attempts, statusSending)
		case d.skip != "":
			var res sql.Result
			res, err = p.db.In(tx).ExecContext(ctx, `UPDATE notifications SET status = $1, lease_until = NULL WHERE id = $2`+fence,
				d.skip, d.id, p.node.id, d.attempts, statusSending)
			if err == nil && affected(res) && d.skip == statusRateLimited && d.incidentID != "" {
				err = p.incidents.RecordPagingTx(ctx, tx, d.incidentID, fmt.Sprintf(
					"Did not page %s by %s (%s): more than %d messages in %s to that contact method.",
					d.username, d.channel, d.hint, RateLimits[d.channel], RateWindow))
			}
		case d.err == nil:
			err = p.db.In(tx).Defer(ctx, "record sent notification", `UPDATE notifications SET status = $1, sent_at = $2, provider_id = $3, last_error = '',
				lease_until = NULL WHERE id = $4 AND claimed_by = $5 AND attempts = $6 AND status IN ($7, $8)`,
				statusSent, now, d.receipt.ID, d.id, p.node.id, d.attempts, statusSending, statusQueued)
			if err == nil && d.verifies != "" {
				err = p.db.In(tx).Defer(ctx, "record verified contact method", `UPDATE contact_methods SET verified_at = $1
					WHERE id = $2 AND verified_at IS NULL`, now, d.verifies)
			}
		case notify.IsTransient(d.err) && d.attempts < p.opts.MaxAttempts:
			var sealed string
			if sealed, err = keys.NotificationLastError.SealText(p.keys, clip(d.err.Error()), d.id); err != nil {
				break
			}
			err = p.db.In(tx).Defer(ctx, "schedule a retry", `UPDATE notifications SET status = $1, due_at = $2, last_error = $3, lease_until = NULL
				WHERE id = $4 AND claimed_by = $5 AND attempts = $6 AND status = $7`,
				statusScheduled, now.Add(retryDelay(d.attempts, d.id, d.err)), sealed, d.id, p.node.id, d.attempts, statusSending)
		default:
			p.log.WarnContext(ctx, "notification_failed", "notification_id", d.id, "channel", d.channel,
				"attempts", d.attempts, "error", logSafe(d.err))
			var res sql.Result
			var sealed string
			if sealed, err = keys.NotificationLastError.SealText(p.keys, clip(d.err.Error()), d.id); err != nil {
				break
			}
			res, err = p.db.In(tx).ExecContext(ctx, `UPDATE notifications SET status = $1, last_error = $2, lease_until = NULL
				WHERE id = $3 AND claimed_by = $4 AND attempts = $5 AND status = $6`,
				statusFailed, sealed, d.id, p.node.id, d.attempts, statusSending)
			if err == nil && affected(res) && d.incidentID != "" {
				err = p.incidents.RecordPagingTx(ctx, tx, d.incidentID, fmt.Sprintf(
					"FAILED to page %s by %s (%s) after %d attempts: %s", d.username, d.channel, d.hint, d.attempts, clip(d.err.Error())))
			}
		}
		if err != nil {
			return fmt.Errorf("record notification %s: %w", d.id, err)
		}
	}
	return p.failedForGoodTx(ctx, tx, failed, now)
}

// counted counts the outcomes of ds, once they are recorded.
func (p *Pager) counted(ds []*delivery) {
	for _, d := range ds {
		p.metrics.notifications.WithLabelValues(string(d.channel), p.outcome(d)).Inc()
	}
}

// outcome names what record made of d, for ward_notifications_total.
func (p *Pager) outcome(d *delivery) string {
	switch {
	case d.handBack:
		return "handed_back"
	case d.skip != "":
		return d.skip
	case d.err == nil:
		return statusSent
	case notify.IsTransient(d.err) && d.attempts < p.opts.MaxAttempts:
		return "retried"
	default:
		return statusFailed
	}
}

// clip shortens an error for storage.
// logSafe is a delivery error as the log may hold it: without the
// provider's own message, which may quote the message or the address
// (the sealed last_error keeps it).
func logSafe(err error) string {
	var he *notify.HTTPError
	if errors.As(err, &he) {
		c := *he
		c.Message = ""
		return c.Error()
	}
	return err.Error()
}

func clip(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}
