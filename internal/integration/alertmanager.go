package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// Notification is the webhook body of Prometheus Alertmanager (version 4,
// https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)
// and of Grafana's webhook contact point, which extends it.
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []NotifiedAlert   `json:"alerts"`
	// Grafana's additions.
	OrgID   json.Number `json:"orgId"`
	Title   string      `json:"title"`
	State   string      `json:"state"`
	Message string      `json:"message"`
}

// NotifiedAlert is one alert of a Notification.
type NotifiedAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	// Grafana's additions.
	Values       json.RawMessage `json:"values"`
	ValueString  string          `json:"valueString"`
	DashboardURL string          `json:"dashboardURL"`
	PanelURL     string          `json:"panelURL"`
	SilenceURL   string          `json:"silenceURL"`
}

// ParseAlertmanager reads an Alertmanager webhook notification: each alert
// in it becomes an event (firing → trigger, resolved → resolve), keyed by
// its fingerprint and grouped by the notification's group key, so one
// Alertmanager group is one incident.
func ParseAlertmanager(body []byte) ([]alert.Event, error) {
	return parseNotification(body, "alertmanager")
}

// ParseGrafana reads a Grafana alerting webhook notification, the
// Alertmanager format with Grafana's additions (kept in the details).
func ParseGrafana(body []byte) ([]alert.Event, error) {
	return parseNotification(body, "grafana")
}

func parseNotification(body []byte, tool string) ([]alert.Event, error) {
	var n Notification
	if err := decode(body, &n); err != nil {
		return nil, err
	}
	if len(n.Alerts) == 0 {
		return nil, apperr.Field("alerts", "is empty")
	}
	if len(n.Alerts) > alert.MaxBatch {
		return nil, apperr.Field("alerts", "has %d alerts; the limit is %d", len(n.Alerts), alert.MaxBatch)
	}
	evs := make([]alert.Event, 0, len(n.Alerts))
	for i, a := range n.Alerts {
		ev := alert.Event{DedupKey: a.Fingerprint, GroupKey: n.GroupKey}
		switch a.Status {
		case "firing":
			ev.Action = alert.Trigger
		case "resolved":
			ev.Action = alert.Resolve
		default:
			return nil, apperr.Field("alerts["+strconv.Itoa(i)+"].status", "%q is not one of firing, resolved", a.Status)
		}
		if len(a.Labels) == 0 {
			return nil, apperr.Field("alerts["+strconv.Itoa(i)+"].labels", "is empty; an alert is identified by its labels")
		}
		if ev.DedupKey == "" {
			ev.DedupKey = labelsFingerprint(a.Labels)
		}
		ev.Summary = clip(first(a.Annotations["summary"], a.Annotations["title"], n.CommonAnnotations["summary"],
			a.Labels["alertname"]+" "+a.Labels["instance"], tool+" alert"), alert.MaxSummary)
		ev.Source = clip(first(a.Labels["instance"], a.Labels["job"], n.ExternalURL, tool), alert.MaxField)
		ev.Severity = severity(first(a.Labels["severity"], a.Labels["priority"]), alert.Error)
		ev.Component = clip(first(a.Labels["component"], a.Labels["service"]), alert.MaxField)
		ev.Group = clip(a.Labels["job"], alert.MaxField)
		ev.Class = clip(a.Labels["alertname"], alert.MaxField)
		ev.Labels = a.Labels
		ev.Details = details(map[string]any{
			"tool": tool, "labels": a.Labels, "annotations": a.Annotations, "starts_at": a.StartsAt, "ends_at": a.EndsAt,
			"generator_url": a.GeneratorURL, "receiver": n.Receiver, "external_url": n.ExternalURL,
			"values": a.Values, "value_string": a.ValueString, "dashboard_url": a.DashboardURL, "panel_url": a.PanelURL,
			"silence_url": a.SilenceURL,
		})
		evs = append(evs, ev)
	}
	return evs, nil
}

// first returns the first of vs that is not blank.
func first(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// labelsFingerprint identifies an alert by its label set when the sender
// gave no fingerprint.
func labelsFingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, k := range names {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
