package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/outbound"
)

// The headers of a signed webhook request.
const (
	HeaderTimestamp = "Ward-Timestamp" // the send time in Unix seconds
	HeaderSignature = "Ward-Signature" // "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// minSecretLen is the shortest webhook secret accepted: 128 bits.
const minSecretLen = 16

// WebhookConfig configures a Webhook sender.
type WebhookConfig struct {
	URL     string        // the receiver's URL
	Secret  []byte        // the HMAC key shared with the receiver, at least 16 bytes
	Timeout time.Duration // per request; default 10s
	Clock   clock.Clock   // for sent_at and the timestamp; default clock.Real
	// Outbound guards every connection (--outbound-allow); nil refuses
	// every loopback, private and metadata address.
	Outbound *outbound.Guard
}

// Webhook posts a signed JSON document to a receiver of the customer's.
type Webhook struct {
	url    string
	secret []byte
	clock  clock.Clock
	http   httpClient
}

// WebhookPayload is the JSON body a Webhook posts. It has no code field:
// verification codes go only to a person's own contact methods.
type WebhookPayload struct {
	// ID is the notification's id, the same on a re-send (also in the
	// HeaderNotificationID header): a receiver that has seen it already
	// can ignore the message.
	ID         string `json:"id,omitempty"`
	Kind       string `json:"kind"`
	Incident   string `json:"incident"`
	Severity   string `json:"severity"`
	Service    string `json:"service"`
	Status     string `json:"status"`
	URL        string `json:"url"`
	AckURL     string `json:"ack_url"`
	ResolveURL string `json:"resolve_url"`
	// EscalateURL pages the next step of the escalation policy; only in
	// page messages.
	EscalateURL string `json:"escalate_url,omitempty"`
	SentAt      string `json:"sent_at"` // RFC 3339, UTC
}

// NewWebhook checks cfg and returns a Webhook sender.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if _, err := checkURL("webhook url", cfg.URL); err != nil {
		return nil, err
	}
	if len(cfg.Secret) < minSecretLen {
		return nil, fmt.Errorf("notify: webhook secret must be at least %d bytes", minSecretLen)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Webhook{url: cfg.URL, secret: cfg.Secret, clock: cfg.Clock, http: newGuardedClient("webhook", cfg.Timeout, cfg.Outbound)}, nil
}

// Send posts m as a WebhookPayload, signed in the Ward-Timestamp and
// Ward-Signature headers; to is ignored. Any 2xx answer is a success.
// KindVerify messages are refused: their code is for a person.
func (w *Webhook) Send(ctx context.Context, _ string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	if m.Kind == KindVerify {
		return Receipt{}, Permanent(errors.New("webhook: kind verify cannot be sent to a webhook"))
	}
	now := w.clock.Now().UTC()
	body, err := marshalJSON(WebhookPayload{ID: m.ID,
		Kind: m.Kind, Incident: m.Incident, Severity: m.Severity, Service: m.Service, Status: m.Status,
		URL: m.URL, AckURL: m.AckURL, ResolveURL: m.ResolveURL, EscalateURL: m.EscalateURL, SentAt: now.Format(time.RFC3339),
	})
	if err != nil {
		return Receipt{}, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	header := http.Header{}
	header.Set(HeaderTimestamp, ts)
	header.Set(HeaderSignature, Signature(w.secret, ts, body))
	if m.ID != "" {
		header.Set(HeaderNotificationID, m.ID)
	}
	status, respHeader, resp, err := w.http.post(ctx, w.url, "application/json", body, header)
	if err != nil {
		return Receipt{}, err
	}
	if status/100 != 2 {
		return Receipt{}, statusError("webhook", status, respHeader, resp)
	}
	return Receipt{Provider: "webhook"}, nil
}

// Signature is the Ward-Signature header value of body sent at timestamp
// (Unix seconds, the Ward-Timestamp header): "v1=" and the hex HMAC-SHA256
// under secret of timestamp, ".", body. VerifySignature checks it.
func Signature(secret []byte, timestamp string, body []byte) string {
	return "v1=" + hex.EncodeToString(sign(secret, timestamp, body))
}

func sign(secret []byte, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifySignature checks a Ward webhook request as a receiver should:
// timestamp and signature are the Ward-Timestamp and Ward-Signature header
// values and body the raw request body. It fails when the timestamp is more
// than tolerance away from now (a replay, or a clock far off) or when no
// "v1=" entry of the comma-separated signature matches, compared in
// constant time.
func VerifySignature(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook: timestamp is not Unix seconds")
	}
	age := now.Sub(time.Unix(secs, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("webhook: timestamp is %s away from now, beyond the tolerance of %s", age.Abs().Truncate(time.Second), tolerance)
	}
	want := sign(secret, timestamp, body)
	found := false
	for part := range strings.SplitSeq(signature, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		found = true
		got, err := hex.DecodeString(hexSig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return errors.New("webhook: signature has no v1= entry")
	}
	return errors.New("webhook: signature does not match")
}

// SignedPoster posts JSON documents other than messages (a workflow rule's
// call_webhook) signed as a Webhook signs its own: the Ward-Timestamp and
// Ward-Signature headers, over the exact body, through the outbound guard.
type SignedPoster struct {
	clock clock.Clock
	http  httpClient
}

// NewSignedPoster returns a SignedPoster whose every connection g guards
// (nil refuses every loopback, private and metadata address).
func NewSignedPoster(g *outbound.Guard, timeout time.Duration, c clock.Clock) *SignedPoster {
	if c == nil {
		c = clock.Real{}
	}
	return &SignedPoster{clock: c, http: newGuardedClient("webhook", timeout, g)}
}

// Post sends body to target signed with secret. Any 2xx answer is a
// success; other answers are *HTTPError, transient or not as IsTransient
// says.
func (s *SignedPoster) Post(ctx context.Context, target string, secret, body []byte) error {
	if _, err := checkURL("webhook url", target); err != nil {
		return Permanent(err)
	}
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	header := http.Header{}
	header.Set(HeaderTimestamp, ts)
	header.Set(HeaderSignature, Signature(secret, ts, body))
	status, respHeader, resp, err := s.http.post(ctx, target, "application/json", body, header)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return statusError("webhook", status, respHeader, resp)
	}
	return nil
}
