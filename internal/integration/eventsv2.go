package integration

import (
	"encoding/json"
	"strings"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// EventsV2 is a PagerDuty Events API v2 event
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
type EventsV2 struct {
	RoutingKey  string          `json:"routing_key"`
	EventAction string          `json:"event_action"`
	DedupKey    string          `json:"dedup_key"`
	Payload     *EventsV2Body   `json:"payload"`
	Images      json.RawMessage `json:"images"`
	Links       json.RawMessage `json:"links"`
	Client      string          `json:"client"`
	ClientURL   string          `json:"client_url"`
}

// EventsV2Body is an Events API v2 event's payload.
type EventsV2Body struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      string          `json:"severity"`
	Timestamp     string          `json:"timestamp"`
	Component     string          `json:"component"`
	Group         string          `json:"group"`
	Class         string          `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// ParseEventsV2 reads an Events API v2 event. Its errors read as the
// PagerDuty API's do ("'payload.summary' is missing or blank"), because
// the tools that send these events show them to their users.
func ParseEventsV2(body []byte) (EventsV2, alert.Event, error) {
	var in EventsV2
	if err := json.Unmarshal(body, &in); err != nil {
		return EventsV2{}, alert.Event{}, apperr.New(apperr.Invalid, "Event object is invalid: body is not a JSON object")
	}
	if strings.TrimSpace(in.RoutingKey) == "" {
		return in, alert.Event{}, apperr.Field("routing_key", "'routing_key' is missing or blank")
	}
	ev := alert.Event{Action: alert.Action(in.EventAction), DedupKey: in.DedupKey}
	if in.EventAction == "" {
		return in, alert.Event{}, apperr.Field("event_action", "'event_action' is missing or blank")
	}
	if ev.Action == alert.Trigger {
		if in.Payload == nil {
			return in, alert.Event{}, apperr.Field("payload", "'payload' is missing")
		}
		p := in.Payload
		ev.Summary, ev.Source, ev.Severity = p.Summary, p.Source, alert.Severity(p.Severity)
		ev.Component, ev.Group, ev.Class = p.Component, p.Group, p.Class
		ev.Details = details(map[string]any{
			"custom_details": p.CustomDetails, "timestamp": p.Timestamp, "links": in.Links, "images": in.Images,
			"client": in.Client, "client_url": in.ClientURL,
		})
	}
	if err := ev.Validate(""); err != nil {
		return in, alert.Event{}, eventsV2Error(err)
	}
	return in, ev, nil
}

// eventsV2Paths are the Events API v2 names of alert.Event's fields.
var eventsV2Paths = map[string]string{
	"summary": "payload.summary", "source": "payload.source", "severity": "payload.severity",
	"component": "payload.component", "group": "payload.group", "class": "payload.class",
	"custom_details": "payload.custom_details",
}

// eventsV2Error restates a validation error with Events API v2 field paths.
func eventsV2Error(err error) error {
	e, ok := apperr.As(err)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	f := e.Fields[0]
	path := f.Field
	if p, ok := eventsV2Paths[path]; ok {
		path = p
	}
	msg := "'" + path + "' " + f.Message
	if f.Message == "is required" {
		msg = "'" + path + "' is missing or blank"
	}
	return apperr.Field(path, "%s", msg)
}
