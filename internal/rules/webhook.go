package rules

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
)

// WebhookOptions configure the call_webhook action.
type WebhookOptions struct {
	// Keys seals each rule's signing secret.
	Keys keys.TextSealer
	// Outbound guards every call (--outbound-allow); nil refuses every
	// loopback, private and metadata address.
	Outbound *outbound.Guard
	// BaseURL is Ward's address, for the incident's link in the payload.
	BaseURL string
	// Timeout bounds one call (10 seconds when zero).
	Timeout time.Duration
	// MaxAttempts is how many times a call is tried before Ward gives up
	// (6 when zero).
	MaxAttempts int
}

// webhooks is what the call_webhook action needs.
type webhooks struct {
	opts   WebhookOptions
	poster *notify.SignedPoster
}

// Delivery statuses.
const (
	hookQueued = "queued"
	hookSent   = "sent"
	hookFailed = "failed"
)

// hookBatch caps the calls one run of DeliverWebhooks makes.
const hookBatch = 50

// hookLookupTimeout bounds the look-up of a webhook's host when a rule is
// saved.
const hookLookupTimeout = 5 * time.Second

// hookRetry is how long a failed call waits before it is tried again, as
// for the webhooks of contact methods.
var hookRetry = notify.Backoff{First: 30 * time.Second, Max: 15 * time.Minute, MaxRetryAfter: time.Hour}.Delay

// CallWebhooksWith enables the call_webhook action. Call it before
// serving; without it, rules with that action are refused.
func (e *Engine) CallWebhooksWith(o WebhookOptions) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	e.hooks = &webhooks{opts: o, poster: notify.NewSignedPoster(o.Outbound, o.Timeout, e.clock)}
}

// checkHooks checks the address of every call_webhook action: https (or
// http to a loopback address), at most 2,000 characters, and not an
// address the outbound guard refuses. It looks host names up, so it runs
// outside any transaction.
func (e *Engine) checkHooks(ctx context.Context, as []Action) error {
	for i, a := range as {
		if a.Type != ActionWebhook {
			continue
		}
		p := "actions[" + strconv.Itoa(i) + "]"
		if e.hooks == nil || e.hooks.opts.Keys == nil {
			return apperr.Field(p+".type", "webhooks are not set up on this server")
		}
		u, err := url.Parse(a.URL)
		switch {
		case a.URL == "":
			return apperr.Field(p+".url", "is required")
		case len(a.URL) > 2000:
			return apperr.Field(p+".url", "is %d characters long; the limit is 2000", len(a.URL))
		case err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http"):
			return apperr.Field(p+".url", "must be an https address such as https://hooks.example.com/ward")
		}
		lctx, cancel := context.WithTimeout(ctx, hookLookupTimeout)
		err = e.hooks.opts.Outbound.CheckURL(lctx, a.URL)
		cancel()
		if re, ok := errors.AsType[*outbound.RefusedError](err); ok {
			return apperr.Field(p+".url", "points at a %s address, which Ward does not connect to unless an administrator "+
				"allows it (%s)", re.Reason, outbound.Flag)
		}
		if err != nil {
			return apperr.Field(p+".url", "host %s does not resolve", u.Hostname())
		}
		if u.Scheme == "http" && !loopback(u.Hostname()) {
			return apperr.Field(p+".url", "must use https (http is allowed only to a loopback address)")
		}
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// keepSecret gives rule r a signing secret, sealed, when it has a
// call_webhook action and no secret yet; r.Secret is then the secret, to
// show once.
func (e *Engine) keepSecret(ctx context.Context, tx *sql.Tx, r *Rule) error {
	hasHook := false
	for _, a := range r.Actions {
		hasHook = hasHook || a.Type == ActionWebhook
	}
	if !hasHook {
		return nil
	}
	var sealed string
	if err := tx.QueryRowContext(ctx, `SELECT webhook_secret FROM rules WHERE id = $1`, r.ID).Scan(&sealed); err != nil {
		return fmt.Errorf("read the rule's secret: %w", err)
	}
	if sealed != "" {
		return nil
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw)
	sealed, err := keys.RuleWebhookSecret.SealText(e.hooks.opts.Keys, secret, r.ID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rules SET webhook_secret = $1 WHERE id = $2`, sealed, r.ID); err != nil {
		return fmt.Errorf("store the rule's secret: %w", err)
	}
	r.Secret = secret
	return nil
}

// sealURLs returns the rule id's actions as rules.actions stores them,
// each webhook with its host and without its address, and the addresses,
// in order, sealed for rules.webhook_urls (keys.RuleWebhookURLs). It sets
// each webhook action's Host in as.
func (e *Engine) sealURLs(id string, as []Action) (actions, sealed string, err error) {
	stored := slices.Clone(as)
	var urls []string
	for i := range as {
		if as[i].Type != ActionWebhook {
			as[i].Host, stored[i].Host = "", ""
			continue
		}
		as[i].Host = hostOf(as[i].URL)
		urls = append(urls, as[i].URL)
		stored[i].URL, stored[i].Host = "", as[i].Host
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return "", "", err
	}
	if len(urls) == 0 {
		return string(b), "", nil
	}
	list, err := json.Marshal(urls)
	if err != nil {
		return "", "", err
	}
	if e.hooks == nil || e.hooks.opts.Keys == nil {
		return "", "", fmt.Errorf("webhooks are not wired")
	}
	sealed, err = keys.RuleWebhookURLs.SealText(e.hooks.opts.Keys, string(list), id)
	return string(b), sealed, err
}

// openURLs fills in the addresses of r's webhook actions from
// r.sealedURLs.
func (e *Engine) openURLs(r *Rule) error {
	if r.sealedURLs == "" {
		return nil
	}
	if e.hooks == nil || e.hooks.opts.Keys == nil {
		return fmt.Errorf("rule %s: webhooks are not wired", r.ID)
	}
	list, err := keys.RuleWebhookURLs.OpenText(e.hooks.opts.Keys, r.sealedURLs, r.ID)
	if err != nil {
		return fmt.Errorf("rule %s: open its webhook addresses: %w", r.ID, err)
	}
	var urls []string
	if err := json.Unmarshal([]byte(list), &urls); err != nil {
		return fmt.Errorf("rule %s: webhook addresses: %w", r.ID, err)
	}
	r.Actions = slices.Clone(r.Actions)
	for i := range r.Actions {
		if r.Actions[i].Type == ActionWebhook && len(urls) > 0 {
			r.Actions[i].URL, urls = urls[0], urls[1:]
		}
	}
	return nil
}

// withholdURLs returns r with each webhook's host and not its address,
// as the audit trail records it.
func withholdURLs(r Rule) Rule {
	r.Actions = slices.Clone(r.Actions)
	for i := range r.Actions {
		if r.Actions[i].Type == ActionWebhook {
			if h := hostOf(r.Actions[i].URL); h != "" {
				r.Actions[i].Host = h
			}
			r.Actions[i].URL = ""
		}
	}
	return r
}

// hostOf is the host (and port) of address u, without what may precede
// it (a user name and password) or follow it (a path or query that may
// hold a token).
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}

// SealWebhookURLs moves the webhook addresses that rules saved before
// they were sealed (migration 0063) keep in rules.actions into
// rules.webhook_urls, sealed, leaving each one's host (the addresses of
// queued calls are sealed with the other plaintext, keys.SealPlaintext).
// Ward runs it at start, before it serves; with nothing to do it costs
// one query. It returns how many rules it changed.
func (e *Engine) SealWebhookURLs(ctx context.Context) (int, error) {
	if e.hooks == nil || e.hooks.opts.Keys == nil {
		return 0, fmt.Errorf("webhooks are not wired")
	}
	rows, err := e.db.R.QueryContext(ctx, `SELECT `+ruleColumns+` FROM rules WHERE webhook_urls = '' AND actions LIKE $1`,
		`%"url":%`)
	old, err := db.Collect(rows, err, "read rules to seal", func(r *sql.Rows) (Rule, error) { return scanRule(r) })
	if err != nil {
		return 0, err
	}
	for _, r := range old {
		actions, sealed, err := e.sealURLs(r.ID, r.Actions)
		if err != nil {
			return 0, err
		}
		if err := e.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE rules SET actions = $1, webhook_urls = $2 WHERE id = $3 AND version = $4`,
				actions, sealed, r.ID, r.Version)
			return err
		}); err != nil {
			return 0, fmt.Errorf("seal rule %s's webhook addresses: %w", r.ID, err)
		}
	}
	return len(old), nil
}

// queueHookTx queues a call of rule r's webhook at target about incident
// incidentID, sent by DeliverWebhooks.
func (e *Engine) queueHookTx(ctx context.Context, tx *sql.Tx, r Rule, incidentID, target string) error {
	now := e.clock.Now()
	id := uuid.Must(uuid.NewV7()).String()
	sealed, err := keys.RuleWebhookDeliveryURL.SealText(e.hooks.opts.Keys, target, id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rule_webhook_deliveries (id, rule_id, incident_id, url, status, attempts,
		due_at, last_error, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, '', $6)`,
		id, r.ID, incidentID, sealed, hookQueued, now); err != nil {
		return fmt.Errorf("queue the webhook call: %w", err)
	}
	return nil
}

// HookPayload is the JSON body of a rule's webhook call. It holds no PHI:
// never an incident's title or description.
type HookPayload struct {
	// ID is the call's id, the same on every attempt: a receiver that has
	// seen it already can ignore it.
	ID       string `json:"id"`
	Kind     string `json:"kind"` // "rule"
	Rule     string `json:"rule"`
	Incident string `json:"incident"` // the incident's number
	Severity string `json:"severity"`
	Status   string `json:"status"`
	Service  string `json:"service"` // the service of its first alert; empty when no alert opened it
	URL      string `json:"url"`     // the incident in Ward
	SentAt   string `json:"sent_at"` // RFC 3339, UTC
}

// hookCall is one due call.
type hookCall struct {
	id, ruleID, ruleName, incidentID, url, sealed string
	attempts                                      int
	payload                                       HookPayload
	err                                           error
}

// DeliverWebhooks makes the webhook calls that are due, up to a batch,
// and records each outcome: sent, tried again later (a transient failure,
// with backoff) or given up on after MaxAttempts. A call sent or given up
// on is on the incident's timeline. It runs as a jobs task (one node at a
// time).
func (e *Engine) DeliverWebhooks(ctx context.Context) error {
	if e.hooks == nil {
		return nil
	}
	now := e.clock.Now()
	rows, err := e.db.R.QueryContext(ctx, `SELECT d.id, d.rule_id, r.name, d.incident_id, d.url, r.webhook_secret, d.attempts,
		i.number, i.severity, i.status, COALESCE((SELECT s.name FROM alerts a JOIN services s ON s.id = a.service_id
			WHERE a.incident_id = d.incident_id ORDER BY a.first_at, a.id LIMIT 1), '')
		FROM rule_webhook_deliveries d JOIN rules r ON r.id = d.rule_id JOIN incidents i ON i.id = d.incident_id
		WHERE d.status = $1 AND d.due_at <= $2 ORDER BY d.due_at, d.id LIMIT `+strconv.Itoa(hookBatch), hookQueued, now)
	calls, err := db.Collect(rows, err, "read due webhook calls", func(r *sql.Rows) (*hookCall, error) {
		c := &hookCall{}
		err := r.Scan(&c.id, &c.ruleID, &c.ruleName, &c.incidentID, &c.url, &c.sealed, &c.attempts,
			&c.payload.Incident, &c.payload.Severity, &c.payload.Status, &c.payload.Service)
		return c, err
	})
	if err != nil || len(calls) == 0 {
		return err
	}
	for _, c := range calls {
		c.attempts++
		c.payload.ID, c.payload.Kind, c.payload.Rule = c.id, "rule", c.ruleName
		c.payload.URL = e.hooks.opts.BaseURL + "/incidents/" + c.payload.Incident
		c.payload.SentAt = e.clock.Now().UTC().Format(time.RFC3339)
		secret, err := keys.RuleWebhookSecret.OpenText(e.hooks.opts.Keys, c.sealed, c.ruleID)
		if err != nil {
			c.err = notify.Permanent(fmt.Errorf("open the rule's secret: %w", err))
			continue
		}
		if c.url, err = keys.RuleWebhookDeliveryURL.OpenText(e.hooks.opts.Keys, c.url, c.id); err != nil {
			c.err = notify.Permanent(fmt.Errorf("open the call's address: %w", err))
			continue
		}
		body, err := json.Marshal(c.payload)
		if err != nil {
			return err
		}
		c.err = e.hooks.poster.Post(ctx, c.url, []byte(secret), body)
	}
	return e.recordHooks(ctx, calls)
}

// hookError is a failed call's cause as Ward records it: a class it
// derives itself, never the receiver's answer, which may quote anything.
func hookError(err error) string {
	if he, ok := errors.AsType[*notify.HTTPError](err); ok {
		return "HTTP " + strconv.Itoa(he.StatusCode)
	}
	if outbound.IsRefused(err) {
		return "refused by the outbound guard (" + outbound.Flag + ")"
	}
	if !notify.IsTransient(err) {
		return "could not be sent"
	}
	return "connection failed"
}

// recordHooks writes the outcome of calls, each on its incident's timeline
// when it is final, as Ward.
func (e *Engine) recordHooks(ctx context.Context, calls []*hookCall) error {
	ctx = authz.WithActor(ctx, authz.Actor{Kind: authz.KindSystem, ID: "ward", Name: "Ward (rule webhooks)", Role: authz.RoleAdmin})
	now := e.clock.Now()
	return e.db.Write(ctx, func(tx *sql.Tx) error {
		for _, c := range calls {
			host := c.url
			if u, err := url.Parse(c.url); err == nil {
				host = u.Host
			}
			var note string
			var err error
			switch {
			case c.err == nil:
				_, err = tx.ExecContext(ctx, `UPDATE rule_webhook_deliveries SET status = $1, attempts = $2, sent_at = $3,
					last_error = '' WHERE id = $4`, hookSent, c.attempts, now, c.id)
				note = fmt.Sprintf("Rule %s called its webhook at %s.", c.ruleName, host)
			case notify.IsTransient(c.err) && c.attempts < e.hooks.opts.MaxAttempts:
				_, err = tx.ExecContext(ctx, `UPDATE rule_webhook_deliveries SET attempts = $1, due_at = $2, last_error = $3
					WHERE id = $4`, c.attempts, now.Add(hookRetry(c.attempts, c.id, c.err)), hookError(c.err), c.id)
			default:
				e.log.WarnContext(ctx, "rule_webhook_failed", "rule_id", c.ruleID, "incident_id", c.incidentID,
					"attempts", c.attempts, "error", hookError(c.err))
				_, err = tx.ExecContext(ctx, `UPDATE rule_webhook_deliveries SET status = $1, attempts = $2, last_error = $3
					WHERE id = $4`, hookFailed, c.attempts, hookError(c.err), c.id)
				note = fmt.Sprintf("FAILED to call the webhook of rule %s at %s after %d attempts: %s.", c.ruleName, host,
					c.attempts, hookError(c.err))
			}
			if err != nil {
				return fmt.Errorf("record webhook call: %w", err)
			}
			if note != "" {
				if err := e.incidents.RecordTx(ctx, tx, c.incidentID, incident.EventRule, note); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
