package integration

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// ChangeEventV2 is a PagerDuty change event
// (https://developer.pagerduty.com/docs/events-api-v2/send-change-events/):
// a deploy or a configuration change on the service whose Events API v2
// routing key it carries.
type ChangeEventV2 struct {
	RoutingKey string          `json:"routing_key"`
	Payload    *ChangeBody     `json:"payload"`
	Links      json.RawMessage `json:"links"`
}

// ChangeBody is a change event's payload.
type ChangeBody struct {
	Summary       string          `json:"summary"`
	Timestamp     string          `json:"timestamp"`
	Source        string          `json:"source"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// ParseChangeEventV2 reads a change event, its errors worded as the
// PagerDuty API's. A change without a timestamp happened when received
// (zero time here).
func ParseChangeEventV2(body []byte) (ChangeEventV2, alert.Change, error) {
	var in ChangeEventV2
	if err := json.Unmarshal(body, &in); err != nil {
		return ChangeEventV2{}, alert.Change{}, apperr.New(apperr.Invalid, "Event object is invalid: body is not a JSON object")
	}
	if strings.TrimSpace(in.RoutingKey) == "" {
		return in, alert.Change{}, apperr.Field("routing_key", "'routing_key' is missing or blank")
	}
	if in.Payload == nil {
		return in, alert.Change{}, apperr.Field("payload", "'payload' is missing")
	}
	ch := alert.Change{Summary: in.Payload.Summary, Source: in.Payload.Source}
	if strings.TrimSpace(ch.Summary) == "" {
		return in, alert.Change{}, apperr.Field("payload.summary", "'payload.summary' is missing or blank")
	}
	if n := utf8.RuneCountInString(ch.Summary); n > alert.MaxChangeSummary {
		return in, alert.Change{}, apperr.Field("payload.summary", "'payload.summary' is %d characters; the limit is %d", n, alert.MaxChangeSummary)
	}
	if n := utf8.RuneCountInString(ch.Source); n > alert.MaxChangeSource {
		return in, alert.Change{}, apperr.Field("payload.source", "'payload.source' is %d characters; the limit is %d", n, alert.MaxChangeSource)
	}
	if in.Payload.Timestamp != "" {
		at, err := time.Parse(time.RFC3339Nano, in.Payload.Timestamp)
		if err != nil {
			return in, alert.Change{}, apperr.Field("payload.timestamp", "'payload.timestamp' is not an ISO 8601 date and time")
		}
		ch.At = at
	}
	var links []json.RawMessage
	if len(in.Links) > 0 && string(in.Links) != "null" {
		if err := json.Unmarshal(in.Links, &links); err != nil {
			return in, alert.Change{}, apperr.Field("links", "'links' is not a list")
		}
	}
	ch.Links = len(links)
	return in, ch, nil
}
