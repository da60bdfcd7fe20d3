package intake_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/outbound"
	"github.com/wardhq/ward/internal/web/intake"
)

// TestSNSSubscription confirms an SNS subscription by visiting its
// SubscribeURL, refuses one that points anywhere else or redirects to an
// address the outbound guard refuses, refuses the local server itself
// when it is not allow-listed, and turns a CloudWatch alarm into an alert.
func TestSNSSubscription(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		var confirmed atomic.Int32
		sns := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/confirm" && r.URL.Query().Get("Token") == "tok-1" {
				confirmed.Add(1)
				return
			}
			if r.URL.Path == "/redirect" {
				http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
				return
			}
			http.Error(w, "unknown token", http.StatusNotFound)
		}))
		defer sns.Close()

		now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
		kr := dbtest.Keyring(t, d, now)
		clk := clock.NewFake(now)
		in := alert.NewIntake(d, clk, kr, incident.NewService(d, clk, kr))
		ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "t", Name: "admin", Role: authz.RoleAdmin})
		svc, err := in.CreateService(ctx, alert.ServiceInput{Name: "aws"})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := in.CreateIntegration(ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindSNS, Name: "cloudwatch"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Without an allow-list, the local server is refused before Ward
		// connects to it.
		strict := http.NewServeMux()
		intake.Register(strict, intake.Deps{Alerts: in, Log: slog.New(slog.DiscardHandler), SNSHosts: []string{"127.0.0.1"}})
		// An administrator allow-lists it (--outbound-allow 127.0.0.1/32).
		allow, err := outbound.ParseAllow([]string{"127.0.0.1/32"})
		if err != nil {
			t.Fatal(err)
		}
		guard := outbound.New(allow, nil)
		mux := http.NewServeMux()
		intake.Register(mux, intake.Deps{Alerts: in, Log: slog.New(slog.DiscardHandler), SNSHosts: []string{"127.0.0.1"},
			Outbound: guard, SNSClient: guard.Client(10*time.Second, sns.Client().Transport.(*http.Transport).TLSClientConfig)})
		sendTo := func(mux *http.ServeMux, body string) (int, string) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/intake/sns/"+key, strings.NewReader(body)))
			raw, _ := io.ReadAll(rec.Body)
			return rec.Code, string(raw)
		}
		send := func(body string) (int, string) { return sendTo(mux, body) }

		confirm := `{"Type":"SubscriptionConfirmation","MessageId":"m1","Token":"tok-1","TopicArn":"arn:aws:sns:us-east-1:1:ward",
			"Message":"You have chosen to subscribe","SubscribeURL":"` + sns.URL + `/confirm?Token=tok-1"}`
		if code, body := sendTo(strict, confirm); code != 400 || !strings.Contains(body, outbound.Flag) || confirmed.Load() != 0 {
			t.Fatalf("confirmation to 127.0.0.1 not allow-listed: %d %s, confirmed %d times", code, body, confirmed.Load())
		}
		if code, body := send(confirm); code != 202 || !strings.Contains(body, `"events":0`) || confirmed.Load() != 1 {
			t.Fatalf("confirmation: %d %s, confirmed %d times", code, body, confirmed.Load())
		}
		// Every hop of a redirect goes through the guard: 127.0.0.2 is not
		// allow-listed (loopback only, so nothing could leave the machine
		// were the guard broken).
		port := sns.URL[strings.LastIndex(sns.URL, ":"):]
		for _, to := range []string{"https://127.0.0.2" + port + "/confirm?Token=tok-1", "http://[::ffff:127.0.0.2]" + port + "/confirm"} {
			redirected := strings.Replace(confirm, sns.URL+"/confirm?Token=tok-1", sns.URL+"/redirect?to="+url.QueryEscape(to), 1)
			if code, body := send(redirected); code != 400 || !strings.Contains(body, outbound.Flag) {
				t.Errorf("confirmation redirected to %s: %d %s", to, code, body)
			}
		}
		for _, u := range []string{"https://evil.example/confirm?Token=tok-1", "http://127.0.0.1/confirm", sns.URL + "/confirm?Token=wrong"} {
			forged := strings.Replace(confirm, sns.URL+"/confirm?Token=tok-1", u, 1)
			if code, body := send(forged); code != 400 || !strings.Contains(body, "SubscribeURL") && !strings.Contains(body, "subscription") {
				t.Errorf("confirmation to %s: %d %s", u, code, body)
			}
		}
		if confirmed.Load() != 1 {
			t.Fatalf("forged confirmations reached the SNS server: %d", confirmed.Load())
		}

		alarm := `{"Type":"Notification","MessageId":"m2","TopicArn":"arn:aws:sns:us-east-1:1:ward","Subject":"ALARM: db-cpu",
			"Message":"{\"AlarmName\":\"db-cpu\",\"NewStateValue\":\"ALARM\",\"NewStateReason\":\"CPU > 90\",\"Region\":\"us-east-1\",\"AWSAccountId\":\"1\",\"AlarmArn\":\"arn:aws:cloudwatch:us-east-1:1:alarm:db-cpu\"}"}`
		if code, body := send(alarm); code != 202 || !strings.Contains(body, `"new":1`) {
			t.Fatalf("alarm: %d %s", code, body)
		}
		ok := strings.Replace(strings.Replace(alarm, `\"ALARM\"`, `\"OK\"`, 1), "m2", "m3", 1)
		if code, body := send(ok); code != 202 || !strings.Contains(body, `"resolved":1`) {
			t.Fatalf("alarm OK: %d %s", code, body)
		}
	})
}

// TestSNSConfirmationLogsNoText confirms a subscription whose topic ARN,
// message and token hold fake PHI (anyone holding the key may send them)
// and finds the confirmation in the debug log without any of it.
func TestSNSConfirmationLogsNoText(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		sns := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer sns.Close()
		now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
		kr := dbtest.Keyring(t, d, now)
		clk := clock.NewFake(now)
		in := alert.NewIntake(d, clk, kr, incident.NewService(d, clk, kr))
		ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "t", Name: "admin", Role: authz.RoleAdmin})
		svc, err := in.CreateService(ctx, alert.ServiceInput{Name: "aws"})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := in.CreateIntegration(ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindSNS, Name: "cloudwatch"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		allow, err := outbound.ParseAllow([]string{"127.0.0.1/32"})
		if err != nil {
			t.Fatal(err)
		}
		guard := outbound.New(allow, nil)
		var logs bytes.Buffer
		mux := http.NewServeMux()
		intake.Register(mux, intake.Deps{Alerts: in, Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			SNSHosts: []string{"127.0.0.1"}, Outbound: guard,
			SNSClient: guard.Client(10*time.Second, sns.Client().Transport.(*http.Transport).TLSClientConfig)})
		const phi = "Zebediah-Quillfeather"
		confirm := `{"Type":"SubscriptionConfirmation","MessageId":"m-` + phi + `","Token":"tok-` + phi + `",
			"TopicArn":"arn:aws:sns:us-east-1:1:` + phi + `","Message":"subscribe ` + phi + `","SubscribeURL":"` + sns.URL + `/confirm"}`
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/intake/sns/"+key, strings.NewReader(confirm)))
		if rec.Code != http.StatusAccepted || !strings.Contains(logs.String(), "sns_subscription_confirmed") {
			t.Fatalf("confirmation: %d %s; log %s", rec.Code, rec.Body, logs.String())
		}
		if strings.Contains(logs.String(), "Quillfeather") {
			t.Errorf("the confirmation's text is in the log: %s", logs.String())
		}
	})
}
