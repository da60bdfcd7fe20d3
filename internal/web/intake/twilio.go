package intake

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
)

// twilioSignature is Twilio's request signature: the base64 of
// HMAC-SHA1(auth token, the full URL Twilio called followed by each POST
// parameter's name and value, sorted by name).
func twilioSignature(authToken, url string, form map[string][]string) string {
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(url)
	for _, k := range names {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// twiml answers Twilio with one SMS back to the sender.
func twiml(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(text))
	_, _ = w.Write([]byte(xml.Header + "<Response><Message>" + esc.String() + "</Message></Response>"))
}

// smsReply is POST /intake/twilio/sms: Twilio's webhook for SMS sent to
// Ward's number. A reply with a page's code acknowledges or resolves it.
// The request must carry Twilio's signature made with Ward's auth token;
// the answer names only the incident number.
func (h handler) smsReply(w http.ResponseWriter, r *http.Request) {
	if h.TwilioAuthToken == "" || h.Pager == nil {
		http.Error(w, "SMS replies are not configured on this Ward server", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the body is not a form", http.StatusBadRequest)
		return
	}
	want := twilioSignature(h.TwilioAuthToken, h.PublicURL+"/intake/twilio/sms", r.PostForm)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Twilio-Signature"))) {
		http.Error(w, "the request is not signed by Twilio with this server's auth token", http.StatusForbidden)
		return
	}
	li, err := h.Pager.UseSMSReply(r.Context(), r.PostForm.Get("From"), r.PostForm.Get("Body"))
	if err != nil {
		if h.internal(r.Context(), err) {
			twiml(w, "Ward could not do that; try again or use the link.")
			return
		}
		twiml(w, "Ward did not recognise that reply: the code may be used, expired, or not yours.")
		return
	}
	done := map[string]string{"acknowledge": "acknowledged", "resolve": "resolved"}[li.Action]
	twiml(w, li.Incident+" "+done+".")
}
