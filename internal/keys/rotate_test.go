package keys_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// sealedKeys returns, for every sealed value in every registered column,
// the id of the key that sealed it.
func sealedKeys(t *testing.T, d *db.DB) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	for _, c := range keys.Columns() {
		rows, err := d.R.Query("SELECT " + c.RowID + ", " + c.Name + " FROM " + c.Table + " WHERE " + c.Name + " <> ''")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, v string
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			k, ok := keys.KeyIDOf(v)
			if !ok {
				t.Fatalf("%s row %s is not sealed: %q", c, id, v)
			}
			out[c.String()+"/"+id] = k
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func countUnder(m map[string]uint32, key uint32) int {
	n := 0
	for _, k := range m {
		if k == key {
			n++
		}
	}
	return n
}

func auditCount(t *testing.T, d *db.DB, action string) int {
	t.Helper()
	var n int
	if err := d.R.QueryRow("SELECT count(*) FROM audit_log WHERE action = $1", action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRotate rotates the keyset under a server that keeps running with the
// keyring it loaded before: the rotation is interrupted after its first
// batch and resumed by running it again; every sealed column ends under
// the new key; the running server reads old and re-encrypted values alike
// and, once it refreshes, seals with the new key.
func TestRotate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindCLI, ID: "t", Name: "t", Role: authz.RoleAdmin})
		running := load(t, d, master(t, 1))
		svc := incident.NewService(d, clock.NewFake(now), running)
		var ids []string
		for i := range 4 {
			inc, err := svc.Create(ctx, incident.CreateInput{Title: "t", Description: fmt.Sprintf("patient %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AddNote(ctx, inc.ID, fmt.Sprintf("called patient %d", i)); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, inc.ID)
		}
		// A TOTP secret, as package user stores it.
		secret, err := running.Seal([]byte("JBSWY3DPEHPK3PXP"), keys.UserTOTPSecret.Table, keys.UserTOTPSecret.Name, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.Exec(`INSERT INTO users (id, username, display_name, email, role, password_hash, disabled, created_at,
			updated_at) VALUES ('u1', 'ann', 'Ann', 'ann@example.org', 'responder', 'x', false, $1, $1)`, now); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.Exec(`INSERT INTO user_totp (user_id, secret, confirmed, last_step, created_at)
			VALUES ('u1', $1, true, 0, $2)`, secret, now); err != nil {
			t.Fatal(err)
		}
		old := running.PrimaryKeyID()
		before := sealedKeys(t, d)
		// 4 titles, 4 descriptions, 4 notes, a TOTP secret and the search
		// keys of titles and of alerts' lookup hashes.
		if len(before) != 4+4+4+1+2 || countUnder(before, old) != len(before) {
			t.Fatalf("before: %v", before)
		}

		// The rotation, interrupted after its first batch.
		cli := load(t, d, master(t, 1))
		stop, cancel := context.WithCancel(ctx)
		batches := 0
		_, err = cli.Rotate(stop, keys.RotateOptions{Now: clock.NewFake(now).Now, BatchSize: 2, Progress: func(keys.Progress) {
			if batches++; batches == 1 {
				cancel()
			}
		}})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted rotation: %v", err)
		}
		newKey := cli.PrimaryKeyID()
		mid := sealedKeys(t, d)
		if newKey == old || countUnder(mid, newKey) != 2 || countUnder(mid, old) != len(mid)-2 {
			t.Fatalf("after one batch of 2: %v (old %d, new %d)", mid, old, newKey)
		}
		// The running server still reads everything, re-encrypted or not.
		for i, id := range ids {
			inc, err := svc.Get(ctx, id)
			if err != nil || inc.Description != fmt.Sprintf("patient %d", i) {
				t.Fatalf("read during rotation: %+v %v", inc, err)
			}
		}

		// Running it again resumes the same rotation and finishes it.
		var started keys.Rotation
		res, err := load(t, d, master(t, 1)).Rotate(ctx, keys.RotateOptions{Now: clock.NewFake(now).Now, BatchSize: 2,
			Started: func(r keys.Rotation) { started = r }})
		if err != nil {
			t.Fatal(err)
		}
		if !started.Resumed || res.KeyID != newKey {
			t.Fatalf("resume: %+v, result %+v", started, res)
		}
		after := sealedKeys(t, d)
		if countUnder(after, newKey) != len(before) {
			t.Fatalf("after: %v (new %d)", after, newKey)
		}
		var total int64
		for _, n := range res.Reencrypted {
			total += n
		}
		if total != int64(len(before)-2) || res.Reencrypted["user_totp.secret"] != 1 {
			t.Fatalf("resumed run re-encrypted %v, want the %d values the first batch left", res.Reencrypted, len(before)-2)
		}
		for i, id := range ids {
			tl, err := svc.Timeline(ctx, id, incident.EventNote, 0, 0)
			if err != nil || tl[0].Note != fmt.Sprintf("called patient %d", i) {
				t.Fatalf("note after rotation: %+v %v", tl, err)
			}
		}
		if err := d.R.QueryRow("SELECT secret FROM user_totp WHERE user_id = 'u1'").Scan(&secret); err != nil {
			t.Fatal(err)
		}
		if got, err := running.Open(secret, "user_totp", "secret", "u1"); err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("totp secret after rotation: %q %v", got, err)
		}

		// The running server adopts the new primary key when it refreshes.
		if err := running.Refresh(ctx); err != nil || running.PrimaryKeyID() != newKey {
			t.Fatalf("refresh: %d %v", running.PrimaryKeyID(), err)
		}
		if auditCount(t, d, "keys.rotation_started") != 1 || auditCount(t, d, "keys.rotation_finished") != 1 {
			t.Fatal("want one rotation_started and one rotation_finished audit entry")
		}

		// A rotation after a finished one adds another key.
		res, err = load(t, d, master(t, 1)).Rotate(ctx, keys.RotateOptions{Now: clock.NewFake(now).Now})
		if err != nil || res.Resumed || res.KeyID == newKey || res.KeyID == old {
			t.Fatalf("second rotation: %+v %v", res, err)
		}
		if v, err := audit.Verify(ctx, d.R); err != nil || !v.OK {
			t.Fatalf("audit chain: %+v %v", v, err)
		}
	})
}
