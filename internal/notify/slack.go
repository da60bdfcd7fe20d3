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
}

// SlackBot posts with a bot token through the chat.postMessage API.
type SlackBot struct {
	endpoint string
	token    string
	http     httpClient
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
		endpoint: strings.TrimSuffix(u.String(), "/") + "/api/chat.postMessage",
		token:    cfg.Token,
		http:     newHTTPClient("slack", cfg.Timeout),
	}, nil
}

// slackTransient are the chat.postMessage errors Slack documents as
// temporary.
var slackTransient = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

// Send posts Render's subject and text to the channel ID to. The Receipt's
// ID is the message's ts.
func (s *SlackBot) Send(ctx context.Context, to string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	if to == "" || strings.ContainsFunc(to, isControl) || len(to) > 100 {
		return Receipt{}, Permanent(errors.New("slack: channel is required and must be a channel ID"))
	}
	body, err := marshalJSON(map[string]string{"channel": to, "text": slackText(m)})
	if err != nil {
		return Receipt{}, err
	}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+s.token)
	status, respHeader, resp, err := s.http.post(ctx, s.endpoint, "application/json; charset=utf-8", body, header)
	if err != nil {
		return Receipt{}, err
	}
	if status != http.StatusOK {
		return Receipt{}, statusError("slack", status, respHeader, resp)
	}
	var r struct {
		OK    bool   `json:"ok"`
		TS    string `json:"ts"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return Receipt{}, Permanent(fmt.Errorf("slack: chat.postMessage answer is not JSON: %w", err))
	}
	if !r.OK {
		return Receipt{}, &HTTPError{Provider: "slack", StatusCode: status, Code: r.Error,
			RetryAfter: retryAfter(respHeader), Transient: slackTransient[r.Error]}
	}
	return Receipt{Provider: "slack", ID: r.TS}, nil
}

// slackText is the subject in bold and the text, with Slack's three
// control characters escaped.
func slackText(m Message) string {
	subject, text := Render(m)
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return "*" + esc.Replace(subject) + "*\n" + esc.Replace(strings.TrimSpace(text))
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
