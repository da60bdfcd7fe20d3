package siem

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
)

// WebhookConfig configures a Webhook destination.
type WebhookConfig struct {
	URL    string // https, or http to a loopback address
	Secret []byte // the HMAC key shared with the receiver, at least 16 bytes
	// TLS verifies the receiver (RootCAs); nil: the system's roots.
	TLS *tls.Config
	// Outbound guards every connection (--outbound-allow); nil refuses
	// loopback, private and metadata addresses.
	Outbound *outbound.Guard
	Timeout  time.Duration // per request; default 10s
	Clock    clock.Clock   // for the timestamp; default clock.Real
}

// WebhookBatch is the JSON body a Webhook posts.
type WebhookBatch struct {
	Entries []audit.Entry `json:"entries"` // in sequence order; a receiver deduplicates on seq
	SentAt  string        `json:"sent_at"` // RFC 3339, UTC
}

// Webhook posts entries in JSON batches, signed like Ward's webhook
// contact method: the Ward-Timestamp and Ward-Signature headers
// (notify.Signature), which notify.VerifySignature checks. Any 2xx answer
// is a delivery.
type Webhook struct {
	url    string
	secret []byte
	clock  clock.Clock
	client *http.Client
}

// NewWebhook checks cfg and returns a Webhook destination.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("siem webhook: %q is not an absolute URL", cfg.URL)
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme != "https" && (u.Scheme != "http" || ip == nil || !ip.IsLoopback()) {
		return nil, errors.New("siem webhook: the URL must use https (http is allowed only to a loopback address)")
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("siem webhook: the secret must be at least 16 bytes")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	client := cfg.Outbound.Client(cfg.Timeout, cfg.TLS)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Webhook{url: cfg.URL, secret: cfg.Secret, clock: cfg.Clock, client: client}, nil
}

// Name is "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Send posts entries as one WebhookBatch.
func (w *Webhook) Send(ctx context.Context, entries []audit.Entry) error {
	now := w.clock.Now().UTC()
	body, err := json.Marshal(WebhookBatch{Entries: entries, SentAt: now.Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("siem webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("siem webhook: %w", err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(notify.HeaderTimestamp, ts)
	req.Header.Set(notify.HeaderSignature, notify.Signature(w.secret, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("siem webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("siem webhook: the receiver answered %d", resp.StatusCode)
	}
	return nil
}

// Close releases idle connections.
func (w *Webhook) Close() error {
	w.client.CloseIdleConnections()
	return nil
}
