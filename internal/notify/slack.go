package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/outbound"
)

// SlackWebhookConfig configures a SlackWebhook sender.
type SlackWebhookConfig struct {
	URL     string        // the incoming webhook's URL, a secret
	Timeout time.Duration // per request; default 10s
	// Outbound guards every connection (--outbound-allow); nil refuses
	// every loopback, private and metadata address.
	Outbound *outbound.Guard
}

// SlackWebhook posts to one Slack channel through an incoming webhook.
type SlackWebhook struct {
	url  string
	http httpClient
}

// NewSlackWebhook checks cfg and returns a SlackWebhook sender.
func NewSlackWebhook(cfg SlackWebhookConfig) (*SlackWebhook, error) {
	if _, err := checkURL("slack webhook url", cfg.URL); err != nil {
		return nil, err
	}
	return &SlackWebhook{url: cfg.URL, http: newGuardedClient("slack", cfg.Timeout, cfg.Outbound)}, nil
}

// Send posts Render's subject and text to the webhook's channel; to is
// ignored. Slack answers 200 "ok"; its webhooks give no message id.
func (s *SlackWebhook) Send(ctx context.Context, _ string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	body, err := marshalJSON(map[string]string{"text": slackText(m)})
	if err != nil {
		return Receipt{}, err
	}
	status, header, resp, err := s.http.post(ctx, s.url, "application/json", body, nil)
	if err != nil {
		return Receipt{}, err
	}
	if status != http.StatusOK || strings.TrimSpace(string(resp)) != "ok" {
		return Receipt{}, statusError("slack", status, header, resp)
	}
	return Receipt{Provider: "slack"}, nil
}

// SlackBotConfig configures a SlackBot sender.
type SlackBotConfig struct {
	BaseURL string        // default https://slack.com
	Token   string        // the bot token, "xoxb-…", with the chat:write scope
	Timeout time.Duration // per request; default 10s
	// Interactive says Slack sends the presses of a message's buttons to
	// Ward (the app's interactivity URL and signing secret are set up):
	// a page's Acknowledge, Resolve and Escalate buttons are then pressed
	// in Slack, not links to Ward's confirmation page.
	Interactive bool
}

// SlackBot posts with a bot token through Slack's Web API
// (chat.postMessage, chat.update, chat.postEphemeral).
type SlackBot struct {
	base        string
	token       string
	interactive bool
	http        httpClient
}

// NewSlackBot checks cfg and returns a SlackBot sender.
func NewSlackBot(cfg SlackBotConfig) (*SlackBot, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://slack.com"
	}
	u, err := checkURL("slack base url", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" || strings.ContainsFunc(cfg.Token, isControl) {
		return nil, errors.New("notify: slack token is required and must be one line")
	}
	return &SlackBot{
		base:        strings.TrimSuffix(u.String(), "/") + "/api/",
		token:       cfg.Token,
		interactive: cfg.Interactive,
		http:        newHTTPClient("slack", cfg.Timeout),
	}, nil
}

// slackTransient are the chat.postMessage errors Slack documents as
// temporary.
var slackTransient = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

// The action_id values of a page message's buttons: Slack sends them back
// with the button's value, the message's notification id.
const (
	SlackActionAcknowledge = "ward_acknowledge"
	SlackActionResolve     = "ward_resolve"
	SlackActionEscalate    = "ward_escalate"
	SlackActionOpen        = "ward_open"
)

// Send posts m to the channel ID to (a user ID: a direct message). The
// Receipt's ID is the message's ts. A page is posted as Block Kit with
// buttons; a message with Thread set is a reply in that message's thread.
func (s *SlackBot) Send(ctx context.Context, to string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	if to == "" || strings.ContainsFunc(to, isControl) || len(to) > 100 {
		return Receipt{}, Permanent(errors.New("slack: channel is required and must be a channel ID"))
	}
	req := map[string]any{"channel": to, "text": slackText(m)}
	if m.Kind == KindPage {
		interactive := s.interactive && m.ID != ""
		var actions []string
		for _, a := range []struct{ id, url string }{{SlackActionAcknowledge, m.AckURL}, {SlackActionResolve, m.ResolveURL},
			{SlackActionEscalate, m.EscalateURL}} {
			if a.url != "" {
				actions = append(actions, a.id)
			}
		}
		if interactive {
			// The buttons act in Slack; the text carries no links to act with.
			plain := m
			plain.AckURL, plain.ResolveURL, plain.EscalateURL = "", "", ""
			req["text"] = slackText(plain)
		}
		req["blocks"] = s.pageBlocks(m, actions, "", interactive)
	}
	if m.Thread != "" {
		req["thread_ts"] = m.Thread
	}
	ts, err := s.call(ctx, "chat.postMessage", req)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Provider: "slack", ID: ts}, nil
}

// Update rewrites the page message ts in channel after someone acted on
// it: m as the page now stands, note saying who did what and when, and
// only the buttons of actions (SlackAction… ids) left, beside Open.
func (s *SlackBot) Update(ctx context.Context, channel, ts string, m Message, actions []string, note string) error {
	if err := m.Validate(); err != nil {
		return Permanent(err)
	}
	plain := m
	plain.AckURL, plain.ResolveURL, plain.EscalateURL = "", "", ""
	_, err := s.call(ctx, "chat.update", map[string]any{"channel": channel, "ts": ts, "text": slackText(plain) + "\n" + slackEscape(note),
		"blocks": s.pageBlocks(m, actions, note, true)})
	return err
}

// Ephemeral shows text to user alone in channel.
func (s *SlackBot) Ephemeral(ctx context.Context, channel, user, text string) error {
	_, err := s.call(ctx, "chat.postEphemeral", map[string]any{"channel": channel, "user": user, "text": slackEscape(text)})
	return err
}

// call calls Web API method with req as JSON and returns the ts Slack
// answers with.
func (s *SlackBot) call(ctx context.Context, method string, req map[string]any) (string, error) {
	body, err := marshalJSON(req)
	if err != nil {
		return "", err
	}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+s.token)
	status, respHeader, resp, err := s.http.post(ctx, s.base+method, "application/json; charset=utf-8", body, header)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", statusError("slack", status, respHeader, resp)
	}
	var r struct {
		OK    bool   `json:"ok"`
		TS    string `json:"ts"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return "", Permanent(fmt.Errorf("slack: %s answer is not JSON: %w", method, err))
	}
	if !r.OK {
		return "", &HTTPError{Provider: "slack", StatusCode: status, Code: r.Error,
			RetryAfter: retryAfter(respHeader), Transient: slackTransient[r.Error]}
	}
	return r.TS, nil
}

// slackButtons are the titles of the page buttons, by action id.
var slackButtons = map[string]string{
	SlackActionAcknowledge: "Acknowledge", SlackActionResolve: "Resolve", SlackActionEscalate: "Escalate now",
}

// pageBlocks is page message m as Block Kit: its facts, note when set, and
// a button for each of actions and Open. Interactive buttons carry m.ID
// for Slack to send back; otherwise each opens its link in Ward.
func (s *SlackBot) pageBlocks(m Message, actions []string, note string, interactive bool) []map[string]any {
	plain := m
	plain.URL, plain.AckURL, plain.ResolveURL, plain.EscalateURL = "", "", "", ""
	blocks := []map[string]any{{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": slackText(plain)}}}
	if note != "" {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []map[string]any{{"type": "mrkdwn", "text": slackEscape(note)}}})
	}
	urls := map[string]string{SlackActionAcknowledge: m.AckURL, SlackActionResolve: m.ResolveURL, SlackActionEscalate: m.EscalateURL}
	var buttons []map[string]any
	for _, a := range actions {
		b := map[string]any{"type": "button", "action_id": a, "text": map[string]any{"type": "plain_text", "text": slackButtons[a]}}
		if interactive {
			b["value"] = m.ID
		} else {
			b["url"] = urls[a]
		}
		if a == SlackActionAcknowledge {
			b["style"] = "primary"
		}
		buttons = append(buttons, b)
	}
	buttons = append(buttons, map[string]any{"type": "button", "action_id": SlackActionOpen, "url": m.URL,
		"text": map[string]any{"type": "plain_text", "text": "Open in Ward"}})
	return append(blocks, map[string]any{"type": "actions", "elements": buttons})
}

// slackEscape escapes Slack's three control characters.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackText is the subject in bold and the text, with Slack's three
// control characters escaped.
func slackText(m Message) string {
	subject, text := Render(m)
	return "*" + slackEscape(subject) + "*\n" + slackEscape(strings.TrimSpace(text))
}

// marshalJSON encodes v without HTML escaping, so links stay readable.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, Permanent(fmt.Errorf("notify: encoding JSON: %w", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
