package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/testwait"
)

// pageLog is a webhook receiver on 127.0.0.1 that keeps every page it
// gets, re-sends included.
type pageLog struct {
	*httptest.Server
	mu    sync.Mutex
	pages []notify.WebhookPayload
	at    []time.Time
	delay time.Duration // how long it takes to answer
}

func startPageLog(t *testing.T, delay time.Duration) *pageLog {
	l := &pageLog{delay: delay}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		var p notify.WebhookPayload
		if err == nil {
			err = json.Unmarshal(raw, &p)
		}
		if err != nil || p.ID != r.Header.Get(notify.HeaderNotificationID) {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		l.mu.Lock()
		l.pages = append(l.pages, p)
		l.at = append(l.at, time.Now())
		l.mu.Unlock()
		// A slow receiver, so that a node always has pages on their way.
		time.Sleep(l.delay)
	}))
	t.Cleanup(l.Close)
	return l
}

// wardProc is a `ward serve` process.
type wardProc struct {
	cmd  *exec.Cmd
	base string
}

// startNode starts `ward serve` on data and dbURL, allowed to deliver to
// loopback receivers, with the public URL that every node shares.
func startNode(t *testing.T, bin, data, dbURL string) *wardProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data", data, "--db", dbURL, "--log-level", "error",
		"--outbound-allow", "127.0.0.1/32", "--public-url", "https://ward.example")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "serving at "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return &wardProc{cmd: cmd, base: after}
		}
	}
	t.Fatal("server printed no address")
	return nil
}

// TestKillNodeDuringAlertStorm runs two Ward nodes on one PostgreSQL
// database, sends a burst of alerts (each its own incident) to both as a
// load balancer would, and kills one node (SIGKILL) in the middle. Every
// incident is paged, by exactly one notification: a message the dead node
// had on its way when it died may reach the receiver twice, but then as
// the same message (the same notification id, the same links), which the
// receiver drops. The dead node's messages move to the live one within its
// lease, seconds after the kill.
func TestKillNodeDuringAlertStorm(t *testing.T) {
	t.Parallel()
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	bin, err := buildWard()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if code, out, errs := runWard(t, data, url, "migrate"); code != 0 {
		t.Fatalf("migrate: %s %s", out, errs)
	}
	code, out, errs := runWard(t, data, url, "token", "create", "--name", "failover")
	if code != 0 {
		t.Fatalf("token: %s", errs)
	}
	token := strings.TrimSpace(out)
	if code, _, errs := runWardIn(t, data, url, "orange lantern over quiet harbour\n", "user", "create", "--username", "oncall",
		"--name", "On call", "--email", "oncall@example.org", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	hook := startPageLog(t, 200*time.Millisecond)
	nodes := []*wardProc{startNode(t, bin, data, url), startNode(t, bin, data, url)}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 32}}
	call := func(n *wardProc, path string, body any, out any) (int, error) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", n.base+path, strings.NewReader(string(raw)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if out != nil {
			err = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode, err
	}
	must := func(path string, body any, out any) {
		t.Helper()
		if code, err := call(nodes[0], path, body, out); code != http.StatusCreated || err != nil {
			t.Fatalf("POST %s: %d %v", path, code, err)
		}
	}
	must("/api/v1/users/oncall/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/oncall"}, nil)
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	testwait.Until(t, "the webhook to be verified", 20*time.Second, func() bool {
		var n int
		err := d.R.QueryRow(`SELECT count(*) FROM contact_methods WHERE verified_at IS NOT NULL`).Scan(&n)
		return err == nil && n == 1
	})
	must("/api/v1/escalation-policies", map[string]any{"name": "storm",
		"steps": []map[string]any{{"delay_minutes": 60, "targets": []map[string]string{{"type": "user", "id": "oncall"}}}}}, nil)
	var svc struct{ ID string }
	must("/api/v1/services", map[string]any{"name": "storm", "group_by": "alert", "escalation_policy": "storm"}, &svc)
	var ig integrationKey
	must("/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)

	// 600 triggers at about 200 a second, to the victim until it dies
	// after the 200th 202, at a moment it has pages on their way (it is
	// woken by each trigger, so it is the one sending their pages, more
	// slowly than they come; on a loaded machine it may not have claimed
	// any yet at the 200th), then to the other; a trigger the dead node does
	// not answer goes to the other, as a load balancer would send it. The
	// victim started last, so its paging lease is the newer.
	testwait.Until(t, "both nodes' paging leases", 20*time.Second, func() bool {
		var n int
		err := d.R.QueryRow(`SELECT count(*) FROM paging_nodes`).Scan(&n)
		return err == nil && n == 2
	})
	var victim string
	if err := d.R.QueryRow(`SELECT id FROM paging_nodes ORDER BY started_at DESC LIMIT 1`).Scan(&victim); err != nil {
		t.Fatal(err)
	}
	victimSending := func() bool {
		var n int
		err := d.R.QueryRow(`SELECT count(*) FROM notifications WHERE status = 'sending' AND claimed_by = $1`, victim).Scan(&n)
		return err == nil && n > 0
	}
	const alerts, rate = 600, 200
	var accepted atomic.Int64
	var killedAt atomic.Int64
	var kill sync.Once
	var next atomic.Int64
	var failed atomic.Int64
	startAt := time.Now()
	parallel(32, func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= alerts || failed.Load() > 0 {
				return
			}
			time.Sleep(time.Until(startAt.Add(time.Duration(i) * time.Second / rate)))
			ev := map[string]any{"routing_key": ig.Key, "event_action": "trigger", "dedup_key": fmt.Sprintf("storm-%d", i),
				"payload": map[string]any{"summary": "queue depth over budget", "source": fmt.Sprintf("host-%d", i), "severity": "error"}}
			n := nodes[1]
			if killedAt.Load() != 0 {
				n = nodes[0]
			}
			code, err := call(n, "/v2/enqueue", ev, nil)
			if err != nil && killedAt.Load() != 0 {
				code, err = call(nodes[0], "/v2/enqueue", ev, nil)
			}
			if code != http.StatusAccepted || err != nil {
				failed.Add(1)
				t.Errorf("trigger %d: %d %v", i, code, err)
				return
			}
			if accepted.Add(1) >= 200 && killedAt.Load() == 0 && victimSending() {
				kill.Do(func() {
					killedAt.Store(time.Now().UnixNano())
					_ = nodes[1].cmd.Process.Signal(syscall.SIGKILL)
				})
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	sentAll := time.Now()
	var incidents int
	if err := d.R.QueryRow(`SELECT count(*) FROM pages WHERE service_id = $1`, svc.ID).Scan(&incidents); err != nil {
		t.Fatal(err)
	}
	if incidents != alerts {
		t.Fatalf("%d pages for %d distinct triggers", incidents, alerts)
	}
	// Every incident's page arrives, and every page is recorded as sent
	// (those the dead node was sending once its lease lapsed, 10s after
	// it died, and the live node sent them again), within 30s of the last
	// trigger.
	var byIncident map[string]map[string]notify.WebhookPayload // incident number → notification id → page
	var copies map[string]int                                  // notification id → arrivals
	var last time.Time
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for deadline := sentAll.Add(30 * time.Second); ; <-tick.C {
		hook.mu.Lock()
		byIncident, copies = map[string]map[string]notify.WebhookPayload{}, map[string]int{}
		for i, p := range hook.pages {
			if p.Kind != "page" {
				continue
			}
			if byIncident[p.Incident] == nil {
				byIncident[p.Incident] = map[string]notify.WebhookPayload{}
			}
			if prev, ok := byIncident[p.Incident][p.ID]; ok && (prev.AckURL != p.AckURL || prev.ResolveURL != p.ResolveURL) {
				hook.mu.Unlock()
				t.Fatalf("notification %s arrived twice with different links:\n%+v\n%+v", p.ID, prev, p)
			}
			byIncident[p.Incident][p.ID] = p
			copies[p.ID]++
			last = hook.at[i]
		}
		hook.mu.Unlock()
		var unsent int
		if err := d.R.QueryRow(`SELECT count(*) FROM notifications WHERE kind = 'page' AND status <> 'sent'`).Scan(&unsent); err != nil {
			t.Fatal(err)
		}
		if len(byIncident) == alerts && unsent == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 30s of the last trigger, %d of %d incidents paged, %d pages not recorded as sent", len(byIncident), alerts,
				unsent)
		}
	}
	twice := 0
	for inc, ids := range byIncident {
		if len(ids) != 1 {
			t.Errorf("incident %s paged by %d notifications", inc, len(ids))
		}
		for id := range ids {
			if copies[id] > 1 {
				twice++
			}
		}
	}
	// The dead node had pages on their way: the live one took them over.
	var takenOver int
	if err := d.R.QueryRow(`SELECT count(*) FROM notifications WHERE kind = 'page' AND attempts > 1`).Scan(&takenOver); err != nil {
		t.Fatal(err)
	}
	if takenOver == 0 {
		t.Error("no page was taken over from the dead node: the kill found it sending nothing")
	}
	if since := last.Sub(time.Unix(0, killedAt.Load())); since > 20*time.Second {
		t.Errorf("the last page arrived %s after the kill", since)
	}
	t.Logf("%d incidents, each paged once; %d pages taken over from the dead node, %d of them arrived twice as the same message "+
		"(on their way at the kill); last page %s after the kill, %s after the last trigger", alerts, takenOver, twice,
		last.Sub(time.Unix(0, killedAt.Load())).Round(time.Millisecond), last.Sub(sentAll).Round(time.Millisecond))
}
