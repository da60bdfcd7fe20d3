package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/outbound"
)

// HTTPError is a provider's answer that is not a success. It never holds
// the request body Ward sent.
type HTTPError struct {
	Provider   string        // "twilio", "slack", "teams" or "webhook"
	StatusCode int           // the HTTP status, or 200 for a Slack API "ok": false
	Code       string        // the provider's error code, when it gives one (Twilio "21211", Slack "channel_not_found")
	Message    string        // the provider's error message, when it gives one
	RetryAfter time.Duration // the provider's Retry-After, when it gives one in seconds
	Transient  bool          // the provider says retrying may succeed even though the status alone would not
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Provider, e.StatusCode)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *HTTPError) transient() bool {
	return e.Transient || e.StatusCode == http.StatusRequestTimeout ||
		e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// maxResponse bounds how much of a provider's answer is read.
const maxResponse = 64 << 10

// httpClient posts to one provider.
type httpClient struct {
	provider string
	client   *http.Client
}

// newHTTPClient returns the client of a provider the administrator
// configured (Twilio, the Slack API), through the default transport.
func newHTTPClient(provider string, timeout time.Duration) httpClient {
	return newClient(provider, timeout, http.DefaultTransport)
}

// newGuardedClient returns the client of a destination a person typed
// (a webhook, Slack incoming webhook or Teams URL): every connection
// goes through g, which refuses loopback, private and metadata
// addresses unless allow-listed (package outbound).
func newGuardedClient(provider string, timeout time.Duration, g *outbound.Guard) httpClient {
	return newClient(provider, timeout, g.Transport(nil))
}

func newClient(provider string, timeout time.Duration, transport http.RoundTripper) httpClient {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return httpClient{provider: provider, client: &http.Client{
		Timeout:   timeout,
		Transport: transport,
		// A redirect could carry the request to a plain-text or unexpected
		// host; providers do not redirect their APIs.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// post sends body to target and returns the response status and up to
// maxResponse bytes of its body. Transport errors are returned with the
// *url.Error removed, so that IsTransient sees the cause; they name the
// host but not the path, which may hold a webhook's secret.
func (c httpClient) post(ctx context.Context, target, contentType string, body []byte, header http.Header) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, Permanent(fmt.Errorf("%s: building request: %w", c.provider, redactURLError(err)))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Ward-notify/1")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s: POST to %s: %w", c.provider, req.URL.Host, redactURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%s: reading response from %s: %w", c.provider, req.URL.Host, err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

func redactURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// statusError builds the HTTPError for a response with an unexpected
// status, keeping the body only when it is a short single line such as
// Slack's "invalid_payload".
func statusError(provider string, status int, header http.Header, body []byte) *HTTPError {
	e := &HTTPError{Provider: provider, StatusCode: status, RetryAfter: retryAfter(header)}
	if s := strings.TrimSpace(string(body)); len(s) <= 100 && !strings.ContainsFunc(s, isControl) && !strings.HasPrefix(s, "<") {
		e.Message = s
	}
	return e
}

func retryAfter(header http.Header) time.Duration {
	if header == nil {
		return 0
	}
	secs, err := strconv.Atoi(header.Get("Retry-After"))
	if err != nil || secs < 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// checkURL requires an https URL, or http to a loopback address for tests
// and local relays (45 CFR 164.312(e)(1): transmission security).
func checkURL(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("notify: %s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("notify: %s is not an absolute URL", field)
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("notify: %s must use https (http is allowed only to a loopback address)", field)
		}
	default:
		return nil, fmt.Errorf("notify: %s must use https", field)
	}
	return u, nil
}
