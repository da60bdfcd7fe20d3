package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// Publisher sends checkpoints somewhere outside the database. Publish may
// be called again with a checkpoint it already had (delivery is at least
// once); a checkpoint carries nothing but sequence numbers, hashes, a time,
// a node name and a signature, so no PHI leaves with it.
type Publisher interface {
	// Destination names where checkpoints go, for delivery progress and
	// logs; it holds no secret.
	Destination() string
	Publish(ctx context.Context, c Checkpoint) error
}

// FilePublisher appends each checkpoint as one line of JSON to a file (JSON
// Lines), which should live outside the data folder: on another disk, a
// write-once store, or a folder the auditor's tooling collects.
type FilePublisher struct{ Path string }

// Destination is "file:" and the path.
func (p FilePublisher) Destination() string { return "file:" + p.Path }

// Publish appends c's line and syncs the file.
func (p FilePublisher) Publish(_ context.Context, c Checkpoint) error {
	if err := os.MkdirAll(filepath.Dir(p.Path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(c.MarshalLine()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WebhookPublisher POSTs each checkpoint as a JSON document to URL; any 2xx
// answer is a delivery. Client should be the outbound guard's, so that the
// webhook cannot reach addresses an administrator has not allowed.
type WebhookPublisher struct {
	URL    string
	Client *http.Client
}

// Destination is "webhook:" and the URL without its user information or
// query, which may hold a secret.
func (p WebhookPublisher) Destination() string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return "webhook"
	}
	return "webhook:" + u.Scheme + "://" + u.Host + u.Path
}

// Publish posts c.
func (p WebhookPublisher) Publish(ctx context.Context, c Checkpoint) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(c.MarshalLine()))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if ue, ok := errors.AsType[*url.Error](err); ok {
		// Without the URL, whose query may hold a secret.
		return fmt.Errorf("webhook %s: %w", ue.Op, ue.Err)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
