package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/testwait"
)

// The failover test's timings. Every duty must be done by the survivor
// within failoverDeadline of the kill; docs/OPERATIONS.md (High
// availability) states the worst cases these stand for.
const (
	// failoverPagingPoll is the nodes' --paging-poll: the escalator and the
	// heartbeat check look this often, the SLA and reminder checks ten
	// times less often.
	failoverPagingPoll = 200 * time.Millisecond
	// failoverBackupEvery is the nodes' --backup-every; each node looks
	// whether a backup is due every tenth of it (at least every second).
	failoverBackupEvery = 10 * time.Second
	// failoverCheckpointEvery is the nodes' --audit-checkpoint-interval:
	// a checkpoint is signed this long after the last once the trail has
	// grown.
	failoverCheckpointEvery = 2 * time.Second
	// failoverArmLead is how long after the duties are armed they fall due:
	// the node is killed in between, so only the survivor can do them.
	failoverArmLead = 3 * time.Second
	// failoverDeadline bounds the wait after the kill. River's leader
	// lease (15 s after its last renewal, renewed every 5 s), the other
	// node's next election attempt (every 5 to 6 s) and the staggered start
	// of River's maintenance services on the new leader make the longest
	// expected wait about 30 s.
	failoverDeadline = 50 * time.Second
)

// haNode is one `ward serve` process of the failover test.
type haNode struct {
	*ward
	cmd      *exec.Cmd
	clientID string // its River client's id, from its log
}

// failover is the failover test's world: two nodes on one PostgreSQL
// database, the local webhook receiver every contact method points at, and
// what is known at the kill.
type failover struct {
	t         *testing.T
	bin       string
	dbURL     string
	d         *db.DB // the shared database: arming due times, reading River's tables
	hook      *hookReceiver
	keyFile   string // the master key both nodes share
	backupKey string
	backupDir string
	token     string

	survivor  *haNode
	killedAt  time.Time
	lastJob   int64 // the highest River job id at the kill
	auditSeq  int64 // the audit trail's last entry at the kill
	logAtKill int   // how much the survivor had logged at the kill
}

// periodicDuty is one piece of work Ward does on a timer, with no request
// to prompt it: how the test sets it up while both nodes run, makes it fall
// due after the kill, and sees the survivor do it.
type periodicDuty struct {
	name string
	// runs says where the duty runs: on every node, or on one at a time.
	runs string
	// prepare sets the duty up through the API while both nodes run; nil
	// when there is nothing to set up.
	prepare func(f *failover)
	// arm makes the duty fall due at at, which comes after the kill. Nil
	// for the duties the failover itself makes due: a new River leader runs
	// the housekeeping jobs as it takes over, and a backup falls due
	// --backup-every after the last.
	arm func(f *failover, at time.Time)
	// due, for a duty that is not armed, is when it fell due, for the
	// log; nil when the failover itself makes it due.
	due func(f *failover) time.Time
	// done reports whether the survivor has done the duty since the kill.
	done func(f *failover) bool
	// once, when set, fails the test if the duty was done twice.
	once func(f *failover)
}

// TestFailoverOfPeriodicWork runs two `ward serve` processes on one
// PostgreSQL database, sets up every periodic duty, makes each fall due
// just after the kill, kills (SIGKILL) the node doing the one-node work
// (started first, it is the River leader, made the first scheduled backup
// and holds the SIEM destination), and shows the survivor do every duty
// within failoverDeadline, once where it must be done once.
// The measured delays are logged; docs/OPERATIONS.md records them.
func TestFailoverOfPeriodicWork(t *testing.T) {
	t.Parallel()
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	bin, err := buildWard()
	if err != nil {
		t.Fatal(err)
	}
	f := newFailover(t, bin, url)
	duties := failoverDuties()

	// The first node alone: it becomes the River leader, runs the
	// housekeeping jobs, makes the first scheduled backup and takes the
	// SIEM destination.
	first := f.start("first")
	f.waitFor("the first node to lead River", 30*time.Second, func() bool { return f.leader() == first.clientID })
	for _, kind := range []string{"audit_verify", "retention_purge"} {
		f.waitFor("the first node's "+kind, 30*time.Second, func() bool { return f.jobsDone(kind, first.clientID, 0) > 0 })
	}
	f.waitFor("the first node's scheduled backup", 30*time.Second, func() bool { return len(backupsMade(first.logs.String())) > 0 })
	f.waitFor("the first node's forwarding to the SIEM", 30*time.Second, func() bool { return f.siemSeq() > 0 })
	second := f.start("second")
	f.survivor = second

	for _, d := range duties {
		if d.prepare != nil {
			d.prepare(f)
		}
	}
	if f.leader() != first.clientID {
		t.Fatalf("River's leader moved to %q before the kill", f.leader())
	}
	if err := f.d.R.QueryRow(`SELECT coalesce(max(id), 0) FROM river_job`).Scan(&f.lastJob); err != nil {
		t.Fatal(err)
	}
	if err := f.d.R.QueryRow(`SELECT coalesce(max(seq), 0) FROM audit_log`).Scan(&f.auditSeq); err != nil {
		t.Fatal(err)
	}
	f.logAtKill = len(second.logs.String())
	at := time.Now().Add(failoverArmLead)
	for _, d := range duties {
		if d.arm != nil {
			d.arm(f, at)
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	f.killedAt = time.Now()
	if !f.killedAt.Before(at) {
		t.Fatalf("the kill came %s after the duties fell due; raise failoverArmLead", f.killedAt.Sub(at))
	}

	doneAt := map[string]time.Duration{}
	var leaderAt time.Duration
	deadline := f.killedAt.Add(failoverDeadline)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ; len(doneAt) < len(duties) && time.Now().Before(deadline); <-tick.C {
		if leaderAt == 0 && f.leader() == second.clientID {
			leaderAt = time.Since(f.killedAt)
		}
		for _, d := range duties {
			if _, ok := doneAt[d.name]; !ok && d.done(f) {
				doneAt[d.name] = time.Since(f.killedAt)
			}
		}
	}
	var missing []string
	for _, d := range duties {
		if _, ok := doneAt[d.name]; !ok {
			missing = append(missing, d.name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("not done by the survivor within %s of the kill: %s\nsurvivor's log:\n%s", failoverDeadline,
			strings.Join(missing, ", "), tail(second.logs.String(), 4000))
	}
	t.Logf("River leadership moved to the survivor %.1fs after the kill", leaderAt.Seconds())
	for _, d := range duties {
		after := doneAt[d.name]
		due := "falls due at the failover"
		switch {
		case d.arm != nil:
			due = fmt.Sprintf("%.1fs after it fell due", (after - at.Sub(f.killedAt)).Seconds())
		case d.due != nil && d.due(f).Before(f.killedAt):
			due = "already due at the kill"
		case d.due != nil:
			due = fmt.Sprintf("%.1fs after it fell due", (after - d.due(f).Sub(f.killedAt)).Seconds())
		}
		t.Logf("%-24s runs on %-12s done by the survivor %5.1fs after the kill (%s)", d.name, d.runs, after.Seconds(), due)
		if d.once != nil {
			d.once(f)
		}
	}
}

// failoverDuties are the periodic duties the failover test covers, one
// entry each. A duty added to Ward gets an entry here: what to set up, how
// to make it fall due, and how to see the survivor do it (a message at the
// webhook receiver, a line in the survivor's log after logAtKill, rows
// after lastJob or auditSeq); its flags go in (*failover).start.
func failoverDuties() []periodicDuty {
	var (
		paymentsID, heartbeatSvc, slaIncident, breachIncident string
	)
	// pages are the webhook messages of kind kind that reached path, whose
	// status holds status.
	pages := func(f *failover, path, kind, status string) int {
		n := 0
		for _, r := range f.hook.all() {
			var m struct{ Kind, Status string }
			if r.path == path && json.Unmarshal(r.body, &m) == nil && m.Kind == kind && strings.Contains(m.Status, status) {
				n++
			}
		}
		return n
	}
	return []periodicDuty{
		{
			name: "escalation (step 2)",
			runs: "every node",
			prepare: func(f *failover) {
				w := f.survivor.ward
				f.user("alice", "responder")
				f.user("bob", "responder")
				// Step 1's delay is long: step 2 comes only when armed.
				w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "payments", "steps": []map[string]any{
					{"delay_minutes": 30, "targets": []map[string]string{{"type": "user", "id": "alice"}}},
					{"delay_minutes": 30, "targets": []map[string]string{{"type": "user", "id": "bob"}}},
				}}, nil)
				var svc struct{ ID string }
				w.must(201, "POST", "/api/v1/services", map[string]any{"name": "payments", "escalation_policy": "payments"}, &svc)
				paymentsID = svc.ID
				var ig integrationKey
				w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
				if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"db1",
					"payload":{"summary":"Database unreachable","source":"db1","severity":"critical"}}`, nil); code != 202 {
					f.t.Fatalf("trigger: %d %s", code, body)
				}
				f.waitFor("step 1's page to alice", 20*time.Second, func() bool { return pages(f, "/alice", "page", "") == 1 })
			},
			arm: func(f *failover, at time.Time) {
				f.exec(`UPDATE pages SET next_at = $1 WHERE service_id = $2`, at, paymentsID)
			},
			done: func(f *failover) bool { return pages(f, "/bob", "page", "") > 0 },
			once: func(f *failover) {
				if n := pages(f, "/bob", "page", ""); n != 1 {
					f.t.Errorf("step 2 paged bob %d times", n)
				}
			},
		},
		{
			name: "heartbeat miss",
			runs: "every node",
			prepare: func(f *failover) {
				w := f.survivor.ward
				var svc struct{ ID string }
				w.must(201, "POST", "/api/v1/services", map[string]any{"name": "nightly-job", "group_by": "alert"}, &svc)
				heartbeatSvc = svc.ID
				w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations",
					map[string]any{"kind": "heartbeat", "name": "nightly job", "interval_seconds": 3600}, nil)
			},
			arm: func(f *failover, at time.Time) {
				f.exec(`UPDATE heartbeats SET due_at = $1 WHERE integration_id IN (SELECT id FROM integration_keys WHERE service_id = $2)`,
					at, heartbeatSvc)
			},
			done: func(f *failover) bool { return len(f.survivor.alerts("service="+heartbeatSvc)) > 0 },
			once: func(f *failover) {
				if n := f.count(`SELECT count(*) FROM audit_log WHERE action = 'heartbeat.missed'`); n != 1 {
					f.t.Errorf("the missed heartbeat was raised %d times", n)
				}
			},
		},
		{
			name: "SLA check (update due)",
			runs: "every node",
			prepare: func(f *failover) {
				w := f.survivor.ward
				f.user("carol", "responder")
				w.must(200, "PUT", "/api/v1/sla-policies/sev3", map[string]int{"ack_minutes": 0, "first_update_minutes": 0,
					"update_interval_minutes": 60, "contain_minutes": 0, "resolve_minutes": 0}, nil)
				var inc incidentJSON
				w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Phishing wave", "severity": "sev3", "commander": "carol"}, &inc)
				slaIncident = inc.ID
			},
			arm: func(f *failover, at time.Time) {
				// The first status update is due an interval after the
				// incident began; the checker finds it by its check time,
				// which the nodes set from the start time when they wrote it.
				f.exec(`UPDATE incidents SET created_at = $1, sla_check_at = $2 WHERE id = $3`, at.Add(-60*time.Minute), at, slaIncident)
			},
			done: func(f *failover) bool { return pages(f, "/carol", "reminder", "status update overdue") > 0 },
			once: func(f *failover) {
				if n := pages(f, "/carol", "reminder", "status update overdue"); n != 1 {
					f.t.Errorf("the commander was reminded %d times", n)
				}
			},
		},
		{
			name: "breach reminder",
			runs: "every node",
			prepare: func(f *failover) {
				w := f.survivor.ward
				f.user("pat", "privacy_officer")
				var inc incidentJSON
				w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax"}, &inc)
				breachIncident = inc.ID
				base := "/api/v1/incidents/" + inc.ID + "/breach-case"
				w.must(201, "POST", base, nil, nil)
				now := time.Now().UTC().Format(time.RFC3339)
				w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": now, "should_have_known_at": now,
					"individuals": 12}, nil)
			},
			arm: func(f *failover, at time.Time) {
				// The nodes remind 7 days before a deadline.
				f.exec(`UPDATE breach_obligations SET due_at = $1 WHERE obligation = 'individuals'
					AND case_id = (SELECT id FROM breach_cases WHERE incident_id = $2)`, at.Add(7*24*time.Hour), breachIncident)
			},
			done: func(f *failover) bool { return pages(f, "/pat", "reminder", ": notify individuals") > 0 },
			once: func(f *failover) {
				if n := pages(f, "/pat", "reminder", ": notify individuals"); n != 1 {
					f.t.Errorf("the Privacy Officer was reminded %d times", n)
				}
			},
		},
		{
			name: "audit verification",
			runs: "River leader",
			done: func(f *failover) bool { return f.jobsDone("audit_verify", f.survivor.clientID, f.lastJob) > 0 },
		},
		{
			name: "retention purge",
			runs: "River leader",
			done: func(f *failover) bool { return f.jobsDone("retention_purge", f.survivor.clientID, f.lastJob) > 0 },
		},
		{
			name: "scheduled backup",
			runs: "lock holder",
			due: func(f *failover) time.Time {
				return f.timeAt(`SELECT max(at) FROM audit_log WHERE action = 'backup.scheduled' AND seq <= $1`, f.auditSeq).
					Add(failoverBackupEvery)
			},
			done: func(f *failover) bool {
				for _, name := range backupsMade(f.survivor.logs.String()[f.logAtKill:]) {
					if _, err := os.Stat(filepath.Join(f.backupDir, name)); err == nil {
						return true
					}
				}
				return false
			},
			once: func(f *failover) {
				// The survivor's backup is whole.
				made := backupsMade(f.survivor.logs.String()[f.logAtKill:])
				if code, out, errs := runWard(f.t, f.survivor.data, f.dbURL, "backup", "verify", filepath.Join(f.backupDir, made[0]),
					"--backup-key-file", f.backupKey); code != 0 {
					f.t.Errorf("the survivor's backup does not verify: %s %s", out, errs)
				}
			},
		},
		{
			name: "SIEM forwarding",
			runs: "lock holder",
			// The work after the kill (a missed heartbeat, a backup)
			// appends entries; forwarding falls due with the first.
			due: func(f *failover) time.Time {
				return f.timeAt(`SELECT min(at) FROM audit_log WHERE seq > $1`, f.auditSeq)
			},
			done: func(f *failover) bool { return f.siemSeq() > f.auditSeq },
		},
		{
			name: "audit checkpoint",
			runs: "lock holder",
			// For the log: the first entry appended after the kill, which
			// makes a checkpoint due at most an interval later.
			due: func(f *failover) time.Time {
				return f.timeAt(`SELECT min(at) FROM audit_log WHERE seq > $1`, f.auditSeq)
			},
			// A checkpoint the survivor signed over entries appended after
			// the kill.
			done: func(f *failover) bool {
				for _, line := range strings.Split(f.survivor.logs.String()[f.logAtKill:], "\n") {
					var e struct {
						Msg string
						Seq int64
					}
					if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "audit_checkpoint_signed" && e.Seq > f.auditSeq {
						return true
					}
				}
				return false
			},
		},
	}
}

// siemSeq is the last audit entry the SIEM receiver got.
func (f *failover) siemSeq() int64 {
	var last int64
	for _, r := range f.hook.all() {
		var b struct{ Entries []struct{ Seq int64 } }
		if r.path == "/siem" && json.Unmarshal(r.body, &b) == nil {
			for _, e := range b.Entries {
				last = max(last, e.Seq)
			}
		}
	}
	return last
}

// timeAt is the time query returns.
func (f *failover) timeAt(query string, args ...any) time.Time {
	f.t.Helper()
	var at time.Time
	if err := f.d.R.QueryRow(query, args...).Scan(&at); err != nil {
		f.t.Fatal(err)
	}
	return at
}

// newFailover migrates the database and makes the keys and the token the
// nodes share.
func newFailover(t *testing.T, bin, dbURL string) *failover {
	shared := t.TempDir()
	f := &failover{t: t, bin: bin, dbURL: dbURL, hook: startHook(t), keyFile: filepath.Join(shared, "master.key"),
		backupKey: filepath.Join(shared, "backup.key"), backupDir: filepath.Join(shared, "backups")}
	mk := make([]byte, keys.MasterKeySize)
	if _, err := rand.Read(mk); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.keyFile, []byte(base64.StdEncoding.EncodeToString(mk)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(f.backupDir, 0o700); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	if code, out, errs := runWard(t, data, dbURL, "migrate", "--master-key-file", f.keyFile); code != 0 {
		t.Fatalf("migrate: %s %s", out, errs)
	}
	if code, out, errs := runWard(t, data, dbURL, "backup", "keygen", "--out", f.backupKey); code != 0 {
		t.Fatalf("backup keygen: %s %s", out, errs)
	}
	code, out, errs := runWard(t, data, dbURL, "token", "create", "--name", "failover", "--master-key-file", f.keyFile)
	if code != 0 {
		t.Fatalf("token create: %s", errs)
	}
	f.token = strings.TrimSpace(out)
	d, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f.d = d
	return f
}

// start runs `ward serve` as a process with the shared settings and waits
// until it serves and its River client has started.
func (f *failover) start(name string) *haNode {
	t := f.t
	data := t.TempDir()
	cmd := exec.Command(f.bin, "serve", "--listen", "127.0.0.1:0", "--data", data, "--db", f.dbURL, "--log-level", "info",
		"--master-key-file", f.keyFile, "--outbound-allow", "127.0.0.1/32",
		"--paging-poll", failoverPagingPoll.String(), "--breach-reminder-days", "7",
		"--backup-dir", f.backupDir, "--backup-every", failoverBackupEvery.String(), "--backup-key-file", f.backupKey,
		"--siem-webhook", f.hook.URL+"/siem", "--siem-webhook-secret", "failover-test-siem-secret",
		"--audit-checkpoint-interval", failoverCheckpointEvery.String())
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	served := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), "serving at "); ok {
				served <- after
			}
		}
	}()
	n := &haNode{cmd: cmd}
	select {
	case url := <-served:
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the node's certificate is self-signed
		t.Cleanup(client.CloseIdleConnections)
		n.ward = &ward{t: t, url: url, data: data, dbURL: f.dbURL, token: f.token, client: client, logs: logs,
			stop: func() { _ = cmd.Process.Kill() }}
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not serve within 30s: %s", name, logs.String())
	}
	f.waitFor("node "+name+"'s River client", 10*time.Second, func() bool {
		n.clientID = logValue(logs.String(), "River client started", "client_id")
		return n.clientID != ""
	})
	return n
}

// user creates a user with role and a webhook contact method to the
// receiver at /name, and waits until the test delivery verified it.
func (f *failover) user(name, role string) {
	f.t.Helper()
	if code, _, errs := runWardIn(f.t, f.survivor.data, f.dbURL, "orange lantern over quiet harbour\n", "user", "create",
		"--username", name, "--name", name, "--email", name+"@example.org", "--role", role, "--password-stdin",
		"--master-key-file", f.keyFile); code != 0 {
		f.t.Fatalf("user create %s: %s", name, errs)
	}
	f.survivor.must(201, "POST", "/api/v1/users/"+name+"/contact-methods", map[string]any{"kind": "webhook", "address": f.hook.URL + "/" + name}, nil)
	f.waitFor(name+"'s verified webhook", 20*time.Second, func() bool {
		var cs []struct{ Verified bool }
		f.survivor.must(200, "GET", "/api/v1/users/"+name+"/contact-methods", nil, &cs)
		return len(cs) == 1 && cs[0].Verified
	})
}

// leader is the id of River's elected leader, "" when there is none.
func (f *failover) leader() string {
	var id string
	if err := f.d.R.QueryRow(`SELECT leader_id FROM river_leader WHERE expires_at > now()`).Scan(&id); err != nil {
		return ""
	}
	return id
}

// jobsDone counts the jobs of kind that client completed, among those
// inserted after job id after.
func (f *failover) jobsDone(kind, client string, after int64) int {
	return f.count(`SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed' AND $2 = ANY(attempted_by) AND id > $3`,
		kind, client, after)
}

func (f *failover) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.d.R.QueryRow(query, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// exec changes the database directly: the nodes run on the wall clock, so
// the test moves a due time instead of the clock.
func (f *failover) exec(query string, args ...any) {
	f.t.Helper()
	res, err := f.d.W.Exec(query, args...)
	if err != nil {
		f.t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		f.t.Fatalf("%s: %d rows changed, want 1", query, n)
	}
}

// waitFor waits until cond holds, or fails the test after
// limit.
func (f *failover) waitFor(what string, limit time.Duration, cond func() bool) {
	f.t.Helper()
	testwait.Until(f.t, what, limit, cond)
}

// backupsMade are the files of the scheduled backups a node's log says it
// made.
func backupsMade(log string) []string {
	var files []string
	for _, line := range strings.Split(log, "\n") {
		var e struct{ Msg, File string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "backup_made" {
			files = append(files, e.File)
		}
	}
	return files
}

// logValue is the string attribute key of the first JSON log line whose
// message is msg, "" when there is none.
func logValue(log, msg, key string) string {
	for _, line := range strings.Split(log, "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == msg {
			s, _ := e[key].(string)
			return s
		}
	}
	return ""
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
