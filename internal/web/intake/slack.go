package intake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/paging"
)

// SlackSignature is Slack's request signature: "v0=" and the hex of
// HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + body).
func SlackSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// slackActions maps a button's action_id to the page action it asks for.
var slackActions = map[string]string{
	notify.SlackActionAcknowledge: "acknowledge", notify.SlackActionResolve: "resolve", notify.SlackActionEscalate: "escalate",
}

// slackPayload is what Ward reads of a block_actions interaction.
type slackPayload struct {
	Type string `json:"type"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		MessageTS string `json:"message_ts"`
		ChannelID string `json:"channel_id"`
	} `json:"container"`
	Actions []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
}

// slackInteraction is POST /intake/slack/interactions, the Slack app's
// interactivity request URL. The request must carry Slack's signature
// made with the app's signing secret over a timestamp at most five
// minutes old, and must not have been taken before. A press of a page
// message's button acts as the Ward person the presser is (by a verified
// Slack contact method), then the message is rewritten to say who did
// what and when, without the buttons spent; a press Ward refuses is
// answered to the presser alone.
func (h handler) slackInteraction(w http.ResponseWriter, r *http.Request) {
	if h.SlackSigningSecret == "" || h.Slack == nil || h.Pager == nil {
		http.Error(w, "the Slack app is not configured on this Ward server", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "the body is too large", http.StatusRequestEntityTooLarge)
		return
	}
	ts := r.Header.Get("X-Slack-Request-Timestamp")
	sig := r.Header.Get("X-Slack-Signature")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		http.Error(w, "the request is not signed by Slack", http.StatusUnauthorized)
		return
	}
	if age := h.Pager.Now().Sub(time.Unix(secs, 0)); age > paging.SlackReplayWindow || age < -paging.SlackReplayWindow {
		http.Error(w, "the request's timestamp is more than five minutes away from this server's clock", http.StatusUnauthorized)
		return
	}
	if !hmac.Equal([]byte(SlackSignature(h.SlackSigningSecret, ts, body)), []byte(sig)) {
		http.Error(w, "the request is not signed by Slack with this server's signing secret", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "the body is not a form", http.StatusBadRequest)
		return
	}
	var p slackPayload
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil {
		http.Error(w, "the payload is not JSON", http.StatusBadRequest)
		return
	}
	if p.Type != "block_actions" || len(p.Actions) != 1 {
		w.WriteHeader(http.StatusOK)
		return
	}
	action, ok := slackActions[p.Actions[0].ActionID]
	if !ok {
		// The Open button only opens its link.
		w.WriteHeader(http.StatusOK)
		return
	}
	channel := p.Container.ChannelID
	if channel == "" {
		channel = p.Channel.ID
	}
	ctx := r.Context()
	done, err := h.Pager.UseSlackPress(ctx, paging.SlackPress{User: p.User.ID, Notification: p.Actions[0].Value,
		Action: action, Signature: sig})
	if errors.Is(err, paging.ErrSlackReplay) {
		http.Error(w, "this request was taken already", http.StatusConflict)
		return
	}
	if err != nil {
		text := "Ward could not do that; try again or use Open in Ward."
		if !h.internal(ctx, err) {
			text = safeMessage(err)
		}
		h.slackSay(ctx, "slack_ephemeral_failed", h.Slack.Ephemeral(ctx, channel, p.User.ID, text))
		w.WriteHeader(http.StatusOK)
		return
	}
	verb := map[string]string{"acknowledge": "Acknowledged", "resolve": "Resolved", "escalate": "Escalated"}[done.Action]
	note := verb + " by " + done.Username + " at " + done.At.UTC().Format("2 Jan 2006 15:04 MST") + " (from Slack)."
	h.slackSay(ctx, "slack_update_failed", h.Slack.Update(ctx, channel, p.Container.MessageTS, done.Message, done.Actions, note))
	w.WriteHeader(http.StatusOK)
}

// slackSay logs a failed call to Slack's API, without what Slack said
// (it may quote the message).
func (h handler) slackSay(ctx context.Context, event string, err error) {
	if err == nil {
		return
	}
	msg := "error"
	var he *notify.HTTPError
	if errors.As(err, &he) {
		msg = he.Code
	} else if e, ok := apperr.As(err); ok {
		msg = string(e.Code)
	}
	h.Log.WarnContext(ctx, event, "error", strings.TrimSpace(msg))
}
