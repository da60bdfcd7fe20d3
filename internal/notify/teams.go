package notify

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/outbound"
)

// TeamsConfig configures a Teams sender.
type TeamsConfig struct {
	URL     string        // the Workflows ("When a Teams webhook request is received") URL, a secret
	Timeout time.Duration // per request; default 10s
	// Outbound guards every connection (--outbound-allow); nil refuses
	// every loopback, private and metadata address.
	Outbound *outbound.Guard
}

// Teams posts an Adaptive Card to a Microsoft Teams channel or chat through
// a Workflows webhook.
type Teams struct {
	url  string
	http httpClient
}

// NewTeams checks cfg and returns a Teams sender.
func NewTeams(cfg TeamsConfig) (*Teams, error) {
	if _, err := checkURL("teams url", cfg.URL); err != nil {
		return nil, err
	}
	return &Teams{url: cfg.URL, http: newGuardedClient("teams", cfg.Timeout, cfg.Outbound)}, nil
}

// Send posts m as an Adaptive Card 1.4: the subject, then Render's text
// lines without the links, which become Action.OpenUrl buttons; to is
// ignored. Teams answers 200 or 202 and gives no message id.
func (t *Teams) Send(ctx context.Context, _ string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	body, err := marshalJSON(teamsCard(m))
	if err != nil {
		return Receipt{}, err
	}
	status, header, resp, err := t.http.post(ctx, t.url, "application/json", body, nil)
	if err != nil {
		return Receipt{}, err
	}
	if status != http.StatusOK && status != http.StatusAccepted {
		return Receipt{}, statusError("teams", status, header, resp)
	}
	return Receipt{Provider: "teams"}, nil
}

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     adaptiveCard `json:"content"`
}

type adaptiveCard struct {
	Schema  string           `json:"$schema"`
	Type    string           `json:"type"`
	Version string           `json:"version"`
	Body    []adaptiveText   `json:"body"`
	Actions []adaptiveAction `json:"actions,omitempty"`
}

type adaptiveText struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Wrap   bool   `json:"wrap"`
	Weight string `json:"weight,omitempty"`
	Size   string `json:"size,omitempty"`
}

type adaptiveAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

func teamsCard(m Message) teamsMessage {
	subject, text := Render(m)
	card := adaptiveCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: "1.4",
		Body:    []adaptiveText{{Type: "TextBlock", Text: subject, Wrap: true, Weight: "Bolder", Size: "Medium"}},
	}
	links := map[string]bool{}
	for _, a := range []adaptiveAction{
		{Type: "Action.OpenUrl", Title: "Open in Ward", URL: m.URL},
		{Type: "Action.OpenUrl", Title: "Acknowledge", URL: m.AckURL},
		{Type: "Action.OpenUrl", Title: "Resolve", URL: m.ResolveURL},
		{Type: "Action.OpenUrl", Title: "Escalate now", URL: m.EscalateURL},
	} {
		if a.URL != "" {
			card.Actions = append(card.Actions, a)
			links[a.URL] = true
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		_, value, _ := strings.Cut(line, ": ")
		if links[value] {
			continue
		}
		card.Body = append(card.Body, adaptiveText{Type: "TextBlock", Text: line, Wrap: true})
	}
	return teamsMessage{
		Type:        "message",
		Attachments: []teamsAttachment{{ContentType: "application/vnd.microsoft.card.adaptive", Content: card}},
	}
}
