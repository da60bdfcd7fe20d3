package e2e

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/wardhq/ward/internal/app"
)

// fakeTwilio speaks the Messages API and keeps the SMS sent.
type fakeTwilio struct {
	*httptest.Server
	mu   sync.Mutex
	sent []url.Values
}

func (f *fakeTwilio) all() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.sent...)
}

func startTwilio(t *testing.T, sid, token string) *fakeTwilio {
	f := &fakeTwilio{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != sid || pass != token || r.URL.Path != "/2010-04-01/Accounts/"+sid+"/Messages.json" || r.ParseForm() != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":20003,"message":"Authenticate"}`)
			return
		}
		f.mu.Lock()
		f.sent = append(f.sent, r.PostForm)
		n := len(f.sent)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"sid":"SM`+strings.Repeat("0", 31)+string(rune('0'+n%10))+`","status":"queued"}`)
	}))
	t.Cleanup(f.Close)
	return f
}

// signTwilio signs a form as Twilio does.
func signTwilio(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := u
	for _, k := range keys {
		s += k + form.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var smsCodeRE = regexp.MustCompile(`Reply ([0-9]{6}) to acknowledge`)

// TestSMSPageAndReply pages by SMS through a local server that speaks
// Twilio's API and acknowledges by replying with the code, as Twilio's
// signed inbound webhook delivers it.
func TestSMSPageAndReply(t *testing.T) {
	t.Parallel()
	eachDBURL(t, smsPageAndReply)
}

func smsPageAndReply(t *testing.T, dbURL string) {
	const sid, token, phone = "AC0123456789abcdef0123456789abcdef", "twilio-test-auth-token", "+14155550123"
	tw := startTwilio(t, sid, token)
	data := t.TempDir()
	w := startWardAt(t, data, dbURL, func(e *app.Env) {
		e.Args = append(e.Args, "--paging-poll", "20ms", "--twilio-account-sid", sid, "--twilio-auth-token", token,
			"--twilio-from", "+15005550006", "--twilio-url", tw.URL)
	})
	if code, _, errs := runWardIn(t, data, dbURL, "orange lantern over quiet harbour\n", "user", "create", "--username", "dana",
		"--name", "Dana", "--email", "dana@example.org", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	var cm struct{ ID string }
	w.must(201, "POST", "/api/v1/users/dana/contact-methods", map[string]any{"kind": "sms", "address": phone}, &cm)
	eventually(t, "the verification SMS", func() bool { return len(tw.all()) == 1 })
	vcode := regexp.MustCompile(`[0-9]{6}`).FindString(tw.all()[0].Get("Body"))
	if tw.all()[0].Get("To") != phone || vcode == "" {
		t.Fatalf("verification SMS: %v", tw.all()[0])
	}
	w.must(200, "POST", "/api/v1/contact-methods/"+cm.ID+"/verify", map[string]any{"code": vcode}, nil)
	w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "p",
		"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "dana"}}}}}, nil)
	var svc struct{ ID string }
	w.must(201, "POST", "/api/v1/services", map[string]any{"name": "web", "escalation_policy": "p"}, &svc)
	var ig integrationKey
	w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "m"}, &ig)
	if c, b := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"x",
		"payload":{"summary":"Portal down","source":"web1","severity":"critical"}}`, nil); c != 202 {
		t.Fatalf("trigger: %d %s", c, b)
	}
	eventually(t, "the page by SMS", func() bool { return len(tw.all()) == 2 })
	page := tw.all()[1].Get("Body")
	m := smsCodeRE.FindStringSubmatch(page)
	if m == nil || strings.Contains(page, "Portal down") {
		t.Fatalf("page SMS: %q", page)
	}
	inc := w.alerts("service=" + svc.ID)[0].IncidentNumber

	reply := func(from, body, sig string) (int, string) {
		form := url.Values{"From": {from}, "To": {"+15005550006"}, "Body": {body}, "AccountSid": {sid}}
		if sig == "" {
			sig = signTwilio(token, w.url+"/intake/twilio/sms", form)
		}
		req, _ := http.NewRequest(http.MethodPost, w.url+"/intake/twilio/sms", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := w.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, _ := reply(phone, m[1], "forged"); c != 403 {
		t.Fatalf("an unsigned reply: %d", c)
	}
	if c, b := reply("+14155550999", m[1], ""); c != 200 || !strings.Contains(b, "did not recognise") {
		t.Fatalf("the code from another phone: %d %s", c, b)
	}
	if c, b := reply(phone, " "+m[1]+" ", ""); c != 200 || !strings.Contains(b, inc+" acknowledged.") || !strings.HasPrefix(b, "<?xml") {
		t.Fatalf("the reply: %d %s", c, b)
	}
	if c, b := reply(phone, m[1], ""); c != 200 || !strings.Contains(b, "did not recognise") {
		t.Fatalf("the code twice: %d %s", c, b)
	}
	var pg struct {
		Status         string `json:"status"`
		AcknowledgedBy string `json:"acknowledged_by"`
	}
	w.must(200, "GET", "/api/v1/incidents/"+inc+"/page", nil, &pg)
	if pg.Status != "acknowledged" || pg.AcknowledgedBy != "user:dana" {
		t.Fatalf("page: %+v", pg)
	}
	if c, b := reply(phone, m[1]+"R", ""); c != 200 || !strings.Contains(b, inc+" resolved.") {
		t.Fatalf("resolve by reply: %d %s", c, b)
	}
}
