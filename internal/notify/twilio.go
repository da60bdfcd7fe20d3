package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// TwilioConfig configures the Twilio senders.
type TwilioConfig struct {
	BaseURL    string        // default https://api.twilio.com
	AccountSID string        // "AC…"; also the basic-auth user
	AuthToken  string        // the basic-auth password
	From       string        // the Twilio number, E.164, e.g. "+15005550006"
	Timeout    time.Duration // per request; default 10s
}

// TwilioSMS sends text messages through Twilio's Messages API.
type TwilioSMS struct{ t twilio }

// TwilioVoice places calls through Twilio's Calls API that read the
// subject line aloud.
type TwilioVoice struct{ t twilio }

type twilio struct {
	cfg  TwilioConfig
	base string
	http httpClient
}

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func newTwilio(cfg TwilioConfig) (twilio, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.twilio.com"
	}
	u, err := checkURL("twilio base url", cfg.BaseURL)
	if err != nil {
		return twilio{}, err
	}
	if cfg.AccountSID == "" || strings.ContainsAny(cfg.AccountSID, "/?#% ") {
		return twilio{}, errors.New("notify: twilio account sid is required and must not contain URL characters")
	}
	if cfg.AuthToken == "" {
		return twilio{}, errors.New("notify: twilio auth token is required")
	}
	if !e164RE.MatchString(cfg.From) {
		return twilio{}, errors.New("notify: twilio from is not an E.164 number such as +15005550006")
	}
	base := strings.TrimSuffix(u.String(), "/") + "/2010-04-01/Accounts/" + cfg.AccountSID
	return twilio{cfg: cfg, base: base, http: newHTTPClient("twilio", cfg.Timeout)}, nil
}

// NewTwilioSMS checks cfg and returns a TwilioSMS sender.
func NewTwilioSMS(cfg TwilioConfig) (*TwilioSMS, error) {
	t, err := newTwilio(cfg)
	if err != nil {
		return nil, err
	}
	return &TwilioSMS{t: t}, nil
}

// NewTwilioVoice checks cfg and returns a TwilioVoice sender.
func NewTwilioVoice(cfg TwilioConfig) (*TwilioVoice, error) {
	t, err := newTwilio(cfg)
	if err != nil {
		return nil, err
	}
	return &TwilioVoice{t: t}, nil
}

// Send texts Render's body to the E.164 number to. The Receipt's ID is the
// message SID.
func (s *TwilioSMS) Send(ctx context.Context, to string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	_, text := Render(m)
	return s.t.create(ctx, "Messages.json", url.Values{"To": {to}, "From": {s.t.cfg.From}, "Body": {strings.TrimSpace(text)}})
}

// Send calls the E.164 number to and reads the subject line (or the
// verification code, digit by digit) twice. The Receipt's ID is the call
// SID.
func (v *TwilioVoice) Send(ctx context.Context, to string, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(err)
	}
	return v.t.create(ctx, "Calls.json", url.Values{"To": {to}, "From": {v.t.cfg.From}, "Twiml": {twiml(m)}})
}

// twiml is the call's script: a single <Say> repeated twice.
func twiml(m Message) string {
	say, _ := Render(m)
	if m.Kind == KindVerify {
		say = "Your Ward verification code is " + strings.Join(strings.Split(m.Code, ""), " ") + "."
	} else {
		say = strings.NewReplacer("-", " ", "SEV", "severity ").Replace(say) + ". Open Ward to respond."
	}
	var b strings.Builder
	b.WriteString(`<Response><Say loop="2">`)
	_ = xml.EscapeText(&b, []byte(say)) // a strings.Builder does not fail
	b.WriteString(`</Say></Response>`)
	return b.String()
}

// twilioResource is the part of a created resource Ward reads.
type twilioResource struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}

// twilioError is Twilio's error document
// (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions).
type twilioError struct {
	Code    json.Number `json:"code"`
	Message string      `json:"message"`
}

func (t twilio) create(ctx context.Context, resource string, form url.Values) (Receipt, error) {
	if !e164RE.MatchString(form.Get("To")) {
		return Receipt{}, Permanent(errors.New("twilio: recipient is not an E.164 number such as +15005550006"))
	}
	header := http.Header{}
	header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(t.cfg.AccountSID+":"+t.cfg.AuthToken)))
	header.Set("Accept", "application/json")
	status, respHeader, body, err := t.http.post(ctx, t.base+"/"+resource, "application/x-www-form-urlencoded", []byte(form.Encode()), header)
	if err != nil {
		return Receipt{}, err
	}
	if status/100 != 2 {
		he := statusError("twilio", status, respHeader, nil)
		var te twilioError
		if json.Unmarshal(body, &te) == nil {
			he.Code, he.Message = te.Code.String(), te.Message
		}
		return Receipt{}, he
	}
	var r twilioResource
	if err := json.Unmarshal(body, &r); err != nil || r.SID == "" {
		// Twilio took the request and may have sent it: a retry could page twice.
		return Receipt{}, Permanent(fmt.Errorf("twilio: HTTP %d answer has no sid", status))
	}
	return Receipt{Provider: "twilio", ID: r.SID, Status: r.Status}, nil
}
