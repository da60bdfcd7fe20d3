package paging

import (
	"context"
	"errors"

	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
)

// Providers are the message providers a server is configured with; nil
// means the channel is not set up, and its messages fail (permanently,
// and on the incident's timeline).
type Providers struct {
	Email    *notify.EmailConfig
	Twilio   *notify.TwilioConfig
	SlackBot *notify.SlackBotConfig
	Clock    clock.Clock
	// Outbound guards every connection to a URL a person typed (Slack
	// incoming webhooks, Teams, webhooks); nil refuses every loopback,
	// private and metadata address. The providers above are the
	// administrator's own and go without it (docs/SECURITY.md).
	Outbound *outbound.Guard
}

type providers struct {
	p        Providers
	email    *notify.Email
	sms      *notify.TwilioSMS
	voice    *notify.TwilioVoice
	slackBot *notify.SlackBot
}

// NewChannels returns the Channels that send through p.
func NewChannels(p Providers) (Channels, error) {
	c := &providers{p: p}
	var err error
	if p.Email != nil {
		cfg := *p.Email
		cfg.Clock = p.Clock
		if c.email, err = notify.NewEmail(cfg); err != nil {
			return nil, err
		}
	}
	if p.Twilio != nil {
		if c.sms, err = notify.NewTwilioSMS(*p.Twilio); err != nil {
			return nil, err
		}
		if c.voice, err = notify.NewTwilioVoice(*p.Twilio); err != nil {
			return nil, err
		}
	}
	if p.SlackBot != nil {
		if c.slackBot, err = notify.NewSlackBot(*p.SlackBot); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func notConfigured(what string) error {
	return notify.Permanent(errors.New(what + " is not configured on this Ward server"))
}

// Send sends m to to over the channel of its kind.
func (c *providers) Send(ctx context.Context, to Destination, m notify.Message) (notify.Receipt, error) {
	var s notify.Sender
	var err error
	switch to.Kind {
	case ContactEmail:
		if c.email == nil {
			return notify.Receipt{}, notConfigured("email (SMTP)")
		}
		s = c.email
	case ContactSMS:
		if c.sms == nil {
			return notify.Receipt{}, notConfigured("SMS (Twilio)")
		}
		s = c.sms
	case ContactVoice:
		if c.voice == nil {
			return notify.Receipt{}, notConfigured("voice (Twilio)")
		}
		s = c.voice
	case ContactSlack:
		if slackTarget.MatchString(to.Address) {
			if c.slackBot == nil {
				return notify.Receipt{}, notConfigured("the Slack bot token")
			}
			s = c.slackBot
		} else {
			s, err = notify.NewSlackWebhook(notify.SlackWebhookConfig{URL: to.Address, Outbound: c.p.Outbound})
		}
	case ContactTeams:
		s, err = notify.NewTeams(notify.TeamsConfig{URL: to.Address, Outbound: c.p.Outbound})
	case ContactWebhook:
		s, err = notify.NewWebhook(notify.WebhookConfig{URL: to.Address, Secret: to.Secret, Clock: c.p.Clock, Outbound: c.p.Outbound})
	default:
		return notify.Receipt{}, notify.Permanent(errors.New("unknown contact kind " + string(to.Kind)))
	}
	if err != nil {
		return notify.Receipt{}, notify.Permanent(err)
	}
	return s.Send(ctx, to.Address, m)
}
