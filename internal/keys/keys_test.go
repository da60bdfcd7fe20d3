package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

var now = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func master(t *testing.T, b byte) keys.MasterKey {
	t.Helper()
	m, err := keys.LocalMasterKey(bytes.Repeat([]byte{b}, keys.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func load(t *testing.T, d *db.DB, m keys.MasterKey) *keys.Keyring {
	t.Helper()
	kr, err := keys.Load(context.Background(), d, m, now)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenAndBinding(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		kr := load(t, d, master(t, 1))
		ct, err := kr.Seal([]byte("Jane Roe MRN 123"), "incidents", "description", "row-1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ct, "Jane") || !strings.HasPrefix(ct, "v1:") {
			t.Fatalf("sealed value %q", ct)
		}
		if id, ok := keys.KeyIDOf(ct); !ok || id != kr.PrimaryKeyID() {
			t.Fatalf("key id %d %v, primary %d", id, ok, kr.PrimaryKeyID())
		}
		// A second Load with the same master key opens the same keyset.
		pt, err := load(t, d, master(t, 1)).Open(ct, "incidents", "description", "row-1")
		if err != nil || string(pt) != "Jane Roe MRN 123" {
			t.Fatalf("open: %q %v", pt, err)
		}
		for _, where := range [][3]string{{"incidents", "description", "row-2"}, {"incidents", "title", "row-1"},
			{"incident_events", "note", "row-1"}} {
			if _, err := kr.Open(ct, where[0], where[1], where[2]); err == nil || !strings.Contains(err.Error(), "does not belong") {
				t.Fatalf("ciphertext moved to %v: %v", where, err)
			}
		}
		raw, _ := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(ct, "v1:"))
		raw[len(raw)-1] ^= 1
		if _, err := kr.Open("v1:"+base64.RawStdEncoding.EncodeToString(raw), "incidents", "description", "row-1"); err == nil {
			t.Fatal("an altered ciphertext opened")
		}
		if _, err := kr.Open("Jane Roe", "incidents", "description", "row-1"); err == nil {
			t.Fatal("plaintext opened as a sealed value")
		}
		if _, err := kr.Seal([]byte("x"), "incidents", "severity", "row-1"); err == nil || !strings.Contains(err.Error(), "keys.Columns") {
			t.Fatalf("sealing a column outside the registry: %v", err)
		}
		if _, err := keys.Load(context.Background(), d, master(t, 2), now); !errors.Is(err, keys.ErrWrongMasterKey) {
			t.Fatalf("wrong master key: %v", err)
		}
		var n int
		if err := d.R.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'keys.keyset_created'").Scan(&n); err != nil || n != 1 {
			t.Fatalf("keyset_created entries: %d %v", n, err)
		}
	})
}

// TestCiphertextCopiedToAnotherRow copies a sealed description and note
// from one incident's rows to another's in the database: reading them back
// fails rather than showing one incident's PHI as another's.
func TestCiphertextCopiedToAnotherRow(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		svc := incident.NewService(d, clock.NewFake(now), load(t, d, master(t, 1)))
		ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindCLI, ID: "t", Name: "t", Role: authz.RoleAdmin})
		var ids []string
		for _, desc := range []string{"patient A", "patient B"} {
			inc, err := svc.Create(ctx, incident.CreateInput{Title: "t", Description: desc})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AddNote(ctx, inc.ID, "note on "+desc); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, inc.ID)
		}
		for _, q := range []string{
			"UPDATE incidents SET description = (SELECT description FROM incidents WHERE id = $1) WHERE id = $2",
			"UPDATE incident_events SET note = (SELECT note FROM incident_events WHERE incident_id = $1 AND kind = 'note') " +
				"WHERE incident_id = $2 AND kind = 'note'",
		} {
			if _, err := d.W.Exec(q, ids[0], ids[1]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Get(ctx, ids[1]); err == nil || !strings.Contains(err.Error(), "does not belong") {
			t.Fatalf("copied description: %v", err)
		}
		if _, err := svc.Timeline(ctx, ids[1], incident.EventNote, 0, 0); err == nil {
			t.Fatal("copied note opened")
		}
		if got, err := svc.Get(ctx, ids[0]); err != nil || got.Description != "patient A" {
			t.Fatalf("the original: %+v %v", got, err)
		}
	})
}

func TestMasterKeySources(t *testing.T) {
	dir := t.TempDir()
	k1, src, err := keys.FindMasterKey(keys.MasterKeySources{DataDir: dir, Generate: true})
	if err != nil || src != keys.FromGenerated || len(k1) != keys.MasterKeySize {
		t.Fatalf("generate: %v %v", src, err)
	}
	if st, err := os.Stat(filepath.Join(dir, keys.MasterKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	k2, src, err := keys.FindMasterKey(keys.MasterKeySources{DataDir: dir})
	if err != nil || src != keys.FromDataDir || !bytes.Equal(k1, k2) || !src.BesideData() {
		t.Fatalf("reload: %v %v", src, err)
	}
	env := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, keys.MasterKeySize))
	if k, src, err := keys.FindMasterKey(keys.MasterKeySources{Env: env, DataDir: dir}); err != nil || src != keys.FromEnv ||
		k[0] != 3 || src.BesideData() {
		t.Fatalf("env: %v %v", src, err)
	}
	file := filepath.Join(t.TempDir(), "elsewhere.key")
	if err := os.WriteFile(file, []byte(env+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, src, err := keys.FindMasterKey(keys.MasterKeySources{File: file, DataDir: dir}); err != nil || src != keys.FromFile || k[0] != 3 {
		t.Fatalf("file: %v %v", src, err)
	}
	if _, _, err := keys.FindMasterKey(keys.MasterKeySources{Env: "not base64!", DataDir: dir}); err == nil ||
		!strings.Contains(err.Error(), "WARD_MASTER_KEY") {
		t.Fatalf("bad env key: %v", err)
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))
	if _, _, err := keys.FindMasterKey(keys.MasterKeySources{Env: short, DataDir: dir}); err == nil {
		t.Fatal("a 16-byte master key was accepted")
	}
	if _, _, err := keys.FindMasterKey(keys.MasterKeySources{File: filepath.Join(dir, "missing"), DataDir: dir, Generate: true}); err == nil {
		t.Fatal("a missing --master-key-file must be an error, not a new key")
	}
	// Once the database holds a keyset, a lost master.key is an error, not a new key.
	empty := t.TempDir()
	if _, _, err := keys.FindMasterKey(keys.MasterKeySources{DataDir: empty}); !errors.Is(err, keys.ErrNoMasterKey) {
		t.Fatalf("no key, no generation: %v", err)
	}
	if _, err := os.Stat(filepath.Join(empty, keys.MasterKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key file was made: %v", err)
	}
}

// TestColumnSealText: SealText and OpenText keep an empty value empty and
// bind a sealed one to its column's table and name and to its row.
func TestColumnSealText(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		kr := load(t, d, master(t, 1))
		if v, err := keys.IncidentTitle.SealText(kr, "", "row-1"); v != "" || err != nil {
			t.Fatalf("sealing nothing: %q %v", v, err)
		}
		if v, err := keys.IncidentTitle.OpenText(kr, "", "row-1"); v != "" || err != nil {
			t.Fatalf("opening nothing: %q %v", v, err)
		}
		ct, err := keys.IncidentTitle.SealText(kr, "Jane Roe MRN 123", "row-1")
		if err != nil || !keys.Sealed(ct) || strings.Contains(ct, "Jane") {
			t.Fatalf("sealed %q %v", ct, err)
		}
		if pt, err := kr.Open(ct, "incidents", "title", "row-1"); err != nil || string(pt) != "Jane Roe MRN 123" {
			t.Fatalf("Keyring.Open of SealText: %q %v", pt, err)
		}
		if pt, err := keys.IncidentTitle.OpenText(kr, ct, "row-1"); err != nil || pt != "Jane Roe MRN 123" {
			t.Fatalf("OpenText: %q %v", pt, err)
		}
		if _, err := keys.IncidentTitle.OpenText(kr, ct, "row-2"); err == nil {
			t.Error("opened with another row")
		}
		if _, err := keys.IncidentDescription.OpenText(kr, ct, "row-1"); err == nil {
			t.Error("opened as another column")
		}
	})
}
