package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// chainDB opens the running server's database, as someone with access to
// it, and drops the audit trail's append-only triggers, as a database
// administrator bent on tampering could.
func chainDB(t *testing.T, w *ward) *db.DB {
	t.Helper()
	url := w.dbURL
	if url == "" {
		url = w.data + "/ward.db"
	}
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if d.Dialect == db.Postgres {
		sqlExec(t, d, "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
	} else {
		sqlExec(t, d, "DROP TRIGGER IF EXISTS audit_log_no_update")
		sqlExec(t, d, "DROP TRIGGER IF EXISTS audit_log_no_delete")
	}
	return d
}

func sqlExec(t *testing.T, d *db.DB, q string, args ...any) {
	t.Helper()
	if _, err := d.W.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// lastEntries reads the last n entries, oldest first.
func lastEntries(t *testing.T, d *db.DB, n int) []audit.Entry {
	t.Helper()
	rows, err := d.R.QueryContext(context.Background(), `SELECT seq, at, actor, action, object_type, object_id, request_id,
		source_ip, digest, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT $1`, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP,
			&e.Digest, &e.PrevHash, &e.Hash); err != nil {
			t.Fatal(err)
		}
		e.At = e.At.UTC()
		out = append([]audit.Entry{e}, out...)
	}
	return out
}

// rewriteTail deletes the entries from seq from on and writes entries in
// their place, renumbered, relinked and rehashed, then fixes the head: a
// consistent chain that the chain's own checks accept.
func rewriteTail(t *testing.T, d *db.DB, from int64, entries []audit.Entry) {
	t.Helper()
	sqlExec(t, d, "DELETE FROM audit_log WHERE seq >= $1", from)
	var prev string
	if err := d.R.QueryRowContext(context.Background(), "SELECT hash FROM audit_log WHERE seq = $1", from-1).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	seq := from - 1
	for _, e := range entries {
		seq++
		e.Seq, e.PrevHash = seq, prev
		e.Hash = audit.Hash(e)
		sqlExec(t, d, `INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, request_id, source_ip, digest,
			prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest, e.PrevHash, e.Hash)
		prev = e.Hash
	}
	sqlExec(t, d, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", seq, prev)
}

// metricValue reads one unlabelled metric from /metrics.
func metricValue(t *testing.T, w *ward, name string) string {
	t.Helper()
	resp, err := w.client.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func readyz(t *testing.T, w *ward) (int, string) {
	t.Helper()
	resp, err := w.client.Get(w.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuditChainBreakOnRunningServer: the four attacks that rewrite the
// tail of the audit trail and fix its head, one after another on a running
// server. Each is found by the node's continuous verification: the
// Security Officer is emailed (nothing about the break but that it
// happened), the metrics say so, the next change lands in a new segment
// whose first entry records the break, and `ward audit verify` reports
// each break as recorded. While the attacker also keeps the node from
// starting the new segment, /readyz answers 503 with the reason.
func TestAuditChainBreakOnRunningServer(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		mail := startMailbox(t)
		data := t.TempDir()
		w := startWardAt(t, data, dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile,
				"--paging-poll", "50ms")
		})
		if code, _, errs := runWardIn(t, data, dbURL, "orange lantern over quiet harbour\n", "user", "create",
			"--username", "olga", "--name", "Olga Officer", "--email", "olga@example.org", "--role", "security_officer",
			"--password-stdin"); code != 0 {
			t.Fatalf("user create: %s", errs)
		}
		var email struct{ ID string }
		w.must(201, "POST", "/api/v1/users/olga/contact-methods", map[string]any{"kind": "email", "address": "olga@example.org"}, &email)
		eventually(t, "the verification email", func() bool { return len(mail.all()) == 1 })
		code := codeRE.FindStringSubmatch(mail.all()[0])
		if code == nil {
			t.Fatalf("no code in %q", mail.all()[0])
		}
		w.must(200, "POST", "/api/v1/contact-methods/"+email.ID+"/verify", map[string]any{"code": code[1]}, nil)
		d := chainDB(t, w)
		// The retention run is audited whenever leader election finishes:
		// after it, the only entries are the test's own.
		awaitRetentionRun(t, d)
		auditor := w.tokenWithRole("chain-auditor", "auditor")

		attacks := []struct {
			name   string
			attack func(es []audit.Entry)
		}{
			{"append a forged row in place of the last and update the head", func(es []audit.Entry) {
				forged := es[3]
				forged.Actor = "token:mallory"
				rewriteTail(t, d, es[3].Seq, []audit.Entry{forged})
			}},
			{"cut the last rows and fix the head", func(es []audit.Entry) {
				rewriteTail(t, d, es[2].Seq, nil)
			}},
			{"rewrite a row and rehash everything after it", func(es []audit.Entry) {
				rest := append([]audit.Entry(nil), es[1:]...)
				rest[0].Actor = "token:mallory"
				rewriteTail(t, d, es[1].Seq, rest)
			}},
			{"delete a row, renumber and rehash", func(es []audit.Entry) {
				rewriteTail(t, d, es[2].Seq, es[3:])
			}},
		}
		for i, a := range attacks {
			breaks := i + 1
			// Changes to rewrite: each incident is an entry of the current segment.
			for j := range 4 {
				w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": fmt.Sprintf("before attack %d.%d", breaks, j)}, nil)
			}
			eventually(t, "the watcher to verify the new entries", func() bool {
				return metricValue(t, w, "ward_audit_chain_verified_seq") == fmt.Sprint(lastEntries(t, d, 1)[0].Seq)
			})
			if i == 0 {
				// The attacker also keeps the node from starting a new segment.
				blockSegments(t, d, true)
			}
			mailBefore := len(mail.all())
			a.attack(lastEntries(t, d, 4))
			if i == 0 {
				eventually(t, "/readyz to say the trail is broken", func() bool {
					code, body := readyz(t, w)
					return code == http.StatusServiceUnavailable && strings.Contains(body, "audit trail broken") &&
						strings.Contains(body, "found altered at or before entry")
				})
				if v := metricValue(t, w, "ward_audit_chain_intact"); v != "0" {
					t.Fatalf("ward_audit_chain_intact %q while the segment cannot be started", v)
				}
				eventually(t, "the officer's alert while blocked", func() bool { return len(mail.all()) == mailBefore+1 })
				blockSegments(t, d, false)
			}
			eventually(t, "the new segment", func() bool {
				return metricValue(t, w, "ward_audit_chain_segment") == fmt.Sprint(breaks+1) &&
					metricValue(t, w, "ward_audit_chain_breaks_total") == fmt.Sprint(breaks)
			})
			if code, body := readyz(t, w); code != http.StatusOK || metricValue(t, w, "ward_audit_chain_intact") != "1" {
				t.Fatalf("after the segment was started: readyz %d %s", code, body)
			}
			eventually(t, "the officer's alert", func() bool { return len(mail.all()) == mailBefore+1 })
			msg := mail.all()[mailBefore]
			if !strings.Contains(msg, "Ward AUDIT TRAIL ALTERED") || !strings.Contains(msg, "olga@example.org") ||
				strings.Contains(msg, "before attack") || strings.Contains(msg, "mallory") {
				t.Fatalf("the officer's alert: %s", msg)
			}
			// The next change lands in the new segment, after its first entry.
			w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": fmt.Sprintf("after attack %d", breaks)}, nil)
			es := lastEntries(t, d, 2)
			if es[0].Action != audit.ActionSegmentStart || es[0].PrevHash != audit.Genesis || es[1].PrevHash != es[0].Hash {
				t.Fatalf("%s: the entries after the break: %+v", a.name, es)
			}
			var segs struct{ Segments []audit.Segment }
			if code, raw := w.doAs(auditor, "GET", "/api/v1/audit/segments", nil, &segs); code != http.StatusOK {
				t.Fatalf("segments: %d %s", code, raw)
			}
			if len(segs.Segments) != breaks || segs.Segments[breaks-1].StartSeq != es[0].Seq {
				t.Fatalf("%s: segments %+v", a.name, segs.Segments)
			}
			code, out, errs := w.run("audit", "verify")
			if code != 0 || !strings.Contains(out, "audit trail intact") ||
				!strings.Contains(out, fmt.Sprintf("the trail has %d segments; %d recorded breaks", breaks+1, breaks)) ||
				!strings.Contains(out, fmt.Sprintf("recorded break: segment %d, from entry %d", breaks+1, es[0].Seq)) {
				t.Fatalf("%s: ward audit verify: %d\n%s%s", a.name, code, out, errs)
			}
			t.Logf("%s: ward audit verify:\n%s", a.name, out)
		}
		// Until a Security Officer reviews every recorded break, naming the
		// incident that investigates it, no record is purged.
		var prev struct {
			ChainOK      bool   `json:"chain_ok"`
			ChainProblem string `json:"chain_problem"`
		}
		w.must(200, "GET", "/api/v1/retention/preview", nil, &prev)
		if prev.ChainOK || !strings.Contains(prev.ChainProblem, "no Security or Privacy Officer has reviewed that break yet") {
			t.Fatalf("retention preview before the reviews: %+v", prev)
		}
		var inv incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Audit trail altered"}, &inv)
		sam := signInAs(t, w, authz.RoleSecurityOfficer, "sam")
		if code, page := sam.send("GET", "/audit/integrity", nil); code != http.StatusOK ||
			strings.Count(page, "Not reviewed yet") != len(attacks) {
			t.Fatalf("the integrity page before the reviews: %d %s", code, page)
		}
		if code, page := sam.send("POST", "/audit/integrity/2/review", url.Values{"incident": {"INC-2020-9999"}}); code !=
			http.StatusUnprocessableEntity || !strings.Contains(page, "no incident INC-2020-9999") {
			t.Fatalf("a review naming no incident: %d %s", code, page)
		}
		for n := 2; n <= len(attacks)+1; n++ {
			if code, loc := sam.send("POST", fmt.Sprintf("/audit/integrity/%d/review", n), url.Values{"incident": {inv.Number}}); code !=
				http.StatusSeeOther || !strings.HasPrefix(loc, "/audit/integrity") {
				t.Fatalf("review of segment %d: %d %s", n, code, loc)
			}
		}
		if code, page := sam.send("GET", "/audit/integrity", nil); code != http.StatusOK || strings.Contains(page, "Not reviewed yet") ||
			strings.Count(page, "investigated in <a href=\"/incidents/"+inv.Number+"\">") != len(attacks) {
			t.Fatalf("the integrity page after the reviews: %d %s", code, page)
		}
		w.must(200, "GET", "/api/v1/retention/preview", nil, &prev)
		if !prev.ChainOK || prev.ChainProblem != "" {
			t.Fatalf("retention preview after the reviews: %+v", prev)
		}
		// A row altered in the current segment while no node watches: an
		// unrecorded break, which verify fails.
		w.stop()
		es := lastEntries(t, d, 1)
		sqlExec(t, d, "UPDATE audit_log SET actor = 'token:mallory' WHERE seq = $1", es[0].Seq)
		if code, out, _ := w.run("audit", "verify"); code != 1 || !strings.Contains(out, "audit trail BROKEN") {
			t.Fatalf("an unrecorded break: %d %s", code, out)
		}
	})
}

// blockSegments adds (or drops) a trigger refusing the first entry of a
// new segment.
func blockSegments(t *testing.T, d *db.DB, on bool) {
	t.Helper()
	switch {
	case d.Dialect == db.Postgres && on:
		sqlExec(t, d, `CREATE OR REPLACE FUNCTION test_block_segments() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.object_type = 'audit_segment' THEN RAISE EXCEPTION 'blocked'; END IF; RETURN NEW; END; $$`)
		sqlExec(t, d, "CREATE TRIGGER test_block_segments BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_block_segments()")
	case d.Dialect == db.Postgres:
		sqlExec(t, d, "DROP TRIGGER test_block_segments ON audit_log")
	case on:
		sqlExec(t, d, `CREATE TRIGGER test_block_segments BEFORE INSERT ON audit_log WHEN NEW.object_type = 'audit_segment'
			BEGIN SELECT RAISE(ABORT, 'blocked'); END`)
	default:
		sqlExec(t, d, "DROP TRIGGER test_block_segments")
	}
}
