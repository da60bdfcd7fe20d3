package integration

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// SNSMessage is an Amazon SNS HTTP(S) delivery
// (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html).
type SNSMessage struct {
	Type           string `json:"Type"`
	MessageID      string `json:"MessageId"`
	TopicArn       string `json:"TopicArn"`
	Subject        string `json:"Subject"`
	Message        string `json:"Message"`
	Timestamp      string `json:"Timestamp"`
	SubscribeURL   string `json:"SubscribeURL"`
	Token          string `json:"Token"`
	SigningCertURL string `json:"SigningCertURL"`
}

// The SNS message types.
const (
	SNSSubscriptionConfirmation = "SubscriptionConfirmation"
	SNSNotification             = "Notification"
	SNSUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// cloudWatchAlarm is the Message of an SNS notification from a CloudWatch
// alarm.
type cloudWatchAlarm struct {
	AlarmName        string          `json:"AlarmName"`
	AlarmDescription string          `json:"AlarmDescription"`
	AWSAccountID     string          `json:"AWSAccountId"`
	NewStateValue    string          `json:"NewStateValue"`
	NewStateReason   string          `json:"NewStateReason"`
	StateChangeTime  string          `json:"StateChangeTime"`
	Region           string          `json:"Region"`
	AlarmArn         string          `json:"AlarmArn"`
	OldStateValue    string          `json:"OldStateValue"`
	Trigger          json.RawMessage `json:"Trigger"`
}

// ParseSNS reads an SNS delivery. A subscription confirmation returns no
// events (the caller confirms it by visiting SubscribeURL, see
// SNSConfirmURL); a notification from a CloudWatch alarm becomes a trigger
// (ALARM) or resolve (OK) keyed by the alarm; INSUFFICIENT_DATA is
// ignored; any other notification is a trigger keyed by its message id.
func ParseSNS(body []byte) (SNSMessage, []alert.Event, error) {
	var m SNSMessage
	if err := decode(body, &m); err != nil {
		return SNSMessage{}, nil, err
	}
	switch m.Type {
	case SNSSubscriptionConfirmation, SNSUnsubscribeConfirmation:
		return m, nil, nil
	case SNSNotification:
	default:
		return m, nil, apperr.Field("Type", "%q is not an SNS message type Ward handles", m.Type)
	}
	var cw cloudWatchAlarm
	if json.Unmarshal([]byte(m.Message), &cw) != nil || cw.AlarmName == "" || cw.NewStateValue == "" {
		ev := alert.Event{Action: alert.Trigger, DedupKey: m.MessageID, Summary: clip(first(m.Subject, "SNS notification from "+m.TopicArn), alert.MaxSummary),
			Source: clip(first(m.TopicArn, "sns"), alert.MaxField), Severity: alert.Error,
			Details: details(map[string]any{"tool": "sns", "topic_arn": m.TopicArn, "subject": m.Subject, "message": m.Message, "timestamp": m.Timestamp})}
		return m, []alert.Event{ev}, nil
	}
	ev := alert.Event{DedupKey: first(cw.AlarmArn, cw.AlarmName), Source: clip(first(cw.Region+" "+cw.AWSAccountID, "cloudwatch"), alert.MaxField),
		Summary: clip(first(m.Subject, cw.AlarmName+": "+cw.NewStateReason), alert.MaxSummary), Severity: alert.Error,
		Component: clip(cw.AlarmName, alert.MaxField), Class: "cloudwatch_alarm",
		Details: details(map[string]any{"tool": "cloudwatch", "alarm_name": cw.AlarmName, "alarm_description": cw.AlarmDescription,
			"new_state": cw.NewStateValue, "old_state": cw.OldStateValue, "reason": cw.NewStateReason, "state_change_time": cw.StateChangeTime,
			"region": cw.Region, "account": cw.AWSAccountID, "alarm_arn": cw.AlarmArn, "trigger": cw.Trigger, "topic_arn": m.TopicArn})}
	switch cw.NewStateValue {
	case "ALARM":
		ev.Action = alert.Trigger
	case "OK":
		ev.Action = alert.Resolve
	default:
		return m, nil, nil
	}
	return m, []alert.Event{ev}, nil
}

// SNSConfirmURL checks a subscription confirmation's SubscribeURL before
// Ward visits it: HTTPS, on a host that ends with one of hostSuffixes
// (".amazonaws.com" in production), so a forged confirmation cannot make
// Ward request an arbitrary address.
func SNSConfirmURL(m SNSMessage, hostSuffixes []string) (string, error) {
	u, err := url.Parse(m.SubscribeURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", apperr.Field("SubscribeURL", "is not an https URL")
	}
	host := strings.ToLower(u.Hostname())
	for _, s := range hostSuffixes {
		if strings.HasSuffix(host, strings.ToLower(s)) {
			return u.String(), nil
		}
	}
	return "", apperr.Field("SubscribeURL", "is not on an SNS host (%s)", strings.Join(hostSuffixes, ", "))
}
