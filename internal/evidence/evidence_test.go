package evidence_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/retention"
)

var start = time.Date(2026, 5, 4, 15, 0, 0, 0, time.UTC)

func as(role authz.Role, name string) context.Context {
	return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-" + name, Name: name, Role: role})
}

var (
	officer     = as(authz.RoleSecurityOfficer, "sam")
	responder   = as(authz.RoleResponder, "rita")
	stakeholder = as(authz.RoleStakeholder, "stella")
	auditor     = as(authz.RoleAuditor, "aud")
)

type env struct {
	d    *db.DB
	clk  *clock.Fake
	incs *incident.Service
	ev   *evidence.Service
	ret  *retention.Service
	inc  incident.Incident
}

func newEnv(t testing.TB, d *db.DB, maxBytes int64) env {
	t.Helper()
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	incs := incident.NewService(d, clk, kr)
	inc, err := incs.Create(officer, incident.CreateInput{Title: "Lost laptop", Severity: incident.Sev2})
	if err != nil {
		t.Fatal(err)
	}
	return env{d: d, clk: clk, incs: incs, ev: evidence.New(d, clk, incs, kr, evidence.Options{MaxBytes: maxBytes}),
		ret: retention.New(d, clk, incs, kr, slog.New(slog.DiscardHandler)), inc: inc}
}

func (e env) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.d.R.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stored counts every evidence row: items of any status, chunks, custody.
func (e env) stored(t *testing.T) int {
	return e.count(t, `SELECT count(*) FROM evidence_items`) + e.count(t, `SELECT count(*) FROM evidence_chunks`) +
		e.count(t, `SELECT count(*) FROM evidence_custody`)
}

func (e env) auditActions(t *testing.T) []string {
	t.Helper()
	rows, err := e.d.R.QueryContext(context.Background(), `SELECT action FROM audit_log WHERE action LIKE 'evidence.%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || len(e.Fields) == 0 || e.Fields[0].Field != field {
		t.Fatalf("want an error naming %s, got %v", field, err)
	}
}

// TestRoundTrip: a file larger than several chunks goes in encrypted and
// comes out whole, with its hash, metadata and custody; the ciphertext
// holds no plaintext; every step is audited.
func TestRoundTrip(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		content := append([]byte("PATIENT Jane Canary MRN 123456\n"), randomBytes(t, 9<<20+123)...)
		collected := start.Add(-2 * time.Hour)
		it, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "Firewall log naming Jane Canary",
			Source: "fw-1", CollectedBy: "Rita", CollectedAt: &collected, RelatedAsset: "laptop SN 42", FileName: "fw.log",
			ContentType: "text/plain", SHA256: strings.ToUpper(sum(content))}, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		if it.SHA256 != sum(content) || it.Size != int64(len(content)) || it.Custodian != "rita" {
			t.Fatalf("item: %+v", it)
		}
		if n := e.count(t, `SELECT count(*) FROM evidence_chunks WHERE item_id = $1`, it.ID); n < 3 {
			t.Fatalf("%d chunks for 9 MiB", n)
		}
		var chunk []byte
		if err := d.R.QueryRowContext(context.Background(), `SELECT data FROM evidence_chunks WHERE item_id = $1 AND seq = 0`, it.ID).
			Scan(&chunk); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(chunk, []byte("Jane Canary")) {
			t.Fatal("the stored chunk holds plaintext")
		}
		// The file name whole: two letters alone turn up in sealed text by
		// chance (SQLite's LIKE ignores case), and the dot never does.
		if e.count(t, `SELECT count(*) FROM evidence_items WHERE description LIKE '%Jane%' OR file_name LIKE '%fw.log%'`) != 0 {
			t.Fatal("metadata stored in clear")
		}

		list, err := e.ev.List(auditor, e.inc.Number)
		if err != nil || len(list) != 1 || list[0].Description != "Firewall log naming Jane Canary" || list[0].SHA256 != it.SHA256 ||
			list[0].CollectedAt == nil || !list[0].CollectedAt.Equal(collected) || list[0].RelatedAsset != "laptop SN 42" {
			t.Fatalf("list: %+v %v", list, err)
		}
		got, r, err := e.ev.Download(auditor, e.inc.Number, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(body, content) || got.FileName != "fw.log" {
			t.Fatalf("download: %d bytes, %v", len(body), err)
		}
		_, custody, err := e.ev.Get(officer, e.inc.Number, it.ID)
		if err != nil || len(custody) != 2 || custody[0].Action != evidence.Collected || custody[1].Action != evidence.Accessed ||
			custody[1].Actor != "user:aud" {
			t.Fatalf("custody: %+v %v", custody, err)
		}
		want := []string{"evidence.add", "evidence.phi_read", "evidence.download", "evidence.phi_read"}
		if got := e.auditActions(t); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("audit: %v", got)
		}
		if res, err := audit.Verify(context.Background(), d.R); err != nil || !res.OK {
			t.Fatalf("chain: %+v %v", res, err)
		}
	})
}

// TestRefusedUploadsKeepNothing: a declared hash that does not match, an
// empty file, a file over the limit and a read that fails midway are
// refused, naming the field, and leave no row behind.
func TestRefusedUploadsKeepNothing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 6<<20)
		content := randomBytes(t, 5<<20)
		up := evidence.Upload{Description: "disk image", SHA256: sum([]byte("something else"))}
		_, err := e.ev.Add(responder, e.inc.Number, up, bytes.NewReader(content))
		wantField(t, err, "sha256")
		if !strings.Contains(err.Error(), sum(content)) {
			t.Fatalf("the error should give the hash received: %v", err)
		}

		_, err = e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "empty"}, bytes.NewReader(nil))
		wantField(t, err, "file")

		_, err = e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "too big"}, bytes.NewReader(randomBytes(t, 6<<20+1)))
		var tl *evidence.TooLargeError
		if !errors.As(err, &tl) || tl.Limit != 6<<20 {
			t.Fatalf("too large: %v", err)
		}

		broken := io.MultiReader(bytes.NewReader(content), iotest.ErrReader(errors.New("connection reset")))
		_, err = e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "cut off"}, broken)
		wantField(t, err, "file")

		_, err = e.ev.Add(responder, e.inc.Number, evidence.Upload{}, bytes.NewReader(content))
		wantField(t, err, "description")

		if n := e.stored(t); n != 0 {
			t.Fatalf("%d evidence rows left by refused uploads", n)
		}
		if got := e.auditActions(t); len(got) != 0 {
			t.Fatalf("refused uploads audited as done: %v", got)
		}
	})
}

// TestCustodyChain: transfers name the new custodian, entries come in
// order with their reasons, the item shows its holder, destruction
// removes the content and is refused under legal hold; the service has
// no way to change or remove an entry.
func TestCustodyChain(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		it, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "phone"}, strings.NewReader("image"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Transferred, Reason: "to forensics"})
		wantField(t, err, "custodian")
		_, err = e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Accessed, Reason: "x"})
		wantField(t, err, "action")
		e.clk.Advance(time.Minute)
		if _, err := e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Transferred,
			Custodian: "Acme Forensics (Dr. Who)", Reason: "imaging under ticket 7"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		if _, r, err := e.ev.Download(responder, e.inc.Number, it.ID); err != nil {
			t.Fatal(err)
		} else if _, err := io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		if _, err := e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Returned,
			Reason: "imaging done"}); err != nil {
			t.Fatal(err)
		}
		got, custody, err := e.ev.Get(officer, e.inc.Number, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for i, c := range custody {
			actions = append(actions, string(c.Action))
			if c.Seq != int64(i+1) || (i > 0 && !c.At.After(custody[i-1].At)) {
				t.Fatalf("entry %d out of order: %+v", i, custody)
			}
		}
		if strings.Join(actions, " ") != "collected transferred accessed returned" || custody[1].Custodian != "Acme Forensics (Dr. Who)" ||
			custody[1].Reason != "imaging under ticket 7" || custody[3].Custodian != "Acme Forensics (Dr. Who)" ||
			got.Custodian != "Acme Forensics (Dr. Who)" {
			t.Fatalf("custody: %+v, item custodian %q", custody, got.Custodian)
		}

		// Not even the database lets what an entry records change, or an
		// entry of a kept item go.
		for _, q := range []string{`UPDATE evidence_custody SET action = 'copied' WHERE item_id = $1`,
			`UPDATE evidence_custody SET actor = 'user:mallory' WHERE item_id = $1`,
			`DELETE FROM evidence_custody WHERE item_id = $1`} {
			err := d.Write(context.Background(), func(tx *sql.Tx) error {
				_, err := tx.ExecContext(context.Background(), q, it.ID)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: %v", q, err)
			}
		}

		if _, err := e.ret.PlaceHold(officer, retention.ScopeIncident, e.inc.Number, "litigation"); err != nil {
			t.Fatal(err)
		}
		_, err = e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Destroyed, Reason: "done"})
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("destroy under legal hold: %v", err)
		}
		if _, err := e.ret.ReleaseHold(officer, retention.ScopeIncident, e.inc.Number, "settled"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Destroyed,
			Reason: "retention ended"}); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, `SELECT count(*) FROM evidence_chunks WHERE item_id = $1`, it.ID); n != 0 {
			t.Fatalf("%d chunks left after destruction", n)
		}
		if _, _, err := e.ev.Download(officer, e.inc.Number, it.ID); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("download of destroyed item: %v", err)
		}
		if _, err := e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Copied,
			Reason: "x"}); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("custody after destruction: %v", err)
		}
		if n := e.count(t, `SELECT count(*) FROM evidence_custody WHERE item_id = $1`, it.ID); n != 5 {
			t.Fatalf("%d custody entries, want 5", n)
		}
		if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'evidence.custody'`); n != 3 {
			t.Fatalf("%d custody audit entries, want 3", n)
		}
	})
}

// TestTamperDetected: a changed byte of the stored ciphertext fails the
// download and the verification, marks the item failed, audits it and
// alerts the officers; an untouched item verifies and shows when.
func TestTamperDetected(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		var alerted []string
		e.ev = evidence.New(d, e.clk, e.incs, dbtest.Keyring(t, d, start), evidence.Options{Alert: func(_ context.Context, _ *sql.Tx,
			incidentID string) error {
			alerted = append(alerted, incidentID)
			return nil
		}})
		good, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "good"}, bytes.NewReader(randomBytes(t, 3<<20)))
		if err != nil {
			t.Fatal(err)
		}
		bad, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "bad"}, bytes.NewReader(randomBytes(t, 3<<20)))
		if err != nil {
			t.Fatal(err)
		}
		var chunk []byte
		ctx := context.Background()
		if err := d.R.QueryRowContext(ctx, `SELECT data FROM evidence_chunks WHERE item_id = $1 AND seq = 0`, bad.ID).Scan(&chunk); err != nil {
			t.Fatal(err)
		}
		chunk[2<<20] ^= 1 // inside the third segment: the first two decrypt
		if err := d.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE evidence_chunks SET data = $1 WHERE item_id = $2 AND seq = 0`, chunk, bad.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}

		_, r, err := e.ev.Download(officer, e.inc.Number, bad.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(r)
		var ie *evidence.IntegrityError
		if !errors.As(err, &ie) {
			t.Fatalf("download of altered content: %v", err)
		}

		system := authz.WithActor(ctx, authz.System)
		rep, err := e.ev.VerifyAll(system)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Checked != 2 || len(rep.Failed) != 1 || rep.Failed[0].ID != bad.ID {
			t.Fatalf("verify: %+v", rep)
		}
		list, err := e.ev.List(officer, e.inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range list {
			switch it.ID {
			case good.ID:
				if it.Integrity != evidence.IntegrityOK || it.VerifiedAt == nil || !it.VerifiedAt.Equal(start) {
					t.Fatalf("good item: %+v", it)
				}
			case bad.ID:
				if it.Integrity != evidence.IntegrityFailed || it.VerifiedAt != nil {
					t.Fatalf("bad item: %+v", it)
				}
			}
		}
		if len(alerted) != 2 || alerted[0] != e.inc.ID || alerted[1] != e.inc.ID {
			t.Fatalf("officers alerted for %v, want the incident twice (download and verify)", alerted)
		}
		if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'evidence.integrity_failed'`); n != 2 {
			t.Fatalf("%d integrity failures audited, want 2 (download and verify)", n)
		}
		if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'evidence.verify'`); n != 1 {
			t.Fatalf("%d verifications audited, want 1", n)
		}
	})
}

// TestWhoMaySee: a stakeholder neither lists nor downloads evidence; an
// auditor reads but cannot add or record custody.
func TestWhoMaySee(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		it, err := e.ev.Add(officer, e.inc.Number, evidence.Upload{Description: "email"}, strings.NewReader("From: x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ev.List(stakeholder, e.inc.Number); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("stakeholder list: %v", err)
		}
		if _, _, err := e.ev.Download(stakeholder, e.inc.Number, it.ID); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("stakeholder download: %v", err)
		}
		if _, err := e.ev.Add(auditor, e.inc.Number, evidence.Upload{Description: "x"}, strings.NewReader("x")); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("auditor add: %v", err)
		}
		if _, err := e.ev.RecordCustody(auditor, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Copied,
			Reason: "x"}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("auditor custody: %v", err)
		}
		if n := e.count(t, `SELECT count(*) FROM evidence_custody`); n != 1 {
			t.Fatalf("%d custody entries, want only collected", n)
		}
	})
}

// TestPurgeKeepsEvidence: an incident past retention is kept while it holds
// evidence, and purged with the records of its evidence once each item
// has been destroyed.
func TestPurgeKeepsEvidence(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		it, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "badge log"}, strings.NewReader("entries"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.incs.Transition(officer, e.inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
			Note: "nothing lost"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(7 * 365 * 24 * time.Hour)
		admin := as(authz.RoleAdmin, "ada")
		if _, err := e.ret.Purge(admin, false); err != nil {
			t.Fatal(err)
		}
		if e.count(t, `SELECT count(*) FROM incidents WHERE id = $1`, e.inc.ID) != 1 {
			t.Fatal("an incident holding evidence was purged")
		}
		if _, err := e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Destroyed,
			Reason: "retention period over"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.Purge(admin, false); err != nil {
			t.Fatal(err)
		}
		if e.count(t, `SELECT count(*) FROM incidents WHERE id = $1`, e.inc.ID) != 0 || e.stored(t) != 0 {
			t.Fatal("the incident and its destroyed evidence were not purged")
		}
	})
}

// TestRotationKeepsEvidence: a key rotation re-encrypts the items' keys
// and the sealed custody fields (the append-only triggers let it), and the
// content still downloads whole, with its chain of custody readable.
func TestRotationKeepsEvidence(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewFake(start)
		kr := dbtest.Keyring(t, d, start)
		incs := incident.NewService(d, clk, kr)
		inc, err := incs.Create(officer, incident.CreateInput{Title: "Misdirected fax", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		ev := evidence.New(d, clk, incs, kr, evidence.Options{})
		content := randomBytes(t, 2<<20)
		it, err := ev.Add(officer, inc.Number, evidence.Upload{Description: "fax log"}, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ev.RecordCustody(officer, inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Transferred,
			Custodian: "Records office", Reason: "filing"}); err != nil {
			t.Fatal(err)
		}
		var before string
		if err := d.R.QueryRowContext(context.Background(), `SELECT data_key FROM evidence_items WHERE id = $1`, it.ID).Scan(&before); err != nil {
			t.Fatal(err)
		}
		res, err := kr.Rotate(context.Background(), keys.RotateOptions{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		if res.Reencrypted["evidence_items.data_key"] != 1 || res.Reencrypted["evidence_custody.reason"] != 1 {
			t.Fatalf("re-encrypted: %v", res.Reencrypted)
		}
		var after string
		if err := d.R.QueryRowContext(context.Background(), `SELECT data_key FROM evidence_items WHERE id = $1`, it.ID).Scan(&after); err != nil {
			t.Fatal(err)
		}
		if after == before {
			t.Fatal("the item's key was not re-encrypted")
		}
		_, r, err := ev.Download(officer, inc.Number, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("after rotation: %d bytes, %v", len(got), err)
		}
		_, custody, err := ev.Get(officer, inc.Number, it.ID)
		if err != nil || custody[1].Reason != "filing" || custody[1].Custodian != "Records office" {
			t.Fatalf("custody after rotation: %+v %v", custody, err)
		}
	})
}

// form builds a multipart form of the given parts, in order; a part named
// file is sent as a file.
func form(t *testing.T, parts [][2]string) *multipart.Reader {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p[0] == "file" {
			w, err = mw.CreateFormFile("file", "f.txt")
		} else {
			w, err = mw.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p[1])
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return multipart.NewReader(&buf, mw.Boundary())
}

// TestUploadForm: the form's fields reach the item; a field the form does
// not know, a bad time and a part after the file are refused naming the
// field, and nothing is kept.
func TestUploadForm(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		up, file, err := evidence.ReadForm(form(t, [][2]string{{"description", "Router config"}, {"collected_at", "2026-05-01T08:00:00Z"},
			{"source", "core router"}, {"file", "hostname core1"}}))
		if err != nil {
			t.Fatal(err)
		}
		it, err := e.ev.Add(responder, e.inc.Number, up, file)
		if err != nil || it.Source != "core router" || it.FileName != "f.txt" || it.CollectedAt == nil || it.Size != int64(len("hostname core1")) {
			t.Fatalf("item: %+v %v", it, err)
		}
		before := e.stored(t)
		_, _, err = evidence.ReadForm(form(t, [][2]string{{"description", "x"}, {"patient", "Jane"}, {"file", "x"}}))
		wantField(t, err, "patient")
		_, _, err = evidence.ReadForm(form(t, [][2]string{{"description", "x"}, {"collected_at", "yesterday"}, {"file", "x"}}))
		wantField(t, err, "collected_at")
		up, file, err = evidence.ReadForm(form(t, [][2]string{{"description", "x"}, {"file", "content"}, {"sha256", "late"}}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.ev.Add(responder, e.inc.Number, up, file)
		wantField(t, err, "file")
		if n := e.stored(t); n != before {
			t.Fatalf("%d evidence rows after refused forms, want %d", n, before)
		}
	})
}

// TestSweepAbandonedUploads: rows a server left behind when it stopped
// mid-upload are removed by the verification once they have received
// nothing for an hour; an upload still receiving is left alone.
func TestSweepAbandonedUploads(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		ctx := context.Background()
		leave := func(id string, at time.Time) {
			t.Helper()
			if err := d.Write(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO evidence_items (id, incident_id, status, description, content_type, data_key,
					uploaded_by, created_at, updated_at) VALUES ($1, $2, 'uploading', '', 'application/octet-stream', 'v1:x', 'user:rita', $3, $3)`,
					id, e.inc.ID, at); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO evidence_chunks (item_id, seq, data) VALUES ($1, 0, $2)`, id, []byte("ciphertext"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		leave("stale", start)
		e.clk.Advance(2 * time.Hour)
		leave("fresh", e.clk.Now())
		if _, err := e.ev.VerifyAll(authz.WithActor(ctx, authz.System)); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, `SELECT count(*) FROM evidence_items WHERE id = 'stale'`) + e.count(t,
			`SELECT count(*) FROM evidence_chunks WHERE item_id = 'stale'`); n != 0 {
			t.Fatalf("%d rows of the abandoned upload left", n)
		}
		if n := e.count(t, `SELECT count(*) FROM evidence_chunks WHERE item_id = 'fresh'`); n != 1 {
			t.Fatal("an upload still receiving was removed")
		}
	})
}

// TestProofFiles: a breach case's proof bundle lists its incident's
// evidence with hashes and the chain of custody, and none of the free
// text; an incident without evidence adds no file.
func TestProofFiles(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		c := breach.Case{IncidentID: e.inc.ID, IncidentNumber: e.inc.Number}
		if files, err := e.ev.ProofFiles(officer, c); err != nil || len(files) != 0 {
			t.Fatalf("no evidence: %v %v", files, err)
		}
		it, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "Chart of Jane Canary", FileName: "jane.pdf"},
			strings.NewReader("chart"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Transferred,
			Custodian: "Dr. Canary's lawyer", Reason: "Jane Canary asked"}); err != nil {
			t.Fatal(err)
		}
		files, err := e.ev.ProofFiles(officer, c)
		if err != nil || len(files) != 1 || files[0].Name != "evidence/items.json" {
			t.Fatalf("files: %v %v", files, err)
		}
		body := string(files[0].Body)
		if !strings.Contains(body, it.SHA256) || !strings.Contains(body, `"transferred"`) || !strings.Contains(body, `"collected"`) {
			t.Fatalf("items.json lacks the hash or the custody: %s", body)
		}
		if strings.Contains(body, "Canary") || strings.Contains(body, "jane.pdf") {
			t.Fatalf("items.json holds free text: %s", body)
		}
	})
}
